"""``perpwire stream``: JSON lines from a venue, one-line refusals, a graceful Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

CLI = [sys.executable, "-m", "perpwire.actors.app.cli", "stream"]


def test_stream_prints_json_lines_from_the_simulator():
    done = subprocess.run([*CLI, "lighter", "BTC/USDC:USDC,0", "--channels", "trades,bbo,book", "--sim",
                           "--count", "30", "--book-levels", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert len(lines) == 30
    assert {x["channel"] for x in lines} <= {"trades", "bbo", "book"} and {x["venue"] for x in lines} == {"lighter"}
    assert {x["unified"] for x in lines} <= {"BTC/USDC:USDC", "ETH/USDC:USDC"}
    for x in lines:
        if x["channel"] == "book":
            assert len(x["bids"]) <= 3 and float(x["bids"][0][0]) < float(x["asks"][0][0])
        if x["channel"] == "trades":
            assert isinstance(x["price"], str) and float(x["price"]) > 0  # exact decimal text
    assert done.stderr.strip().splitlines()[-1].startswith("perpwire: stream: 30 items from lighter")


def test_a_bad_channel_or_symbol_is_one_line_and_exit_2():
    done = subprocess.run([*CLI, "bybit", "BTCUSDT", "--channels", "trades,candles", "--sim"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("perpwire: bybit: unknown channel 'candles'; channels: trades, book, bbo, "
                                   "funding, liquidations, bars")
    done = subprocess.run([*CLI, "bybit", "BTC/EUR:EUR", "--sim"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("perpwire: bybit: unknown symbol 'BTC/EUR:EUR'")


def test_ctrl_c_ends_the_stream_gracefully_with_130():
    proc = subprocess.Popen([*CLI, "binance", "BTCUSDT", "--channels", "trades,bbo", "--sim"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # the feed is running
        assert json.loads(first)["venue"] == "binance"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "perpwire: stream:" in err
    assert all(json.loads(x) for x in out.splitlines())  # every line written whole


async def test_sim_url_reads_the_urls_of_a_running_simulator(live_sim):
    import argparse
    import io

    from perpwire.actors.feeds import cli as feeds_cli

    args = feeds_cli.add_arguments(argparse.ArgumentParser()).parse_args(
        ["backpack", "BTC/USDC:USDC", "--channels", "bbo,trades", "--sim-url", live_sim.base_url, "--count", "5"])
    out = io.StringIO()
    assert await feeds_cli.stream(args, out) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 5 and {x["symbol"] for x in lines} == {"BTC_USDC_PERP"}
