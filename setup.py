"""Builds the optional compiled inner loop of the order book (market/_sidec.c).

Everything else is in pyproject.toml. Without a C compiler the build skips the extension
(``optional=True``) and ``market.book`` runs the same loop in Python.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("market._sidec", ["market/_sidec.c"], optional=True)])
