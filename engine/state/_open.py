"""`open_store`: a URL or a client object to a store.

``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (``?busy_timeout=10&synchronous=full``) open
SQLite; ``redis://host:6379/0``, ``rediss://...`` (TLS), ``unix:///run/redis.sock`` and ``valkey://`` open
Redis or Valkey through redis-py (``?prefix=NAME`` sets the key prefix, default ``dlr``); a redis-py or valkey
client object is used as given."""

from __future__ import annotations

import math
import os
import re
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ._failures import StoreURLError
from ._redis import RedisStore
from ._sqlite import DEFAULT_BUSY_TIMEOUT, SQLiteStore
from ._store import Store

#: The environment variable the CLI reads when ``--state`` is not given.
ENV_STATE: Final = "DLRPOLICY_STATE"
#: The longest wait for a locked SQLite file a URL may ask for (a day): beyond it a writer has surely died.
MAX_BUSY_TIMEOUT: Final = 86_400.0
SCHEMES: Final = ("sqlite", "redis", "rediss", "unix", "valkey", "valkeys")


def _redact_unsplit(url: str) -> str:
    """A URL urllib cannot split, without what may be a password (between ``://user:`` and ``@``)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_unsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _sqlite(url: str, create: bool) -> SQLiteStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise StoreURLError(url, "an SQLite URL names a file, not a host: write sqlite:///relative.db or "
                            "sqlite:////absolute/path.db")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise StoreURLError(url, "the URL names no file: write sqlite:///state.db")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(options) - {"busy_timeout", "synchronous"})
    if unknown:
        raise StoreURLError(url, f"unknown option {unknown[0]!r}: use busy_timeout=SECONDS or "
                            "synchronous=normal|full")
    try:
        timeout = float(options.get("busy_timeout", DEFAULT_BUSY_TIMEOUT))
    except ValueError:
        timeout = math.nan
    if not 0 <= timeout <= MAX_BUSY_TIMEOUT:  # nan too
        raise StoreURLError(url, f"busy_timeout must be a number of seconds from 0 to {MAX_BUSY_TIMEOUT:g}, e.g. "
                            "busy_timeout=10")
    synchronous = options.get("synchronous", "normal").upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise StoreURLError(url, "synchronous must be normal or full")
    return SQLiteStore(path, busy_timeout=timeout, synchronous=synchronous, url=url, create=create)


def open_store(target: str | Store | Any, *, prefix: str = "dlr", create: bool = True) -> Store:
    """The store ``target`` names: a URL, a `Store`, or a redis-py / valkey client object.

    ``create`` False: an SQLite file that does not exist is an error (`StateError`) instead of a new store, for
    commands that only read or change what is there.

    Raises `StoreURLError` for a URL no store knows, `StoreUnavailableError` when the server cannot be reached,
    `SchemaVersionError` for a store written by a newer dlrpolicy and `CorruptStoreError` for a damaged one.
    """
    if isinstance(target, Store):
        return target
    if not isinstance(target, str):
        if callable(getattr(target, "pipeline", None)) and callable(getattr(target, "register_script", None)):
            return RedisStore(target, prefix=prefix)
        raise StoreURLError(repr(target), "expected a URL (sqlite:///state.db, redis://host:6379/0), a redis-py "
                            "or valkey client, or a Store")
    url = os.path.expanduser(target.strip())
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # urllib refuses an unclosed "[" (an IPv6 host) and the like
        raise StoreURLError(redact(url), f"not a URL ({exc}): write sqlite:///state.db, "
                            "redis://host:6379/0 or unix:///run/redis.sock") from None
    if scheme == "sqlite":
        return _sqlite(url, create)
    if scheme in SCHEMES:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if "prefix" in query:  # ours, not redis-py's: several stores can share one database
            prefix = query.pop("prefix")[-1]
            rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
            url = url.split("?", 1)[0] + (f"?{rest}" if rest else "")
        return RedisStore.from_url(url, prefix=prefix, shown=redact(url))
    if not scheme:
        raise StoreURLError(redact(url), "not a URL: write sqlite:///state.db, redis://host:6379/0 or "
                            "unix:///run/redis.sock")
    raise StoreURLError(redact(url), f"unknown scheme {scheme!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")
