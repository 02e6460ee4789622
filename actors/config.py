"""Validated configuration of connections (and, later, of the whole deployment).

pydantic models, checked at start-up: a bad value fails with a message naming the field.
Secrets are never values here — only the names of environment variables or files holding them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import venues
from market.errors import ConfigError
from venues.base import MARKET_DATA_CHANNELS, Channel, Subscription

# How quiet a channel may be before the watchdog acts when the venue declares no cadence for it
# (with a cadence the bound is a few cadences: see ``StreamConnection.stale_after_s``).
DEFAULT_STALE_AFTER_S: dict[Channel, float] = {
    Channel.BOOK: 5.0,  # snapshot streams tick every 100 ms–1 s
    Channel.DEPTH: 30.0,  # diff depth sends only changes: a quiet market is not a dead stream
    Channel.BBO: 60.0,  # on change only
    Channel.FUNDING: 15.0,  # 1–3 s cadence
    Channel.FUNDING_ALL: 15.0,
    Channel.TRADES: 300.0,
    Channel.LIQUIDATIONS: 0.0,  # may be silent for hours: never judged stale
    Channel.ACCOUNT: 0.0,  # silent until we trade: the heartbeat proves the socket
}


class SecretRef(BaseModel):
    """Where a secret lives: an environment variable or a file. The value is read on use."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def read(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"secret: environment variable {self.env} is not set")
            return value
        try:
            return self.file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"secret: cannot read file {self.file}: {exc.strerror}") from None

    def __repr__(self) -> str:  # never show more than where the secret is
        return f"SecretRef(env={self.env!r})" if self.env else f"SecretRef(file={str(self.file)!r})"


class SubscriptionConfig(BaseModel):
    """A wanted stream as configured: ``{channel: depth, symbol: BTCUSDT}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    channel: Channel
    symbol: str | None = None

    def to_subscription(self) -> Subscription:
        return Subscription(self.channel, self.symbol)


class StreamConfig(BaseModel):
    """One WebSocket connection: which venue, which route, which subscriptions, how to behave."""

    model_config = ConfigDict(extra="forbid")

    venue: str
    name: str = Field(description="connection name, unique per venue: 'depth', 'bbo', 'user', 'funding', ...")
    route: str = "market"
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    pausable: bool = False
    codec_options: dict = Field(default_factory=dict)
    stale_after_s: dict[Channel, float] = Field(default_factory=dict)
    silence_reconnect_s: float | None = Field(None, gt=0, description="no frame at all for this long: reconnect "
                                              "(default: twice the shortest stale bound of what is wanted)")
    max_frame_bytes: int | None = Field(None, gt=0, description="largest frame accepted (default: the venue's cap)")
    rotate_after_s: float | None = Field(None, gt=0, description="default: the venue's limit minus 10 minutes")
    backoff_base_s: float = Field(0.5, gt=0)
    backoff_cap_s: float = Field(30.0, gt=0)
    resume_timeout_s: float = Field(5.0, gt=0)
    fresh_age_ms: int = Field(2_000, gt=0, description="a resumed book must be at most this old")
    snapshot_limit: int = Field(100, gt=0, description="REST snapshot depth; deeper levels fill in from deltas")
    rest_rate_per_s: float = Field(20.0, gt=0, description="REST budget in venue weight units per second "
                                   "(half of Aster/Binance's 2400/min)")
    rest_burst: float = Field(100.0, gt=0, description="REST weight that may be spent at once")
    push_interval_s: float = Field(0.25, gt=0, description="conflated funding pushes at most this often")
    cooldown_s: float = Field(0.0, ge=0, description="keep market data on this long after the last resume")
    start_paused: bool = Field(False, description="a pausable stream begins with its market data paused "
                               "(the first resume subscribes it)")
    api_key: SecretRef | None = None
    api_secret: SecretRef | None = None
    auth_token: SecretRef | None = Field(None, description="Lighter: a ready auth token, re-read at every renewal")

    @field_validator("venue")
    @classmethod
    def _known_venue(cls, v: str) -> str:
        if v not in venues.names():
            raise ValueError(f"unknown venue {v!r}; known: {', '.join(venues.names())}")
        return v

    @model_validator(mode="after")
    def _pausable_needs_market_data(self):
        if self.pausable and not any(s.channel in MARKET_DATA_CHANNELS for s in self.subscriptions):
            raise ValueError("pausable stream has no market-data subscription to pause")
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must be >= backoff_base_s")
        return self

    def wanted(self) -> list[Subscription]:
        return [s.to_subscription() for s in self.subscriptions]
