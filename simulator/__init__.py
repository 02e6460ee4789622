"""A local multi-venue perpetual-futures exchange that speaks each venue's real protocol.

``Simulator`` (``simulator.server``) serves Aster, Backpack, Lighter, Binance USD-M, Bybit,
Hyperliquid and KuCoin WebSocket and REST APIs on 127.0.0.1 from one seeded market model, counts
every byte it sends, matches signed orders, injects faults and replays recordings;
``run_standalone`` (``python -m simulator``) runs it until interrupted and prints its URLs.
"""

from perpwire.simulator.credentials import ApiKey
from perpwire.simulator.server import Simulator
from perpwire.simulator.standalone import run_standalone

__all__ = ["ApiKey", "Simulator", "run_standalone"]
