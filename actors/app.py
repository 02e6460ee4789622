"""Application configuration: one YAML or TOML file, validated by pydantic at start-up.

Errors name the field and the file (``config.yaml: venues.aster.symbols: ...``). Secrets are
never values in the file: ``api_key: {env: ASTER_API_KEY}`` or ``{file: /run/secrets/aster}``.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import venues
from actors.config import SecretRef
from actors.coordinator import CoordinatorConfig
from actors.live_broker import LIVE_VENUES, LiveVenueConfig
from actors.topology import LAYOUTS
from market.errors import ConfigError


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


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field("sqlite:///perpwire.sqlite", description="sqlite:///path or postgresql://...")


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field("local", description="'local' starts an embedded Ray; 'auto' or ray://host:port joins one")
    namespace: str = "perpwire"
    spread_streams: bool = Field(True, description="place stream actors with the SPREAD strategy (shards over nodes)")


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ray: RayConfig = Field(default_factory=RayConfig)
    venues: dict[str, VenueConfig]
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    strategy: StrategyConfig | None = None
    store: StoreConfig = Field(default_factory=StoreConfig)
    paper: bool = Field(True, description="paper trading everywhere; false places real orders on the venues with "
                        "trading: true (aster, backpack), which then need api_key and api_secret")
    notional: Decimal | None = None

    @field_validator("venues")
    @classmethod
    def _known(cls, v: dict[str, VenueConfig]) -> dict[str, VenueConfig]:
        for name in v:
            if name not in venues.names() or name not in LAYOUTS:
                raise ValueError(f"unknown venue {name!r}; known: {', '.join(venues.names())}")
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
                if name not in LIVE_VENUES:
                    raise ValueError(f"venues.{name}.trading: live order placement is implemented for "
                                     f"{', '.join(LIVE_VENUES)} only (paper: false)")
                for field in ("api_key", "api_secret"):
                    if getattr(vc, field) is None:
                        raise ValueError(f"venues.{name}.{field}: required for live trading (paper: false, "
                                         "trading: true)")
                live[name] = LiveVenueConfig(api_key=vc.api_key, api_secret=vc.api_secret)
        self.coordinator.live_venues = live  # derived: the paper switch is the only way to go live
        for name, vc in self.venues.items():
            if vc.user_data and not (vc.api_key or vc.api_secret or vc.auth_token):
                raise ValueError(f"venues.{name}.user_data: needs credentials (api_key/api_secret, or auth_token)")
        return self

    def streams_user_data(self, venue: str) -> bool:
        """Whether ``venue`` gets its account (user-data) connection."""
        vc = self.venues[venue]
        return vc.user_data if vc.user_data is not None else vc.trading and not self.paper


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
