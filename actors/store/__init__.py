"""The store of funding rates and of the position ledger: one writer, SQLite by default,
PostgreSQL when a URL is configured.

``store_from_url(url, **options)`` builds the backend (``None`` or ``sqlite:///path`` →
``SqliteStore``; ``postgresql://…`` → ``PostgresStore``, imported only then so asyncpg is needed
only by those who use it). ``actors.store.actor.StoreActor`` is the Ray wrapper.
"""

from __future__ import annotations

from perpwire.actors.store.base import FundingStore
from perpwire.actors.store.sqlite import SqliteStore

__all__ = ["FundingStore", "SqliteStore", "store_from_url"]


def store_from_url(url: str | None = None, **options) -> FundingStore:
    """A store for ``url`` (not opened yet: ``await store.open()`` or ``async with``)."""
    if url is None:
        return SqliteStore(**options)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("store URL needs a scheme: sqlite:///path or postgresql://host/db")
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them
        return SqliteStore(path=rest[1:] if rest.startswith("/") else rest, **options)
    if scheme in ("postgres", "postgresql"):
        from perpwire.actors.store.postgres import PostgresStore

        return PostgresStore(url, **options)
    raise ValueError(f"unsupported store URL scheme: {scheme!r}")
