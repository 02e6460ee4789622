"""How loud the actors are: ``perpwire -v`` sets ``PERPWIRE_LOG_LEVEL`` for the deployment (through
Ray's runtime environment), and every actor applies it to perpwire's loggers when it starts."""

from __future__ import annotations

import logging
import os

LOG_LEVEL_ENV = "PERPWIRE_LOG_LEVEL"


def apply_log_level() -> None:
    """Log perpwire's modules at ``PERPWIRE_LOG_LEVEL`` when the deployment set it (in an actor)."""
    level = os.environ.get(LOG_LEVEL_ENV)
    if level:
        logging.getLogger("perpwire").setLevel(level)
