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
    from perpwire.actors.coordination.backfill import backfill_history

    await backfill_history(runtime, cfg, days=1, budget_scale=20.0)  # the chart's day of settled rates
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
    kinds = await js(browser, "return [...document.querySelectorAll('#events li')].map(li => li.dataset.kind);")
    assert kinds[0] == "restart" and "open" in kinds  # the events from before the restart are kept, marked
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "reconnected.png"))
    async with aiohttp.ClientSession() as http, http.get(runtime.dashboard_url + "metrics") as r:
        text = await r.text()
    assert 'perpwire_stream_up{venue="aster",stream="depth"} 1' in text
    assert json.dumps(await js(browser, "return document.getElementById('conn').textContent")) == '"live"'


async def test_dashboard_funding_table_draws_2000_rows_capped_sorts_filters_and_charts_a_pair(deployment, browser):
    await until(lambda: _live(browser), 10, "the live page")
    # one synchronous script: 2,000 rows in, drawn, sorted and filtered before the server's next update
    result = await js(browser, """
        const rows = [];
        for (let i = 0; i < 2000; i++) rows.push({asset: "A" + i, long_venue: "aster", long_symbol: "A" + i + "USDT",
            short_venue: "lighter", short_symbol: String(i), spread_per_hour: String(i / 1e6),
            net_per_hour: String((i - 1000) / 1e6), annualised: "0.1", long_z: 0.1, short_z: i / 100,
            next_settlement_ms: Date.now() + 3600000});
        const saved = state.panels.funding;
        const t0 = performance.now();
        onMessage({data: JSON.stringify({type: "update", panel: "funding", data: rows})});
        const drawn = performance.now() - t0;
        const count = document.querySelectorAll("#funding tbody tr").length;
        const label = document.getElementById("funding-count").textContent;
        document.querySelector("#funding th[data-key=net_per_hour]").click();  // descending first
        const top = document.querySelector("#funding tbody tr td").textContent;
        const f = document.getElementById("funding-filter");
        f.value = "A1999"; f.dispatchEvent(new Event("input"));
        const filtered = [...document.querySelectorAll("#funding tbody tr")].map(r => r.cells[0].textContent);
        f.value = ""; f.dispatchEvent(new Event("input"));
        onMessage({data: JSON.stringify({type: "update", panel: "funding", data: saved})});  // the real rows back
        return {drawn, count, label, top, filtered};""")
    print(f"2,000 funding rows drawn in {result['drawn']:.1f} ms")
    assert result["count"] == 200 and result["label"] == "showing 200 of 2000"
    assert result["top"] == "A1999" and result["filtered"] == ["A1999"]
    assert result["drawn"] < 500  # the page stays responsive (measured: a few ms)
    # a real row: the chart of both legs over the last day, from the store
    assert await js(browser, "return document.querySelectorAll('#funding tbody tr[data-long]').length") == 2
    await js(browser, "document.querySelector('#funding tbody tr[data-long]').click();")
    title = await until(lambda: js(browser, "const t = document.getElementById('chart-title').textContent;"
                                            "return t.includes('points') || t.startsWith('no history') ? t : null;"),
                        10, "the chart")
    assert "over the last day" in title, title
    points = await js(browser, "return [...document.querySelectorAll('#chart polyline')]"
                               ".map(p => p.getAttribute('points').split(' ').filter(Boolean).length);")
    assert len(points) == 2 and min(points) >= 2, points  # both legs drawn, a day of settled rates each
    await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "funding.png"))
