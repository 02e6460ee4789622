"""Pure decisions: the strategy contract, funding arbitrage, the scanner and the funding desk.

``STRATEGIES`` names every strategy a deployment can run (``perpwire submit NAME``, the config's
``strategy.name``); each class carries its parameter model as ``params_model``, so a config file
or a submit is validated before anything starts.
"""

from __future__ import annotations

from perpwire.strategies.funding_arb import FundingArbitrage

STRATEGIES: dict[str, type] = {"funding_arb": FundingArbitrage}

__all__ = ["STRATEGIES", "FundingArbitrage"]
