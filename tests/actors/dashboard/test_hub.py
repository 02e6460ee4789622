"""The hub: a snapshot first, unchanged panels send nothing, changed ones are conflated to their
rate, events are appended, and a client that never reads is dropped with its memory bounded."""

from __future__ import annotations

import json

from perpwire.actors.dashboard.hub import Hub


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _drain(client):
    out = [json.loads(m) for m in client.queue]
    client.queue.clear()
    return out


def test_hub_snapshot_on_connect_then_only_changed_panels():
    clock = Clock()
    hub = Hub(rate=4.0, clock=clock)
    hub.publish({"streams": [{"key": "aster/depth", "state": "paused"}], "savings": {"saved": 1}})
    client = hub.connect()
    [snap] = _drain(client)
    assert snap == {"type": "snapshot", "panels": {"streams": [{"key": "aster/depth", "state": "paused"}],
                                                   "savings": {"saved": 1}}}
    clock.t = 1.0
    hub.publish({"streams": [{"key": "aster/depth", "state": "active"}], "savings": {"saved": 1}})
    assert _drain(client) == [{"type": "update", "panel": "streams",
                               "data": [{"key": "aster/depth", "state": "active"}]}]


def test_hub_conflates_a_burst_to_the_panel_rate_and_sends_the_latest():
    clock = Clock()
    hub = Hub(rate=4.0, rates={"funding": 1.0}, clock=clock)
    client = hub.connect()
    _drain(client)
    hub.publish({"streams": 0, "funding": 0})
    for i in range(1, 10):  # nine collections within 0.09 s
        clock.t += 0.01
        hub.publish({"streams": i, "funding": i})
    sent = _drain(client)
    assert [(m["panel"], m["data"]) for m in sent] == [("streams", 0), ("funding", 0)]
    clock.t = 0.25
    assert hub.flush() is not None  # funding is still due later
    assert [(m["panel"], m["data"]) for m in _drain(client)] == [("streams", 9)]
    clock.t = 1.0
    assert hub.flush() is None
    assert [(m["panel"], m["data"]) for m in _drain(client)] == [("funding", 9)]


def test_hub_events_are_appended_once_and_in_the_snapshot():
    clock = Clock()
    hub = Hub(clock=clock)
    client = hub.connect()
    _drain(client)
    e1 = {"seq": 1, "kind": "pause", "text": "a"}
    e2 = {"seq": 2, "kind": "resume", "text": "b"}
    hub.publish({"events": [e1]})
    clock.t = 0.1  # within the interval after e1 went out: e2 waits for it
    hub.publish({"events": [e1, e2]})
    clock.t = 1.0
    hub.flush()
    msgs = _drain(client)
    assert [m["items"] for m in msgs] == [[e1], [e2]]
    late = hub.connect()
    assert _drain(late)[0]["panels"]["events"] == [e1, e2]


def test_hub_drops_a_client_that_never_reads_and_its_queue_stays_bounded():
    clock = Clock()
    hub = Hub(rate=1000.0, queue=8, clock=clock)
    reader, sleeper = hub.connect(), hub.connect()
    big = "x" * 100_000
    for i in range(200):
        clock.t += 1.0
        hub.publish({"streams": [i, big]})
        assert len(sleeper.queue) <= 8  # never more than its bound, whatever is published
        reader.queue.clear()  # this one keeps up
    assert sleeper.dropped and not sleeper.queue and sleeper not in hub.clients
    assert reader in hub.clients and not reader.dropped and hub.dropped == 1


async def test_hub_client_next_ends_with_none_once_dropped():
    hub = Hub(queue=1)
    client = hub.connect()
    assert json.loads(await client.next())["type"] == "snapshot"
    client.drop()
    assert await client.next() is None
