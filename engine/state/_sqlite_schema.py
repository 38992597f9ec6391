"""The SQLite schema, its version, and the migrations that bring an older file up to it."""

from __future__ import annotations

import sqlite3
from typing import Final

from ._failures import CorruptStoreError, SchemaVersionError

#: The schema this dlrpolicy writes.  A file with a higher version was written by a newer dlrpolicy.
SCHEMA_VERSION: Final = 2

_V1: Final = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages (tenant TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
    UNIQUE (tenant, key));
CREATE TABLE links (tenant TEXT NOT NULL, pid TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (tenant, pid)) WITHOUT ROWID;
CREATE TABLE suppressions (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,
    until REAL, entry TEXT NOT NULL);
CREATE INDEX suppressions_until ON suppressions (until) WHERE until IS NOT NULL;
CREATE INDEX suppressions_tenant ON suppressions (tenant, scope, key);
CREATE TABLE schedule (tenant TEXT NOT NULL, key TEXT NOT NULL, ready REAL NOT NULL, token TEXT,
    lease REAL, entry TEXT NOT NULL, PRIMARY KEY (tenant, key));
CREATE INDEX schedule_ready ON schedule (ready);
CREATE UNIQUE INDEX schedule_token ON schedule (token) WHERE token IS NOT NULL;
CREATE TABLE incidents (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, grp TEXT NOT NULL, state TEXT NOT NULL,
    account_wide INTEGER NOT NULL, last REAL NOT NULL, entry TEXT NOT NULL);
CREATE UNIQUE INDEX incidents_open ON incidents (tenant, grp) WHERE state = 'open';
CREATE TABLE incident_recipients (incident TEXT NOT NULL, recipient TEXT NOT NULL,
    PRIMARY KEY (incident, recipient)) WITHOUT ROWID;
CREATE TABLE held (tenant TEXT NOT NULL, key TEXT NOT NULL, incident TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (tenant, key)) WITHOUT ROWID;
CREATE INDEX held_incident ON held (incident);
CREATE INDEX held_since ON held (tenant, since);
CREATE TABLE flood (tenant TEXT NOT NULL, route TEXT NOT NULL, bucket INTEGER NOT NULL, reports INTEGER NOT NULL,
    retries INTEGER NOT NULL, failures INTEGER NOT NULL, PRIMARY KEY (tenant, route, bucket)) WITHOUT ROWID;
CREATE TABLE breakers (tenant TEXT NOT NULL, route TEXT NOT NULL, until REAL NOT NULL, brk REAL NOT NULL,
    since REAL NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (tenant, route)) WITHOUT ROWID;
CREATE TABLE audit (id INTEGER PRIMARY KEY, at REAL NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL,
    entry TEXT NOT NULL);
"""

#: Version 2: which scopes a tenant's entries have ever used, kept by triggers (so by every writer of the file,
#: whatever inserts the rows), so that `suppressions check` looks up only the candidates of those scopes: one or
#: two lookups instead of six to ten in a list keyed by recipient.  A scope stays listed after its last entry
#: goes (a listed scope without entries only costs a lookup).
_V2: Final = """
CREATE TABLE suppression_scopes (tenant TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (tenant, scope))
    WITHOUT ROWID;
INSERT OR IGNORE INTO suppression_scopes (tenant, scope) SELECT DISTINCT tenant, scope FROM suppressions;
CREATE TRIGGER suppression_scopes_insert AFTER INSERT ON suppressions BEGIN
    INSERT OR IGNORE INTO suppression_scopes (tenant, scope) VALUES (new.tenant, new.scope);
END;
CREATE TRIGGER suppression_scopes_update AFTER UPDATE OF tenant, scope ON suppressions BEGIN
    INSERT OR IGNORE INTO suppression_scopes (tenant, scope) VALUES (new.tenant, new.scope);
END;
"""

#: version -> the statements that bring a file at ``version - 1`` to ``version`` (1: create everything).
MIGRATIONS: Final[dict[int, str]] = {1: _V1, 2: _V2}


def statements(script: str) -> list[str]:
    """The statements of ``script``, split at the semicolons that end one (not those inside a trigger's body)."""
    found, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    return found


def _version(conn: sqlite3.Connection, url: str) -> int:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        if tables:
            raise CorruptStoreError(url, f"the file holds tables ({', '.join(sorted(tables)[:4])}) but no "
                                    "dlrpolicy schema: point --state at a new file or at a dlrpolicy store")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    return int(row[0]) if row is not None else 0


def migrate(conn: sqlite3.Connection, url: str) -> None:
    """Create the schema in an empty file, bring an older one up to date, refuse a newer one.

    The version is read first without a lock: a file at the current schema (every open but the first after an
    upgrade) is opened without waiting for a writer, so read-only commands answer while a batch is being
    written.  Only a migration takes ``BEGIN IMMEDIATE``, and reads the version again under it, so two processes
    opening a new file at once do not both create it.
    """
    version = _version(conn, url)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(url, f"schema version {version} was written by a newer dlrpolicy (this one "
                                 f"reads up to {SCHEMA_VERSION}): upgrade dlrpolicy (pip install -U dlrpolicy)")
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn, url)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('schema', ?)", (str(step),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
