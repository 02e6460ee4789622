"""Contract tests over every registered codec.

Any input is decoded or rejected with a documented exception — never another one: every prefix
and every single-byte corruption of every recorded fixture goes through every entry point that
reads venue bytes (``codec.decoders()``). ``decode`` (WebSocket frames) may raise only
``DecodeError``; REST decoders may also raise ``VenueError`` (a readable error body). Large
fixtures are sampled at evenly spaced cut points so the suite stays fast; small ones are cut
everywhere.

Hostile shapes go through the same entry points: nesting 100,000 deep (bare, and in place of a
value inside each fixture's real envelope), numbers no float or int can hold (``1e999999``, a
10,000-digit integer; bare, and at every numeric position of every fixture, as number and as
numeric text), and a value of the wrong JSON type at every key path of every fixture (list
elements are represented by the first and the last one). A ``LazyBookSnapshot`` a decoder
returns is materialised too, as the book would on read.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from perpwire import venues
from perpwire.market.errors import DecodeError, VenueError
from perpwire.market.events import Event, LazyBookSnapshot
from perpwire.venues.base import Codec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_ALL_CUTS_UP_TO = 1500
_SAMPLED_CUTS = 400
_BAD_BYTES = (b'"', b"}", b"\xff")


def _fixture_params():
    for venue in venues.names():
        for path in sorted((FIXTURES / venue).glob("*.json")):
            yield pytest.param(venue, path, id=f"{venue}/{path.name}")


def _cuts(n: int) -> list[int]:
    if n <= _ALL_CUTS_UP_TO:
        return list(range(n))
    step = n / _SAMPLED_CUTS
    edges = list(range(64)) + list(range(n - 64, n))
    return sorted(set(edges) | {int(i * step) for i in range(_SAMPLED_CUTS)})


def _feed(codec: Codec, data: bytes) -> None:
    for name, entry in codec.decoders().items():
        allowed = DecodeError if name == "decode" else (DecodeError, VenueError)
        try:
            out = entry(data)
            if type(out) is list:
                for ev in out:
                    if type(ev) is LazyBookSnapshot:
                        codec.materialize(ev)  # what the book does on read
        except allowed:
            pass
        except Exception as exc:  # the assertion names the entry point and the input
            what = f"{type(exc).__name__}: {str(exc)[:200]!r}"
            raise AssertionError(f"{codec.name}.{name} raised {what} on {data[:120]!r}") from None


@pytest.mark.parametrize("name", venues.names())
def test_registry_builds_codec_with_its_name(name):
    codec = venues.codec(name)
    assert isinstance(codec, Codec)
    assert codec.name == name
    assert {"decode", "decode_snapshot", "decode_funding"} <= set(codec.decoders())


def test_registry_unknown_venue_names_known_ones():
    with pytest.raises(KeyError, match="aster"):
        venues.codec("nope")


@pytest.mark.parametrize(("venue", "path"), list(_fixture_params()))
def test_fixture_every_prefix_and_corruption_decodes_or_raises_decode_error(venue, path):
    data = path.read_bytes()
    codec = venues.codec(venue)
    for cut in _cuts(len(data)):
        _feed(codec, data[:cut])
        for bad in _BAD_BYTES:
            _feed(codec, data[:cut] + bad + data[cut + 1 :])


@pytest.mark.parametrize(("venue", "path"), list(_fixture_params()))
def test_fixture_decode_returns_events_or_raises_decode_error(venue, path):
    codec = venues.codec(venue)
    try:
        out = codec.decode(path.read_bytes())
    except DecodeError:
        return
    assert isinstance(out, list)
    assert all(isinstance(e, Event) for e in out)


@pytest.mark.parametrize("name", venues.names())
@pytest.mark.parametrize("junk", [b"", b"null", b"[]", b"{}", b"42", b'"x"', b"\x00\x01", "{\u00e9}".encode()])
def test_decode_junk_raises_decode_error_or_returns_nothing(name, junk):
    codec = venues.codec(name)
    try:
        out = codec.decode(junk)
    except DecodeError as exc:
        assert exc.venue == name
        return
    assert out == []


# --- hostile shapes ---------------------------------------------------------------------------

_DEPTH = 100_000
_DEEP = (b"[" * _DEPTH, b'{"a":' * _DEPTH)
_HUGE = (b"1e999999", b"-1e999999", b"9" * 10_000)
_WRONG = (b"null", b"true", b"0", b"-1", b"1.5", b'""', b'"x"', b"[]", b"{}")
_WRONG_PER_PATH = 9  # every wrong type at every path
_DEEP_POSITIONS = 10_000  # positions per fixture that get a 100,000-deep value
_SEED = 20251203


class _Number(str):
    """A JSON number kept as the exact text it was written with."""


def _spans(path: Path) -> tuple[bytes, list[tuple[tuple, int, int, object]]]:
    """The fixture re-written compactly (the venues' own style) and, for every value, its key path,
    byte span and decoded value; list elements are represented by their first and last item."""
    doc = json.loads(path.read_bytes(), parse_float=_Number, parse_int=_Number)
    out: list[bytes] = []
    size = 0
    spans: list[tuple[tuple, int, int, object]] = []

    def emit(piece: bytes) -> None:
        nonlocal size
        out.append(piece)
        size += len(piece)

    def walk(value: object, key: tuple, keep: bool) -> None:
        start = size
        if isinstance(value, dict):
            emit(b"{")
            for i, (k, v) in enumerate(value.items()):
                emit((b"," if i else b"") + json.dumps(k, ensure_ascii=False).encode() + b":")
                walk(v, (*key, k), keep)
            emit(b"}")
        elif isinstance(value, list):
            emit(b"[")
            last = len(value) - 1
            for i, v in enumerate(value):
                emit(b"," if i else b"")
                walk(v, (*key, i), keep and i in (0, last))
            emit(b"]")
        elif isinstance(value, _Number):
            emit(value.encode())
        else:
            emit(json.dumps(value, ensure_ascii=False).encode())
        if keep and key:
            spans.append((key, start, size, value))

    walk(doc, (), True)
    return b"".join(out), spans


def _hostile_params():
    for venue in venues.names():
        for path in sorted((FIXTURES / venue).glob("*.json")):
            try:
                json.loads(path.read_bytes())
            except ValueError:
                continue  # a fixture that is not JSON (a doc example with a typo) has no key paths
            yield pytest.param(venue, path, id=f"{venue}/{path.name}")


def _is_numeric(value: object) -> bool:
    if isinstance(value, _Number):
        return True
    if not isinstance(value, str) or not value or len(value) > 40:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", venues.names())
def test_bare_hostile_frames_decode_or_raise_decode_error(name):
    codec = venues.codec(name)
    for data in (*_DEEP, *_HUGE, b"[" * _DEPTH + b"]" * _DEPTH, b'"' + b"9" * 10_000 + b'"'):
        _feed(codec, data)


@pytest.mark.parametrize(("venue", "path"), list(_hostile_params()))
def test_fixture_with_hostile_values_decodes_or_raises_decode_error(venue, path):
    text, spans = _spans(path)
    codec = venues.codec(venue)
    rng = random.Random(f"{_SEED}:{venue}/{path.name}")
    _feed(codec, text)  # the compact rewrite itself is a valid frame
    for i, (_key, start, end, value) in enumerate(spans):
        head, tail = text[:start], text[end:]
        # wrong JSON types here; the rotating first pick spreads all nine over the paths
        first = i % len(_WRONG)
        picks = {_WRONG[first], *rng.sample(_WRONG, _WRONG_PER_PATH - 1)}
        for wrong in picks:
            _feed(codec, head + wrong + tail)
        if _is_numeric(value):
            quote = b'"' if isinstance(value, str) and not isinstance(value, _Number) else b""
            for huge in _HUGE:
                _feed(codec, head + quote + huge + quote + tail)
    positions = rng.sample(range(len(spans)), min(_DEEP_POSITIONS, len(spans)))
    for i in positions:
        _, start, end, _ = spans[i]
        for deep in _DEEP:
            _feed(codec, text[:start] + deep + text[end:])


def test_key_paths_cover_nested_values_and_first_and_last_list_items():
    _, spans = _spans(FIXTURES / "binance" / "depthUpdate.json")
    keys = {key for key, *_ in spans}
    assert ("data", "b") in keys or ("b",) in keys
    bids = next(v for k, _, _, v in spans if k[-1] == "b")
    last = len(bids) - 1
    prefix = next(k for k, *_ in spans if k[-1] == "b")
    assert (*prefix, 0, 0) in keys and (*prefix, last, 1) in keys
    if last > 1:
        assert (*prefix, 1) not in keys  # middle items share the first one's shape
