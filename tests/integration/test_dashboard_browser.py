"""The dashboard in a real browser (Debian's headless Chromium driven by Selenium) against a real
deployment on the simulator and the shared local Ray: the page loads with no console errors, a
pause and a resume show in the streams panel within 2 s, an opened paper position appears with
both legs, and the page's WebSocket reconnects by itself after the dashboard actor is restarted.
Screenshots go to ``artifacts/dashboard/`` (ignored by git).

Selenium's calls block, and the simulator runs on this test's event loop: every browser call goes
through a thread so the market keeps moving while the test waits on the page.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import ray

from perpwire.actors.app.config import parse_config
from perpwire.actors.app.deployment import free_ports
from perpwire.actors.app.runtime import Runtime
from perpwire.simulator.catalog import instruments
from perpwire.simulator.server import Simulator
from perpwire.strategies.base import Leg, Open

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "dashboard"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
VENUES = ("aster", "lighter")


def _symbols(venue):
    return [str(i.market_id) if venue == "lighter" else i.symbol for i in instruments(venue)][:2]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployment(ray_local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    sim = Simulator(seed=11, speed=30.0, venues=VENUES, history_days=1)
    await sim.start()
    [port] = free_ports(1)  # fixed, so the restarted actor listens where the page reconnects
    cfg = parse_config({
        "ray": {"address": "local", "spread_streams": False},
        "venues": {v: {"symbols": _symbols(v), "codec_options": {"ws_url": sim.urls[v]["ws"],
                                                                  "rest_url": sim.urls[v]["rest"]}} for v in VENUES},
        "coordinator": {"tradable_venues": list(VENUES), "decision_interval_s": 3600,
                        "markets": {"lighter": {str(i.market_id): i.asset for i in instruments("lighter")}}},
        "store": {"url": f"sqlite:///{tmp / 'f.sqlite'}"},
        "dashboard": {"port": port},
    }, "test")
    runtime = Runtime(cfg)
    await runtime.start()
    try:
        assert runtime.dashboard_url == f"http://127.0.0.1:{port}/", runtime.dashboard_error
        yield sim, runtime
    finally:
        await runtime.stop()
        await sim.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


async def js(driver, script: str, *args):
    return await asyncio.to_thread(driver.execute_script, script, *args)


async def until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s")
        await asyncio.sleep(0.05)


async def _row_state(driver, key: str):
    return await js(driver, "const r = document.querySelector(`#streams tr[data-key='${arguments[0]}']`);"
                            "return r ? r.dataset.state : null;", key)


async def _live(driver):
    return await js(driver, "return document.getElementById('conn').dataset.state === 'live' "
                            "&& document.querySelectorAll('#streams tbody tr').length > 0;")


async def test_dashboard_page_loads_with_every_stream_and_no_console_errors(deployment, browser):
    _, runtime = deployment
    await asyncio.to_thread(browser.get, runtime.dashboard_url)
    await until(lambda: _live(browser), 10, "the live page with its streams")
    keys = await js(browser, "return [...document.querySelectorAll('#streams tbody tr')].map(r => r.dataset.key);")
    assert sorted(keys) == sorted(f"{v}/{n}" for v, hs in runtime.streams.items() for n in hs)
    await asyncio.sleep(1.5)  # a few updates of every panel
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "loaded.png"))
    logs = await asyncio.to_thread(browser.get_log, "browser")
    assert [e for e in logs if e["level"] in ("SEVERE", "WARNING")] == []
    assert await js(browser, "return window.perpwireStats.snapshot") == 1


async def test_dashboard_shows_a_resume_and_a_pause_within_two_seconds(deployment, browser):
    _, runtime = deployment
    depth = runtime.streams["aster"]["depth"]
    await until(lambda: _live(browser), 10, "the live page")
    await until(lambda: _state_is(browser, "aster/depth", "paused"), 5, "aster/depth paused (streams start paused)")
    await depth.resume.remote("BTCUSDT")
    resumed = time.monotonic()
    await until(lambda: _state_is(browser, "aster/depth", "active"), 2.0, "the resume in the streams panel")
    shown = time.monotonic() - resumed
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "resumed.png"))
    await depth.pause.remote()
    paused = time.monotonic()
    await until(lambda: _state_is(browser, "aster/depth", "paused"), 2.0, "the pause in the streams panel")
    print(f"resume shown after {shown:.2f} s, pause after {time.monotonic() - paused:.2f} s")
    kinds = await js(browser, "return [...document.querySelectorAll('#events li')].map(li => li.dataset.kind);")
    assert "resume" in kinds and "pause" in kinds


async def _state_is(driver, key, state):
    return await _row_state(driver, key) == state


async def test_dashboard_shows_an_opened_paper_position_with_its_legs(deployment, browser):
    _, runtime = deployment
    coord = runtime.coordinator
    await until(lambda: coord.reconciled.remote(), 30, "the coordinator reconciled")
    report = await coord.execute.remote(Open(asset="BTC", long=Leg(venue="aster", symbol="BTCUSDT"),
                                             short=Leg(venue="lighter", symbol="1"), notional=Decimal("1000"),
                                             leverage=2, reason="dashboard test"))
    assert report and report["ok"], report
    [pos] = [p for p in await coord.positions.remote() if p["open"]]

    async def legs():
        return await js(browser, "return [...document.querySelectorAll("
                                 "`#positions tr[data-position='${arguments[0]}']`)]"
                                 ".map(r => [r.dataset.leg, r.cells[3].textContent, r.cells[4].textContent]);",
                        pos["id"])

    rows = await until(legs, 5, "the position's two legs")
    assert rows == [["long", "aster:BTCUSDT", pos["legs"][0]["qty"]], ["short", "lighter:1", pos["legs"][1]["qty"]]]
    await until(lambda: js(browser, "return [...document.querySelectorAll('#events li')]"
                                    ".some(li => li.dataset.kind === 'open');"), 3, "the open in the event log")
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "position.png"))


async def test_dashboard_page_reconnects_after_the_server_restarts(deployment, browser):
    _, runtime = deployment
    await until(lambda: _live(browser), 10, "the live page")
    opens = await js(browser, "return window.perpwireStats.opens")
    snapshots = await js(browser, "return window.perpwireStats.snapshot")
    ray.kill(runtime.dashboard, no_restart=False)  # Ray restarts it: it serves again on the same port
    await until(lambda: js(browser, "return window.perpwireStats.opens > arguments[0]", opens), 30,
                "the page's WebSocket open again")
    await until(lambda: js(browser, "return window.perpwireStats.snapshot > arguments[0]", snapshots), 5,
                "a new snapshot")
    await until(lambda: _live(browser), 5, "the live page after the restart")
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "reconnected.png"))
    async with aiohttp.ClientSession() as http, http.get(runtime.dashboard_url + "metrics") as r:
        text = await r.text()
    assert 'perpwire_stream_up{venue="aster",stream="depth"} 1' in text
    assert json.dumps(await js(browser, "return document.getElementById('conn').textContent")) == '"live"'
