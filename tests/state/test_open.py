"""Opening stores, and every way it goes wrong: each a one-line `DlrpolicyError` that says what to do."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import valkey

from dlrpolicy import Engine
from dlrpolicy.state._failures import (
    CorruptStoreError,
    SchemaVersionError,
    StateError,
    StoreLockedError,
    StoreUnavailableError,
    StoreURLError,
)
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._redis import RedisStore
from dlrpolicy.state._sqlite import SQLiteStore
from dlrpolicy.state._store import Report
from tests.state.conftest import fresh_prefix
from tests.state.reports import NOW, outcome


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://db/state", "unknown scheme 'mysql': use one of sqlite://"),
    ("state.db", "not a URL: write sqlite:///state.db"),
    ("sqlite://host/state.db", "names a file, not a host"),
    ("sqlite:///state.db?journal=off", "unknown option 'journal'"),
    ("sqlite:///state.db?busy_timeout=-1", "busy_timeout must be"),
    ("sqlite:///state.db?busy_timeout=nan", "busy_timeout must be"),
    ("sqlite:///state.db?busy_timeout=inf", "busy_timeout must be"),
    ("redis://[::1", "not a URL"),
    ("sqlite://[::1/state.db", "not a URL"),
])
def test_unknown_urls_say_what_to_write(url: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL no store knows names the accepted forms."""
    monkeypatch.chdir(tmp_path)  # a URL that wrongly opened would leave its file here, not in the checkout
    with pytest.raises(StoreURLError) as exc:
        open_store(url)
    assert says in _one_line(exc)


def test_unreachable_servers_say_to_start_them(tmp_path: Path) -> None:
    """A socket nobody listens on, and a refused TCP port."""
    for url in (f"unix://{tmp_path}/nobody.sock", "redis://127.0.0.1:1/0"):
        with pytest.raises(StoreUnavailableError) as exc:
            open_store(url)
        assert "cannot be reached" in _one_line(exc)


def test_a_newer_sqlite_schema_asks_for_an_upgrade(tmp_path: Path) -> None:
    """A file written by a newer dlrpolicy is refused, not misread."""
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(SchemaVersionError) as exc:
        open_store(f"sqlite:///{path}")
    assert "schema version 99 was written by a newer dlrpolicy" in _one_line(exc)


def test_a_newer_redis_schema_asks_for_an_upgrade(redis_url: str) -> None:
    """The same on Redis: the schema key holds a higher version."""
    prefix = fresh_prefix()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set(f"{prefix}:schema", "99")
    with pytest.raises(SchemaVersionError) as exc:
        RedisStore(client, prefix=prefix)
    assert "upgrade dlrpolicy" in _one_line(exc)


def test_a_corrupt_database_file_is_named(tmp_path: Path) -> None:
    """Random bytes, and an SQLite file of someone else's tables."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite database at all" * 200)
    with pytest.raises(CorruptStoreError) as exc:
        open_store(f"sqlite:///{garbage}")
    assert "restore it from a backup or point --state at a new file" in _one_line(exc)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(CorruptStoreError, match="no dlrpolicy schema"):
        open_store(f"sqlite:///{other}")


def test_wrong_redis_keys_are_named(redis_url: str) -> None:
    """A key of the store's name holding something else is reported, not overwritten."""
    prefix = fresh_prefix()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set(f"{prefix}:schema", "not a number")
    with pytest.raises(CorruptStoreError):
        RedisStore(client, prefix=prefix)


def test_a_locked_sqlite_file_waits_for_the_busy_timeout_then_says_so(tmp_path: Path) -> None:
    """Another writer holding the lock past the busy timeout: the write waits at least that long, then a clear
    error, and nothing half-written."""
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}?busy_timeout=0.2")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as exc:
            Recorder(Engine.default(), store).record(outcome("m-1", "absent"), now=NOW)
        waited = time.monotonic() - started
        assert "stayed locked for 0.2s" in _one_line(exc)
        assert waited >= 0.2  # it waited out the busy timeout before giving up
    finally:
        holder.execute("ROLLBACK")
    assert (None, 0) == store.read_message("_", "m-1")


def test_reading_an_sqlite_store_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Opening a store of the current schema takes no write lock: a check and a history read answer while
    another writer holds the lock, well inside the busy timeout."""
    path = tmp_path / "state.db"
    Recorder(Engine.default(), open_store(f"sqlite:///{path}")).record(outcome("m-1", "opted-out"), now=NOW)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        recorder = Recorder(Engine.default(), open_store(f"sqlite:///{path}?busy_timeout=3"))
        found = recorder.check(now=NOW, recipient="+821012340001")
        history = recorder.history("m-1")
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
    assert (True, 1, True) == (found is not None, history.attempts if history else 0, elapsed < 1.5)


def test_a_client_object_is_accepted(redis_url: str) -> None:
    """A redis-py client (or a valkey one) becomes a store as given."""
    for client in (redis.Redis.from_url(redis_url), valkey.Valkey.from_url(redis_url)):
        store = open_store(client, prefix=fresh_prefix())
        assert isinstance(store, RedisStore)
        assert [] == store.tenants()


def test_something_else_is_refused() -> None:
    """Neither a URL nor a client."""
    with pytest.raises(StateError, match="expected a URL"):
        open_store(42)


def test_scripts_are_reloaded_after_script_flush(redis_url: str) -> None:
    """A server that forgot the scripts (SCRIPT FLUSH, a restart, a failover) gets them again on NOSCRIPT."""
    store = open_store(f"{redis_url}?prefix={fresh_prefix()}")
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    recorder.record(outcome("m-1", "absent"), now=NOW)
    redis.Redis.from_url(redis_url).script_flush()
    assert not recorder.record(outcome("m-2", "absent"), now=NOW).duplicate
    assert recorder.check(now=NOW, recipient="+821012340001") is None
    redis.Redis.from_url(redis_url).script_flush()  # pipelined rounds (several tenants) send EVALSHA unchecked
    batch = recorder.record_many([Report(outcome=outcome(f"m-{t}", "absent", tenant=t)) for t in ("a", "b")],
                                 now=NOW)
    assert [False, False] == [r.duplicate for r in batch if not isinstance(r, Exception)]
    redis.Redis.from_url(redis_url).script_flush()
    assert 4 == len(recorder.claim(now=NOW + timedelta(days=1), limit=10))


def test_a_url_urllib_cannot_split_keeps_its_password_out_of_the_message() -> None:
    """redis://user:secret@[::1 (an unclosed IPv6 host) is refused without showing the password."""
    with pytest.raises(StoreURLError) as exc:
        open_store("redis://user:secret@[::1")
    assert ("secret" in _one_line(exc), "redis://user:***@[::1" in str(exc.value)) == (False, True)
