"""The application: configuration, the composition root, the CLI, the demo and the terminal view.

``config`` validates everything a deployment is given; ``runtime`` turns an ``AppConfig`` into
running actors on a local or remote Ray; ``deployment`` starts the embedded Ray and records
where a deployment lives; ``cli`` is the ``perpwire`` command; ``demo`` and ``view`` are the
demo's wiring and its live terminal view.
"""
