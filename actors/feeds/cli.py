"""``perpwire stream VENUE SYMBOLS --channels ...``: a venue's items as JSON lines on stdout.

A quick look at a feed: ``perpwire stream binance BTC/USDT:USDT,ETHUSDT --channels trades,bbo --sim``
starts a simulator in this process; ``--sim-url http://127.0.0.1:8700`` reads the URLs of a running
``perpwire sim``; ``--ws-url`` / ``--rest-url`` point anywhere (without any of these: the real
venue). Each line is one item: ``{"channel": ..., "unified": ..., ...the item's fields}``, prices
as exact decimal text. ``--count N`` or ``--duration S`` end it; Ctrl-C (or SIGTERM) ends it
gracefully (queue drained, sockets closed) with exit status 130 (143 for TERM). A refused symbol,
channel or option is one line on stderr and exit status 2; a venue that cannot be reached, 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.request import urlopen

import msgspec

from perpwire.actors.feeds.channels import FeedChannel, FeedError
from perpwire.actors.feeds.manager import StreamManager
from perpwire.market.bars import OHLCVBar
from perpwire.market.book import BookView
from perpwire.market.events import BBO, FundingRate, Liquidation, Trade

_KIND = {Trade: "trades", BBO: "bbo", BookView: "book", FundingRate: "funding", Liquidation: "liquidations",
         OHLCVBar: "bars"}


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("venue")
    p.add_argument("symbols", help="comma-separated, unified (BTC/USDT:USDT) or the venue's own (BTCUSDT)")
    p.add_argument("--channels", default="trades",
                   help=f"comma-separated: {', '.join(c.value for c in FeedChannel)} (default trades)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--sim", action="store_true", help="start a simulator in this process and stream from it")
    where.add_argument("--sim-url", default=None, help="a running `perpwire sim` (http://127.0.0.1:PORT)")
    p.add_argument("--ws-url", default=None, help="the venue's WebSocket base URL")
    p.add_argument("--rest-url", default=None, help="the venue's REST base URL")
    p.add_argument("--book-levels", type=int, default=10, help="levels per book item (default 10)")
    p.add_argument("--bar-seconds", type=float, default=60.0, help="time-bar interval for --channels bars")
    p.add_argument("--backend", choices=("asyncio", "ray"), default="asyncio")
    p.add_argument("--count", type=int, default=None, help="stop after this many items")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    return p


def _sim_urls(base: str, venue: str) -> dict[str, str]:
    with urlopen(f"{base.rstrip('/')}/_control/urls", timeout=5) as resp:
        venues = json.loads(resp.read())["venues"]
    if venue not in venues:
        raise FeedError(f"{venue}: the simulator at {base} does not serve it (it serves {', '.join(venues)})")
    return venues[venue]


def line(item: Any, unified: str | None) -> str:
    body = msgspec.to_builtins(item)
    body.pop("type", None)
    return json.dumps({"channel": _KIND.get(type(item), type(item).__name__), "unified": unified, **body},
                      separators=(",", ":"))


async def stream(args: argparse.Namespace, out: Any = None, simulator: Callable[[], Any] | None = None) -> int:
    """``simulator`` makes the simulator ``--sim`` starts (the app's CLI passes it: only the CLI and
    the demo wiring may import the simulator)."""
    out = out or sys.stdout
    sim = None
    try:
        urls: dict[str, str] = {}
        if args.sim:
            if simulator is None:
                raise FeedError(f"{args.venue}: --sim needs the simulator (run it as `perpwire stream`)")
            sim = await simulator().start()
            if args.venue not in sim.urls:
                raise FeedError(f"{args.venue}: the simulator does not serve it")
            urls = sim.urls[args.venue]
        elif args.sim_url:
            urls = await asyncio.to_thread(_sim_urls, args.sim_url, args.venue)
        if args.ws_url:
            urls["ws"] = args.ws_url
        if args.rest_url:
            urls["rest"] = args.rest_url
        manager = StreamManager()
        options: dict[str, Any] = {"urls": urls or None, "book_levels": args.book_levels,
                                   "bars": {"seconds": args.bar_seconds}}
        if args.backend == "ray":
            options["backend"] = "ray"
        feed = manager.adapter(args.venue, **options)
        await manager.start()
        n = 0
        try:
            await feed.subscribe(args.symbols, args.channels)
            deadline = None if args.duration is None else time.monotonic() + args.duration
            while not manager.stopped or len(manager.queue):
                timeout = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                for item in await manager.queue.get_batch(1000, timeout):
                    out.write(line(item, feed.unified(getattr(item, "symbol", ""))) + "\n")
                    n += 1
                    if args.count is not None and n >= args.count:
                        break
                out.flush()
                if (args.count is not None and n >= args.count) or (deadline and time.monotonic() >= deadline):
                    break
                if manager.queue.closed and not len(manager.queue):
                    break
        finally:
            await manager.stop()
            await manager.wait_stopped()
        stats = manager.queue.stats()
        print(f"perpwire: stream: {n} items from {args.venue}; dropped {sum(stats.dropped.values())}, "
              f"conflated {sum(stats.conflated.values())}", file=sys.stderr)
        if manager.stopped_by == "SIGINT":
            return 130
        if manager.stopped_by == "SIGTERM":
            return 143
        return 0
    finally:
        if sim is not None:
            await sim.stop()


def run(args: argparse.Namespace, simulator: Callable[[], Any] | None = None) -> int:
    try:
        return asyncio.run(stream(args, simulator=simulator))
    except FeedError as exc:
        print(f"perpwire: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `perpwire stream ... | head`
        return 0
    except (OSError, TimeoutError) as exc:
        print(f"perpwire: {args.venue}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
