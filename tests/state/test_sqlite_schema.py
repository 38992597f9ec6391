"""The SQLite schema's versions: a file written at an older version opens and is migrated, and what the newer
version adds keeps working whoever writes the file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from dlrpolicy import Engine
from dlrpolicy.state._codec import ts
from dlrpolicy.state._keys import candidates, entry_id
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._sqlite import SQLiteStore
from dlrpolicy.state._sqlite_schema import MIGRATIONS, SCHEMA_VERSION, statements
from dlrpolicy.state._store import Store
from tests.state.reports import NOW


def _entry(tenant: str, scope: str, key: str, channel: str | None = None) -> tuple[str, str, str, str, None, str]:
    ident = entry_id(tenant, scope, key)
    entry = {"id": ident, "tenant": tenant, "scope": scope, "key": key, "channel": channel,
             "reason": {"rule": "test"}, "origin": "import", "liftable": True, "created": ts(NOW),
             "updated": ts(NOW), "until": None, "source": None, "hits": 1}
    return ident, tenant, scope, key, None, json.dumps(entry)


def _version_1_file(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements(MIGRATIONS[1]):
            conn.execute(statement)
        conn.execute("INSERT INTO meta (name, value) VALUES ('schema', '1')")
        conn.executemany("INSERT INTO suppressions (id, tenant, scope, key, until, entry) VALUES (?, ?, ?, ?, ?, ?)",
                         [_entry("acme", "recipient", "+821012340001"), _entry("acme", "sender", "news")])
    conn.close()


def test_a_version_1_file_opens_migrated(tmp_path: Path) -> None:
    """An old file opens at the current version; check finds the entries it held, in every scope they use."""
    path = tmp_path / "old.db"
    _version_1_file(path)
    recorder = Recorder(Engine.default(default_for_unknown=True), SQLiteStore(path))
    found = recorder.check("acme", now=NOW, recipient="+821012340001", channel="sms", sender="Other")
    by_sender = recorder.check("acme", now=NOW, recipient="+821099999999", channel="sms", sender="NEWS")
    recorder.store.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0]
    conn.close()
    assert (str(SCHEMA_VERSION), "recipient", "sender") == (version, found and found.scope,
                                                            by_sender and by_sender.scope)


def test_entries_written_by_another_writer_are_checked(tmp_path: Path) -> None:
    """A row inserted into the file by something other than dlrpolicy (a bulk load) is found by check."""
    path = tmp_path / "state.db"
    recorder = Recorder(Engine.default(default_for_unknown=True), SQLiteStore(path))
    assert recorder.check("acme", now=NOW, recipient="+821012340001", channel="sms") is None
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO suppressions (id, tenant, scope, key, until, entry) VALUES (?, ?, ?, ?, ?, ?)",
                     _entry("acme", "recipient_channel", "sms:+821012340001", "sms"))
    conn.close()
    found = recorder.check("acme", now=NOW, recipient="+821012340001", channel="sms")
    recorder.store.close()
    assert ("recipient_channel", "sms:+821012340001") == (found and found.scope, found and found.key)


def test_statements_keep_a_trigger_body_whole() -> None:
    """A trigger's body (semicolons inside BEGIN ... END) is one statement of a migration."""
    script = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;\n"
    assert ["CREATE TABLE a (x);", "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;"] == \
        statements(script)


def test_the_scoped_lookup_finds_what_looking_up_every_candidate_finds(tmp_path: Path) -> None:
    """Over entries of several scopes and tenants, SQLite's lookup of the scopes in use equals the default lookup
    of every candidate id (what a store without it, a custom one, does)."""
    store = SQLiteStore(tmp_path / "state.db")
    recorder = Recorder(Engine.default(default_for_unknown=True), store)
    rows = [("acme", "recipient", "+821012340001", None), ("acme", "sender", "News", None),
            ("acme", "recipient_channel", "+821012340002", "sms"), ("beta", "template", "t-1", None),
            ("beta", "sender_domain", "shop.example", None), ("acme", "account", "acme", None)]
    recorder.import_lines([json.dumps({"tenant": t, "scope": s, "key": k, "channel": c}) for t, s, k, c in rows],
                          now=NOW)
    found = []
    for tenant in ("acme", "beta", "gamma"):
        for recipient in ("+821012340001", "+821012340002", "kim@shop.example"):
            wanted = [(ident, scope) for ident, scope, _ in candidates(
                tenant=tenant, key="m-1", recipient=recipient, channel="sms", sender="news@shop.example",
                template="t-1", region=None)]
            scoped, plain = store.lookup_candidates(tenant, wanted), Store.lookup_candidates(store, tenant, wanted)
            found.append((sorted(e.id for e in scoped[0]), sorted(e.id for e in plain[0])))
    store.close()
    assert [b for _, b in found] == [a for a, _ in found]
    assert any(a for a, _ in found)
