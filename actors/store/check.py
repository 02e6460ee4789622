"""Is the configured store usable? Checked before any actor starts, so a wrong URL fails in
seconds with one line instead of a remote traceback from the coordinator a minute later.

``check_store(url, timeout_s)`` returns quietly or raises ``StoreUnavailable`` whose message
names the URL with its password hidden (``postgresql://user:***@host:port/db``) and the cause.
PostgreSQL: one connection and ``SELECT 1`` within the timeout. SQLite: the file's directory
exists and is writable, and an existing file is a writable SQLite database. The caller prints
the message and exits (the CLI with status 2).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from pathlib import Path

_PASSWORD_IN_NETLOC = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/]*):[^@/]*@")
_PASSWORD_IN_QUERY = re.compile(r"(?i)([?&]password=)[^&]*")


class StoreUnavailable(Exception):
    """The store cannot be used: the message is one line naming the (masked) URL and the cause."""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``: safe for logs and messages."""
    url = _PASSWORD_IN_NETLOC.sub(r"\g<scheme>\g<user>:***@", url)
    return _PASSWORD_IN_QUERY.sub(r"\1***", url)


async def check_store(url: str | None, timeout_s: float = 5.0) -> None:
    """Raise ``StoreUnavailable`` unless the store at ``url`` answers within ``timeout_s``."""
    if url is None:
        return
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreUnavailable(f"store {mask_url(url)}: the URL needs a scheme (sqlite:///path or postgresql://...)")
    if scheme == "sqlite":
        _check_sqlite(url, rest[1:] if rest.startswith("/") else rest)
    elif scheme in ("postgres", "postgresql"):
        await _check_postgres(url, timeout_s)
    else:
        raise StoreUnavailable(f"store {mask_url(url)}: unsupported scheme {scheme!r} (sqlite or postgresql)")


def _check_sqlite(url: str, path: str) -> None:
    if path in ("", ":memory:"):
        return
    file = Path(path)
    folder = file.parent if str(file.parent) else Path(".")
    if not folder.is_dir():
        raise StoreUnavailable(f"store {url}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreUnavailable(f"store {url}: directory {folder} is not writable")
    if not file.exists():
        return
    if not os.access(file, os.R_OK | os.W_OK):
        raise StoreUnavailable(f"store {url}: {file} is not readable and writable")
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=rw", uri=True, timeout=1.0)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"store {url}: {file}: {exc}") from None


async def _check_postgres(url: str, timeout_s: float) -> None:
    import asyncpg

    shown = mask_url(url)
    try:
        conn = await asyncio.wait_for(asyncpg.connect(url, timeout=timeout_s), timeout_s + 1.0)
    except TimeoutError:
        raise StoreUnavailable(f"store {shown}: no answer within {timeout_s:g} s") from None
    except Exception as exc:
        raise StoreUnavailable(f"store {shown}: {_cause(exc, url)}") from None
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout_s)
    except Exception as exc:
        raise StoreUnavailable(f"store {shown}: {_cause(exc, url)}") from None
    finally:
        await conn.close(timeout=timeout_s)


def _cause(exc: BaseException, url: str) -> str:
    """The exception as one line, with nothing of the URL's password in it."""
    text = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__).splitlines()[0]
    m = re.match(r"^[^:]+://[^:@/]*:(?P<pw>[^@/]+)@", url)
    if m and m.group("pw"):
        text = text.replace(m.group("pw"), "***")
    return text
