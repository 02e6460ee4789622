"""Replay: a recorded session (JSON lines of ``{ts, frame}``) is served verbatim, in order."""

from __future__ import annotations

import itertools
import json

import pytest
import websockets

from tests.simulator.helpers import FIXTURES


async def test_replay_serves_recorded_frames_verbatim_then_closes(sim, tmp_path):
    frames = [(FIXTURES / "lighter" / f"order_book_update_seq{i}.json").read_text() for i in range(1, 7)]
    recording = tmp_path / "session.jsonl"
    recording.write_text(
        "".join(json.dumps({"ts": 1785358812058 + 50 * i, "frame": f}) + "\n" for i, f in enumerate(frames))
    )
    url = sim.replay("crv", recording, speed=100.0)
    async with websockets.connect(url) as ws:
        got = [await ws.recv() for _ in frames]
        with pytest.raises(websockets.ConnectionClosedOK):
            await ws.recv()
    assert got == frames
    nonces = [json.loads(g)["order_book"] for g in got]
    assert all(b["begin_nonce"] == a["nonce"] for a, b in itertools.pairwise(nonces))
    assert sim.stats("replay:crv")["venues"]["replay:crv"]["msgs_out"] == 6


async def test_replay_rejects_malformed_recordings(sim):
    with pytest.raises(ValueError, match="line 2"):
        sim.replay("bad", ['{"ts": 1, "frame": "x"}', '{"frame": "no ts"}'])
