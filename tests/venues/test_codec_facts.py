"""What every registered codec declares for the connection, and the read boundary it inherits.

``max_frame_bytes`` becomes the socket's ``max_size`` and ``cadence_s`` the staleness watchdog's
clock, so both must be sane for every venue and every channel named must be one the codec can
subscribe. The ``VenueSpec`` is all the actors know of a venue (connections, shards, REST budget,
default taker fee), so it must be sound and agree with the codec. The read boundary
(``venues.base.read_boundary``) is put on every entry point by ``Codec`` itself: a codec defined
here, which knows nothing of it, keeps the contract.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
import pytest

from perpwire import venues
from perpwire.market.errors import DecodeError, SubscriptionError
from perpwire.market.events import BookSnapshot, Event, FundingRate, LazyBookSnapshot
from perpwire.venues.base import (
    MARKET_DATA_CHANNELS,
    READ_ERRORS,
    Channel,
    Codec,
    Connection,
    SessionKind,
    Subscription,
    VenueSpec,
    is_entry_point,
)

_HOSTILE_EXAMPLES = (b"[" * 100_000, b"9" * 10_000, b"1e999999")
#: options a codec needs before it will name a stream (Hyperliquid checks coins against its meta)
_OPTIONS = {"hyperliquid": {"coins": ["BTC"]}}


def _subscribable(codec: Codec, channel: Channel) -> bool:
    symbol = None if channel is Channel.FUNDING_ALL else codec.example_symbol
    try:
        return bool(codec.topic(Subscription(channel, symbol)))
    except SubscriptionError:
        return False


@pytest.mark.parametrize("name", venues.names())
def test_max_frame_bytes_is_a_sane_cap(name):
    codec = venues.codec(name)
    assert isinstance(codec.max_frame_bytes, int)
    assert 64 * 2**10 <= codec.max_frame_bytes <= 16 * 2**20  # refuses a 17 MB frame, takes a snapshot


@pytest.mark.parametrize("name", venues.names())
def test_cadences_are_positive_and_on_channels_the_codec_subscribes(name):
    codec = venues.codec(name, **_OPTIONS.get(name, {}))
    assert codec.cadence_s == venues.codec(name).cadence_s
    for channel, seconds in codec.cadence_s.items():
        assert isinstance(channel, Channel)
        assert channel not in (Channel.ACCOUNT, Channel.LIQUIDATIONS, Channel.TRADES)  # quiet on purpose
        assert isinstance(seconds, float) and math.isfinite(seconds) and 0 < seconds <= 300
        assert _subscribable(codec, channel), f"{name} declares a cadence for {channel} it cannot subscribe"


def test_every_venue_declares_its_funding_cadence():
    for name in venues.names():
        codec = venues.codec(name)
        if name == "stub" or name == "lighter":  # the test stub; Lighter's is declared by its owner
            continue
        assert Channel.FUNDING in codec.cadence_s or Channel.FUNDING_ALL in codec.cadence_s, name


@pytest.mark.parametrize(("name", "options", "channel", "seconds"), [
    ("binance", {}, Channel.DEPTH, 0.1),
    ("binance", {"depth_speed": None}, Channel.DEPTH, 0.25),  # the venue's default speed
    ("binance", {"funding_speed": None}, Channel.FUNDING_ALL, 3.0),
    ("aster", {}, Channel.BOOK, 0.1),
    ("aster", {}, Channel.FUNDING_ALL, 1.0),  # the codec subscribes !markPrice@arr@1s
    ("bybit", {}, Channel.DEPTH, 0.02),
    ("bybit", {"depth": 1000}, Channel.BOOK, 0.2),
    ("hyperliquid", {}, Channel.BOOK, 5.4),
    ("hyperliquid", {"fast": True}, Channel.BOOK, 0.54),
    ("kucoin", {}, Channel.FUNDING, 60.0),
    ("backpack", {}, Channel.FUNDING, 1.0),
    ("backpack", {"depth_window": "200ms"}, Channel.DEPTH, 0.2),
])
def test_cadence_follows_the_options_the_streams_are_named_with(name, options, channel, seconds):
    assert venues.codec(name, **options).cadence_s[channel] == seconds


@pytest.mark.parametrize(("name", "channel"), [
    ("binance", Channel.BBO),  # bookTicker is real-time
    ("backpack", Channel.DEPTH),  # depth.<sym> sends on change; a quiet book is silent for 30 s
    ("kucoin", Channel.DEPTH),  # level2 increments, one per change
    ("hyperliquid", Channel.BBO),  # only when the BBO changes on a block
])
def test_channels_without_a_regular_cadence_are_absent(name, channel):
    assert channel not in venues.codec(name).cadence_s


def test_streams_whose_stream_name_carries_the_speed_match_it():
    codec = venues.codec("binance")
    depth = codec.topic(Subscription(Channel.DEPTH, "BTCUSDT"))
    arr = codec.topic(Subscription(Channel.FUNDING_ALL))
    assert depth.endswith("@100ms") and codec.cadence_s[Channel.DEPTH] == 0.1
    assert arr == "!markPrice@arr@1s" and codec.cadence_s[Channel.FUNDING_ALL] == 1.0


def test_market_data_channels_are_still_the_pausable_ones():
    assert {Channel.BOOK, Channel.DEPTH} <= MARKET_DATA_CHANNELS


# --- the venue spec ---------------------------------------------------------------------------

#: the venues the repository ships (the registry may hold test stubs as well)
SHIPPED = ("aster", "backpack", "lighter", "binance", "bybit", "hyperliquid", "kucoin")


@pytest.mark.parametrize("name", venues.names())
def test_every_registered_spec_is_sound_and_read_without_building_a_codec(name):
    spec = venues.spec(name)
    assert spec is venues.codec_class(name).spec and isinstance(spec, VenueSpec)
    assert spec.problems() == []
    with pytest.raises(AttributeError):
        spec.taker_fee = Decimal(1)  # frozen: one spec per venue, shared by every process


def test_the_shipped_venues_are_the_registry_without_test_stubs():
    assert set(SHIPPED) <= set(venues.names())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_venue_declares_its_own_spec(name):
    cls = venues.codec_class(name)
    spec = cls.spec
    assert spec is not Codec.spec and spec.connections, f"{name} declares no connections"
    assert spec.taker_fee is not None and Decimal(0) <= spec.taker_fee <= Decimal("0.001")  # at most 10 bp
    assert spec.taker_fee_source and spec.rest.reason  # every figure says where it comes from
    assert any(c.per_symbol or c.whole_venue for c in spec.connections)
    funding = {ch for c in spec.connections for ch in (*c.per_symbol, *c.whole_venue)} & {
        Channel.FUNDING, Channel.FUNDING_ALL}
    assert funding, f"{name} has no funding feed"
    assert spec.funding_per_symbol == (Channel.FUNDING in funding)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_channel_a_spec_names_is_one_its_codec_can_subscribe(name):
    """Market channels subscribe by frame; the account's is opened by its session (listenKey URL,
    signature, token: see the next test) and is left out here."""
    codec = venues.codec(name, **_OPTIONS.get(name, {}))
    for conn in codec.spec.connections:
        for channel in conn.per_symbol:
            assert codec.subscribe([Subscription(channel, codec.example_symbol)]), (name, conn.name, channel)
        for channel in set(conn.whole_venue) - {Channel.ACCOUNT}:
            assert codec.subscribe([Subscription(channel)]), (name, conn.name, channel)


@pytest.mark.parametrize("name", SHIPPED)
def test_shards_stay_within_the_venues_per_connection_cap(name):
    cls = venues.codec_class(name)
    cap = getattr(cls, "max_topics_per_connection", None) or getattr(cls, "max_streams_per_connection", None)
    if cap is not None:
        assert cls.spec.max_symbols_per_connection <= cap


@pytest.mark.parametrize("name", SHIPPED)
def test_account_connections_carry_the_account_channel_and_name_a_session(name):
    cls = venues.codec_class(name)
    for conn in cls.spec.connections:
        assert conn.account == (Channel.ACCOUNT in conn.whole_venue), (name, conn.name)
        channels = frozenset((*conn.per_symbol, *conn.whole_venue))
        kind = cls.session_kind(channels, {}, frozenset({"api_key", "api_secret", "auth_token"}))
        assert isinstance(kind, SessionKind)
        if conn.account:
            assert kind is not SessionKind.PLAIN, f"{name}/{conn.name}: user data needs a bootstrap"


def test_aster_overrides_only_what_differs_from_binance():
    aster, binance = venues.spec("aster"), venues.spec("binance")
    assert aster.rest == binance.rest  # the same 2,400 weight a minute
    assert aster.bbo_connection == "bookticker" and binance.connections != aster.connections
    assert aster.taker_fee != binance.taker_fee


@pytest.mark.parametrize(("fields", "problem"), [
    ({"connections": (Connection(name="a"), Connection(name="a"))}, "connection names repeat"),
    ({"connections": (Connection(name="book", per_symbol=(Channel.DEPTH,)),)}, "book_connection 'depth'"),
    ({"max_symbols_per_connection": 0}, "max_symbols_per_connection"),
    ({"taker_fee": Decimal("1.5")}, "no fraction of notional"),
])
def test_an_inconsistent_spec_is_refused_when_declared(fields, problem):
    with pytest.raises(ValueError, match=problem):
        VenueSpec(**fields)


# --- the read boundary ------------------------------------------------------------------------

class _Naive(Codec):
    """A codec written with no error handling at all."""

    name = "naive"

    def url(self, stream="market", **params):
        return "ws://127.0.0.1:1/"

    def subscribe(self, subs):
        return []

    def unsubscribe(self, subs):
        return []

    def decode(self, frame) -> list[Event]:
        values = msgspec.json.decode(frame)
        return [FundingRate(venue=self.name, symbol="X", rate=0, interval_hours=1, rate_per_hour=0,
                            ts=int(str(values[0])) + values[1] // values[2])]

    def decode_snapshot(self, symbol, body) -> BookSnapshot:
        raise KeyError(body.decode())

    def decode_funding(self, body, now_ms=None):
        return {"a": 1}[body.decode()]

    def decode_other(self, body):
        return float(body) * 10**400  # OverflowError


@pytest.mark.parametrize(("entry", "data", "kind"), [
    ("decode", b"[" * 100_000, "RecursionError"),
    ("decode", b"[1,2,0]", "ZeroDivisionError"),
    ("decode", b"[1]", "IndexError"),
    ("decode", b"[" + b"9" * 5000 + b",1,1]", "ValidationError"),  # msgspec: integer out of range
    ("decode", b'["' + b"9" * 5000 + b'",1,1]', "ValueError"),  # int() of more than 4,300 digits
    ("decode", b"[1e999999,1,1]", "ValidationError"),  # msgspec: number out of range
    ("decode", b'{"a": 1}', "KeyError"),
    ("decode", b'["x",1,1]', "ValueError"),
    ("decode", b"[null,1,1]", "ValueError"),
    ("decode", b'[1,"1",1]', "TypeError"),
    ("decode_snapshot", b"x" * 5000, "KeyError"),
    ("decode_funding", b"b", "KeyError"),
    ("decode_other", b"1e300", "OverflowError"),
])
def test_a_codec_without_error_handling_raises_only_decode_error(entry, data, kind):
    codec = _Naive()
    call = getattr(codec, entry)
    with pytest.raises(DecodeError) as err:
        call("SYM", data) if entry == "decode_snapshot" else call(data)
    assert err.value.venue == "naive"
    assert err.value.reason.startswith(kind)
    assert len(err.value.reason) < 260  # a KeyError holding the whole body is cut short
    assert err.value.head == data[:80].decode()  # the preview is of the venue's bytes, not the symbol
    assert codec.stats.errors == 1


def test_the_boundary_wraps_mixins_and_subclasses_once_and_keeps_names():
    class Sub(_Naive):
        def decode(self, frame):
            return super().decode(frame)

    for cls in (_Naive, Sub):
        for name in dir(cls):
            if is_entry_point(name):
                fn = getattr(cls, name)
                assert getattr(fn, "__read_boundary__", False), f"{cls.__name__}.{name} is not guarded"
                assert not getattr(fn.__wrapped__, "__read_boundary__", False)  # wrapped once per class
                assert fn.__name__ == name
    with pytest.raises(DecodeError):
        Sub().decode(b"[")
    assert not hasattr(_Naive.decoders, "__read_boundary__")  # "decoders" lists, it reads nothing


@pytest.mark.parametrize("name", venues.names())
def test_every_registered_entry_point_is_behind_the_boundary(name):
    codec = venues.codec(name)
    cls = type(codec)
    names = [n for n in dir(cls) if is_entry_point(n)]
    assert "decode" in names
    for n in names:
        assert getattr(getattr(cls, n), "__read_boundary__", False), f"{name}.{n}"
    for key, entry in codec.decoders().items():
        func = getattr(entry, "__func__", None)
        if func is not None:  # a bound method; lambdas call guarded methods
            assert getattr(func, "__read_boundary__", False), f"{name} decoders()[{key!r}]"


@pytest.mark.parametrize("name", venues.names())
def test_lazy_snapshots_of_hostile_bytes_materialize_to_decode_error(name):
    codec = venues.codec(name)
    for data in _HOSTILE_EXAMPLES:
        with pytest.raises(DecodeError):
            codec.materialize(LazyBookSnapshot(venue=name, symbol=codec.example_symbol, payload=data))


def test_read_errors_name_what_hostile_input_raises():
    for kind in (RecursionError, OverflowError, ValueError, KeyError, IndexError, msgspec.ValidationError):
        assert issubclass(kind, READ_ERRORS)
    assert not issubclass(DecodeError, READ_ERRORS)  # ours pass through untouched
