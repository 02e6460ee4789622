"""Packaging: every layer folder at the top of the repository installs under one import root,
``perpwire``, and the optional compiled inner loop of the order book (market/_sidec.c) is built.

The folders stay where they are (``market/``, ``venues/``, ``strategies/``, ``actors/``,
``simulator/``) and ``package_dir`` maps each to ``perpwire.<layer>``, with the explicit list of
packages below, for the wheel and the editable install alike: nothing but ``perpwire`` is ever
importable from an installed perpwire. Without a C compiler the build skips the extension
(``optional=True``) and ``perpwire.market.book`` runs the same loop in Python. Everything else
is in pyproject.toml.
"""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent
LAYERS = ("market", "venues", "strategies", "actors", "simulator")


def packages() -> list[str]:
    found = ["perpwire"]
    for layer in LAYERS:
        for init in sorted((ROOT / layer).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            found.append(".".join(("perpwire", *rel.parts)))
    return found


setup(
    packages=packages(),
    package_dir={"perpwire": "perpwire", **{f"perpwire.{layer}": layer for layer in LAYERS}},
    package_data={"perpwire": ["py.typed"], "perpwire.actors.dashboard": ["static/*"]},  # the page, no build step
    ext_modules=[Extension("perpwire.market._sidec", ["market/_sidec.c"], optional=True)],
)
