"""Contract tests over every registered codec.

Any input is decoded or rejected with a documented exception — never another one: every prefix
and every single-byte corruption of every recorded fixture goes through every entry point that
reads venue bytes (``codec.decoders()``). ``decode`` (WebSocket frames) may raise only
``DecodeError``; REST decoders may also raise ``VenueError`` (a readable error body). Large
fixtures are sampled at evenly spaced cut points so the suite stays fast; small ones are cut
everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import venues
from market.errors import DecodeError, VenueError
from market.events import Event
from venues.base import Codec

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
            entry(data)
        except allowed:
            pass
        except Exception as exc:  # the assertion names the entry point and the input
            raise AssertionError(f"{codec.name}.{name} raised {type(exc).__name__}: {exc!r} on {data[:120]!r}") from exc


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
