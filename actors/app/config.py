"""Every validated configuration of a deployment, in one place: pydantic models checked at start-up.

- ``AppConfig`` is one YAML or TOML file (``load_config``); an error names the file and the field
  (``config.yaml: venues.aster.symbols: ...``), printed as one block by the CLI.
- ``StreamConfig`` is one WebSocket connection (built per venue by ``actors.topology``);
  ``CoordinatorConfig`` the coordinator (with the ``DeploymentWiring`` the runtime adds);
  ``LiveVenueConfig`` what live order placement needs for one venue.

Secrets are never values here: ``api_key: {env: ASTER_API_KEY}`` or ``{file: /run/secrets/aster}``
(a ``SecretRef``), read only when used and never shown. Nothing here imports Ray.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from perpwire import venues
from perpwire.market.errors import ConfigError
from perpwire.venues.base import MARKET_DATA_CHANNELS, Channel, Subscription

# --- connections ----------------------------------------------------------------------------------

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
    pace_control: bool = Field(True, description="pace subscribe/unsubscribe/ping frames within the venue's "
                               "published control-message rate (VenueSpec.limits, at PACING_SHARE)")
    shared_budgets: bool = Field(True, description="in a stream actor: take REST weight, new connections and "
                                 "per-IP control frames from one budget actor per venue and node (egress IP)")
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


# --- trading and coordination ---------------------------------------------------------------------


class LiveVenueConfig(BaseModel):
    """What the live broker needs for one venue. Secrets are references, read when signing."""

    model_config = ConfigDict(extra="forbid")
    api_key: SecretRef
    api_secret: SecretRef
    quote_asset: str | None = Field(None, description="margin asset whose balance is 'available' "
                                    "(default: USDT on Aster, USDC on Backpack)")
    stream_timeout_s: float = Field(2.0, gt=0, description="wait this long for the user stream's final state")



class DeploymentWiring(BaseModel):
    """Everything a coordinator needs to attach itself, by actor name: Ray cannot restore actor
    handles among constructor arguments when it restarts an actor (ray-project/ray#53727)."""

    model_config = ConfigDict(extra="forbid")
    streams: dict[str, dict[str, str]] = Field(default_factory=dict,
                                               description="tradable venue -> connection name -> actor name")
    codec_options: dict[str, dict] = Field(default_factory=dict)
    book_symbols: dict[str, dict[str, str]] = Field(default_factory=dict)
    store: str | None = Field(None, description="name of the store actor")
    strategy: dict[str, Any] | None = Field(None, description="{name, params} started on the very first boot")
    symbols: dict[str, list[str]] = Field(default_factory=dict, description="configured symbols per venue: the "
                                          "only ones ranked (whole-venue feeds deliver every symbol)")


class CoordinatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taker_fees: dict[str, Decimal] = Field(default_factory=dict, validate_default=True, description="venue -> "
                                           "taker fee as a fraction of notional; a venue not named here gets its "
                                           "spec's default (VenueSpec.taker_fee)")
    holding_hours: Decimal = Field(Decimal(24), gt=0)
    decision_interval_s: float = Field(1.0, gt=0)
    paper_balance: Decimal = Field(Decimal(100_000), gt=0)
    tradable_venues: list[str] = Field(default_factory=lambda: ["aster", "backpack", "lighter"])
    stats_refresh_s: float = Field(3600.0, gt=0, description="reload 30-day statistics from the store this often")
    stats_window_days: float = Field(30.0, gt=0)
    gap_check_s: float = Field(5.0, gt=0, description="look for symbols silent beyond their cadence this often")
    health_poll_s: float = Field(1.0, gt=0, description="ask every attached stream actor for its health this "
                                 "often: a restarted one holds new opens on its venue until its books are SYNCED")
    reconcile_s: float = Field(3600.0, gt=0, description="compare streamed funding with REST this often")
    markets: dict[str, dict[str, str]] = Field(default_factory=dict)
    live_venues: dict[str, LiveVenueConfig] = Field(default_factory=dict, description="venues whose orders go "
                                                    "to the venue (LiveBroker); set from AppConfig when paper is false")
    deployment: DeploymentWiring | None = Field(None, description="set by the runtime: the coordinator attaches "
                                                "itself to these actors on every (re)start")

    @field_validator("taker_fees")
    @classmethod
    def _spec_fees_under_explicit(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return {**spec_taker_fees(), **v}

    @model_validator(mode="after")
    def _tradable_venues_have_fees(self):
        for name in self.tradable_venues:
            if name not in self.taker_fees:
                raise ValueError(f"tradable_venues: {no_fee(name)}")
        return self



# --- the application file ------------------------------------------------------------------------


class VenueConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, description="the venue's own instrument names")
    trading: bool = False
    codec_options: dict[str, Any] = Field(default_factory=dict)
    api_key: SecretRef | None = None
    api_secret: SecretRef | None = None
    auth_token: SecretRef | None = Field(None, description="Lighter: a ready account auth token (e.g. read-only "
                                         "'ro:...'), re-read at every renewal")
    user_data: bool | None = Field(None, description="stream the account's orders, fills and positions; default: "
                                   "only when trading live (trading: true and paper: false)")
    stream_overrides: dict[str, Any] = Field(default_factory=dict, description="StreamConfig fields for every stream")


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "funding_arb"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_with_valid_params(self):
        """The strategy exists and its parameters pass its own model, checked here and not when
        the coordinator first starts it."""
        from perpwire.strategies import STRATEGIES

        cls = STRATEGIES.get(self.name)
        if cls is None:
            raise ValueError(f"name: unknown strategy {self.name!r}; known: {', '.join(sorted(STRATEGIES))}")
        model = getattr(cls, "params_model", None)
        if model is not None:
            try:
                model.model_validate(self.params)
            except ValidationError as exc:
                raise ValueError("; ".join(_where("params", e) for e in exc.errors())) from None
        return self


HOME_ENV = "PERPWIRE_HOME"


def perpwire_home() -> Path:
    """Where perpwire keeps its own files: ``$PERPWIRE_HOME``, else ``~/.perpwire``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".perpwire")


def _default_store_url() -> str:
    home = perpwire_home()
    home.mkdir(parents=True, exist_ok=True)  # the default store's folder; a configured one must exist
    return f"sqlite:///{home / 'perpwire.sqlite'}"


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(default_factory=_default_store_url, description="sqlite:///path or postgresql://... "
                     "(default: perpwire.sqlite in $PERPWIRE_HOME, else ~/.perpwire)")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not (v.startswith("sqlite:///") or v.startswith(("postgresql://", "postgres://"))):
            scheme = v.split("://", 1)[0] if "://" in v else v
            raise ValueError(f"unsupported store {scheme!r}: use sqlite:///path or postgresql://user@host/db")
        return v


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field("local", description="'local' starts an embedded Ray; 'auto' or ray://host:port joins one")
    namespace: str = "perpwire"
    spread_streams: bool = Field(True, description="place stream actors with the SPREAD strategy (shards over nodes)")


class PlacementConfig(BaseModel):
    """Where the deployment's actors run (see ``perpwire.actors.placement``)."""

    model_config = ConfigDict(extra="forbid")
    gateway_resource: str | None = Field(None, description="custom resource a stream actor needs (nodes allowed to "
                                         "talk to venues); default: 'perpwire_gateway' if some node declares it, "
                                         "else none; '' for none")
    streams: Literal["spread", "any", "driver"] = Field("spread", description="stream actors: spread over the nodes "
                                                        "with the gateway resource, where Ray chooses, or on the "
                                                        "node of the process that starts the deployment")
    coordinator: Literal["head", "any", "driver"] = Field("head", description="the coordinator's node")
    store: Literal["head", "any", "driver"] = Field("head", description="the store's node (its SQLite file is there)")


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class DashboardConfig(BaseModel):
    """The live web dashboard and its ``/metrics`` (``actors.dashboard``), served by the deployment.

    The access token is never in the file: when the environment variable ``token_env`` is set
    (in the process that starts the deployment), every page, WebSocket and ``/metrics`` request
    must carry it (``Authorization: Bearer ...`` or ``?token=...``). Beyond loopback it is required."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    host: str = Field("127.0.0.1", min_length=1, description="bind address (loopback by default)")
    port: int = Field(8650, ge=0, le=65535, description="0: any free port")
    token_env: str = Field("PERPWIRE_DASHBOARD_TOKEN", min_length=1, description="environment variable holding "
                           "the access token")
    refresh_s: float = Field(0.5, gt=0, description="read the deployment this often (the page and /metrics are "
                             "at most this old)")
    panel_hz: float = Field(4.0, gt=0, le=20, description="at most this many updates per second per panel")
    client_queue: int = Field(64, ge=1, description="updates queued per browser before it is dropped as too slow")
    funding_rows: int = Field(2000, ge=1, description="funding spreads kept for the table")
    symbol_labels: bool = Field(False, description="per-symbol labels on /metrics (book age); off by default "
                                "to keep label cardinality bounded")

    @model_validator(mode="after")
    def _token_beyond_loopback(self):
        if self.enabled and not is_loopback(self.host) and not os.environ.get(self.token_env):
            raise ValueError(f"host: {self.host!r} is beyond loopback, which needs an access token: set the "
                             f"environment variable {self.token_env} (or bind host 127.0.0.1)")
        return self

    def token(self) -> str | None:
        """The access token from the environment, or None when none is set (loopback only)."""
        return os.environ.get(self.token_env) or None


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ray: RayConfig = Field(default_factory=RayConfig)
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    venues: dict[str, VenueConfig]
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    strategy: StrategyConfig | None = None
    store: StoreConfig = Field(default_factory=StoreConfig)
    paper: bool = Field(True, description="paper trading everywhere; false places real orders on the venues with "
                        "trading: true (aster, backpack), which then need api_key and api_secret")
    notional: Decimal | None = None
    backfill_days: float = Field(30.0, ge=0, description="`perpwire run` loads this many days of settled funding "
                                 "history into the store at start-up (0: none), so z-scores exist at once")
    backfill_timeout_s: float = Field(120.0, gt=0, description="the start-up backfill gives up after this long")
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)

    @field_validator("venues")
    @classmethod
    def _known(cls, v: dict[str, VenueConfig]) -> dict[str, VenueConfig]:
        for name in v:
            if name not in venues.names():
                raise ValueError(f"unknown venue {name!r}; known: {', '.join(venues.names())}")
            if not _spec_of(name).connections:
                raise ValueError(f"venue {name!r}: its codec's spec declares no connections (VenueSpec.connections)")
        for name, vc in v.items():  # here, so these errors come in one block with every other field's
            _check_streams(name, vc, user_data=False)
        return v

    @model_validator(mode="after")
    def _live_trading(self):
        """``paper: false`` sends the orders of every ``trading`` venue to the venue: each needs its
        keys (checked here, by field; the secrets themselves are read only when signing)."""
        live: dict[str, LiveVenueConfig] = {}
        if not self.paper:
            for name, vc in self.venues.items():
                if not vc.trading:
                    continue
                if name not in _live_venues():
                    raise ValueError(f"venues.{name}.trading: live order placement is implemented for "
                                     f"{', '.join(_live_venues())} only (paper: false)")
                for field in ("api_key", "api_secret"):
                    if getattr(vc, field) is None:
                        raise ValueError(f"venues.{name}.{field}: required for live trading (paper: false, "
                                         "trading: true)")
                live[name] = LiveVenueConfig(api_key=vc.api_key, api_secret=vc.api_secret)
        self.coordinator.live_venues = live  # derived: the paper switch is the only way to go live
        for name, vc in self.venues.items():
            if vc.user_data and not (vc.api_key or vc.api_secret or vc.auth_token):
                raise ValueError(f"venues.{name}.user_data: needs credentials (api_key/api_secret, or auth_token)")
        for name in self.venues:  # the scanner ranks only venues whose fee it knows: none is left out silently
            if name not in self.coordinator.taker_fees:
                raise ValueError(f"venues.{name}: {no_fee(name)}")
        return self

    def streams_user_data(self, venue: str) -> bool:
        """Whether ``venue`` gets its account (user-data) connection."""
        vc = self.venues[venue]
        return vc.user_data if vc.user_data is not None else vc.trading and not self.paper


def _where(prefix: str, err: dict) -> str:
    loc = ".".join(str(p) for p in (prefix, *err["loc"]))
    return f"{loc}: {err['msg']}"


def _check_streams(name: str, vc: VenueConfig, user_data: bool) -> None:
    """Build the venue's codec and its connections' ``StreamConfig``s now, as the actors will:
    a bad codec option or stream override fails here, naming the field, not inside every actor."""
    from perpwire.actors.topology import streams_for

    try:
        venues.codec(name, **vc.codec_options)
    except TypeError as exc:
        raise ValueError(f"venues.{name}.codec_options: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"venues.{name}.codec_options: {exc}") from None
    unknown = sorted(set(vc.stream_overrides) - set(StreamConfig.model_fields) | (
        set(vc.stream_overrides) & {"venue", "name", "subscriptions", "pausable", "codec_options"}))
    if unknown:
        raise ValueError(f"venues.{name}.stream_overrides: unknown field(s) {', '.join(unknown)}; "
                         "see StreamConfig in perpwire.actors.app.config")
    try:
        streams_for(name, vc.symbols, trading=user_data, codec_options=vc.codec_options,
                    overrides=vc.stream_overrides)
    except ValidationError as exc:
        raise ValueError("; ".join(_where(f"venues.{name}.stream_overrides", e) for e in exc.errors())) from None


def _format(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def parse_config(data: dict, source: str = "<config>") -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(exc, source)) from None


def load_config(path: str | Path) -> AppConfig:
    """Read a ``.yaml``/``.yml`` or ``.toml`` file; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return parse_config(data, str(path))


def spec_taker_fees() -> dict[str, Decimal]:
    """The default taker fee of every registered venue whose spec declares one. A registered codec
    that cannot be loaded in this process gives none: a configuration that uses it fails naming it."""
    fees = {}
    for name in venues.names():
        try:
            fee = venues.spec(name).taker_fee
        except (ImportError, AttributeError):
            continue
        if fee is not None:
            fees[name] = fee
    return fees


def _spec_of(name: str):
    try:
        return venues.spec(name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"venue {name!r}: its codec cannot be loaded ({type(exc).__name__}: {exc})") from None


def no_fee(venue: str) -> str:
    """The error text for a venue with no taker fee anywhere."""
    return (f"venue {venue!r} has no taker fee: its spec declares none (VenueSpec.taker_fee); "
            f"set coordinator.taker_fees.{venue}")


def _live_venues() -> tuple[str, ...]:
    from perpwire.actors.trading.live_broker import LIVE_VENUES  # live_broker reads this module's models

    return LIVE_VENUES
