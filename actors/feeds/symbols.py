"""Symbols in the unified ``BASE/QUOTE:SETTLE`` form (``BTC/USDT:USDT``, as ccxt spells a linear
perpetual) and in each venue's own form, checked against the venue's instrument list.

``SymbolMap`` is built from the venue's ``Instrument``s (its REST instrument list, read by
``load_symbols``). ``resolve`` takes either form and returns the venue's own symbol, the one
every item carries; anything else is ``UnknownSymbol``, one line naming the venue, with the
nearest known spellings. A venue's own form must match exactly (Hyperliquid's names are case
sensitive); the unified form is read case-insensitively. Settlement is the quote asset: every
perpetual perpwire reads is linear.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from perpwire.actors.feeds.channels import FeedError
from perpwire.actors.rest import RestClient
from perpwire.market.errors import PeerError
from perpwire.market.events import Instrument
from perpwire.venues.base import Codec

__all__ = ["SymbolMap", "UnknownSymbol", "load_symbols", "unified_symbol"]

#: base assets a venue spells its own way (KuCoin's XBT is everyone else's BTC)
_ASSET_ALIASES = {"XBT": "BTC"}


class UnknownSymbol(FeedError):
    pass


def unified_symbol(inst: Instrument) -> str:
    base = _ASSET_ALIASES.get(inst.asset.upper(), inst.asset.upper())
    quote = inst.quote.upper()
    return f"{base}/{quote}:{quote}"


class SymbolMap:
    def __init__(self, venue: str, instruments: Iterable[Instrument]) -> None:
        self.venue = venue
        self.instruments: dict[str, Instrument] = {}
        self._unified: dict[str, str] = {}
        self._to_unified: dict[str, str] = {}
        for inst in instruments:
            self.instruments[inst.symbol] = inst
            u = unified_symbol(inst)
            self._unified.setdefault(u, inst.symbol)  # the first listed wins a clash
            self._to_unified[inst.symbol] = u

    def __len__(self) -> int:
        return len(self.instruments)

    def resolve(self, symbol: str) -> str:
        """The venue's own symbol for ``symbol`` given in either form; ``UnknownSymbol`` otherwise."""
        if symbol in self.instruments:
            return symbol
        text = str(symbol).strip().upper()
        if "/" in text:
            if ":" not in text:  # BTC/USDT means the linear perpetual BTC/USDT:USDT here
                text = f"{text}:{text.split('/', 1)[1]}"
            found = self._unified.get(text)
            if found is not None:
                return found
        known = list(self.instruments) + list(self._unified)
        near = difflib.get_close_matches(str(symbol), known, n=3, cutoff=0.5) or sorted(self.instruments)[:3]
        raise UnknownSymbol(f"{self.venue}: unknown symbol {symbol!r}: not among its {len(self.instruments)} "
                            f"instruments (nearest: {', '.join(near)})")

    def resolve_all(self, symbols: str | Iterable[str]) -> list[str]:
        names = symbols.split(",") if isinstance(symbols, str) else list(symbols)
        out = []
        for s in names:
            if str(s).strip():
                v = self.resolve(str(s).strip())
                if v not in out:
                    out.append(v)
        if not out:
            raise UnknownSymbol(f"{self.venue}: no symbol given")
        return out

    def unified(self, venue_symbol: str) -> str:
        """The unified form of one of the venue's symbols."""
        return self._to_unified[venue_symbol]


async def load_symbols(codec: Codec, rest: RestClient) -> SymbolMap:
    """The venue's instrument list over REST (first page), decoded by ``codec`` — which thereby
    learns what it must know before subscribing (Hyperliquid's coins, KuCoin's contract sizes)."""
    try:
        body = await rest.fetch(codec.instruments_request())  # type: ignore[attr-defined]
        instruments = codec.decode_instruments(body)  # type: ignore[attr-defined]
    except AttributeError:
        raise FeedError(f"{codec.name}: the codec reads no instrument list; pass instruments=") from None
    except (OSError, TimeoutError, PeerError) as exc:
        raise FeedError(f"{codec.name}: could not read the instrument list: {type(exc).__name__}: {exc}") from None
    return SymbolMap(codec.name, instruments)
