"""``python -m simulator [--port N] [--seed S] [--speed X] [--venues a,b]``: run it standalone."""

from perpwire.simulator.standalone import run_standalone

if __name__ == "__main__":
    run_standalone()
