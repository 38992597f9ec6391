"""The SQLite store's read-only queries (suppression lookups and listings, incidents, holds)."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ._codec import loads
from ._failures import CorruptStoreError, StateError, StoreLockedError
from ._records import Incident, Suppression
from ._store import Item


class SQLiteReads:
    """Queries that change nothing; mixed into `SQLiteStore`, which owns the connection."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    url: str
    busy_timeout: float

    def _error(self, exc: sqlite3.Error) -> StateError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreLockedError(self.url, f"the database stayed locked for {self.busy_timeout:g}s (another "
                                    "writer holds it): retry, or raise ?busy_timeout= in the URL")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return CorruptStoreError(self.url, f"the file is not a usable SQLite database ({text}): restore it "
                                     "from a backup or point --state at a new file")
        return StateError(self.url, f"SQLite failed: {text}")

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def lookup(self, tenant: str, ids: Sequence[str]) -> tuple[list[Suppression], list[Incident]]:
        # One statement: the candidate entries, then the tenant's open account-wide incidents (marked by "!").
        return self._entries(self._query(_lookup_sql(len(ids)), (*ids, tenant)))

    def lookup_candidates(self, tenant: str,
                          candidates: Sequence[tuple[str, str]]) -> tuple[list[Suppression], list[Incident]]:
        # The same, looking up only the candidates of scopes the tenant has entries in.
        if not candidates:
            return self.lookup(tenant, ())
        ids, scopes = zip(*candidates, strict=True)
        return self._entries(self._query(_scoped_sql(scopes), (tenant, *ids)))

    @staticmethod
    def _entries(rows: list[Any]) -> tuple[list[Suppression], list[Incident]]:
        entries: list[Suppression] = []
        holds: list[Incident] = []
        for (text,) in rows:  # nearly every check finds no row, or one entry
            if text[0] != "!":
                entries.append(Suppression.from_stored(loads(text)))
            else:
                holds.append(Incident.from_stored(loads(text[1:])))
        return entries, holds

    def holder(self, tenant: str, key: str) -> str | None:
        rows = self._query("SELECT incident FROM held WHERE tenant = ? AND key = ?", (tenant, key))
        return str(rows[0][0]) if rows else None

    def suppressions(self, *, tenant: str | None = None) -> Iterator[Suppression]:
        where, args = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        for row in self._query(f"SELECT entry FROM suppressions {where} ORDER BY tenant, scope, key", args):
            yield Suppression.from_stored(json.loads(row[0]))

    def suppression(self, entry_id: str) -> Suppression | None:
        rows = self._query("SELECT entry FROM suppressions WHERE id = ?", (entry_id,))
        return Suppression.from_stored(json.loads(rows[0][0])) if rows else None

    def incidents(self, *, tenant: str | None = None, state: str | None = None) -> list[Incident]:
        clauses, args = [], []
        if tenant is not None:
            clauses.append("tenant = ?")
            args.append(tenant)
        if state is not None:
            clauses.append("state = ?")
            args.append(state)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(f"SELECT entry FROM incidents {where} ORDER BY last DESC, id", args)
        return [Incident.from_stored(json.loads(r[0])) for r in rows]

    def incident(self, incident_id: str) -> Incident | None:
        rows = self._query("SELECT entry FROM incidents WHERE id = ?", (incident_id,))
        return Incident.from_stored(json.loads(rows[0][0])) if rows else None

    def held(self, incident_id: str, *, limit: int) -> list[str]:
        rows = self._query("SELECT key FROM held WHERE incident = ? ORDER BY since, key LIMIT ?", (incident_id, limit))
        return [r[0] for r in rows]

    def expired_holds(self, tenant: str, before: float, *, limit: int) -> list[tuple[str, str]]:
        rows = self._query("SELECT key, incident FROM held WHERE tenant = ? AND since < ? ORDER BY since, key "
                           "LIMIT ?", (tenant, before, limit))
        return [(r[0], r[1]) for r in rows]

    def tenants(self) -> list[str]:
        # The tenants whose holds may need expiring (the index on held makes this cheap).
        return [r[0] for r in self._query("SELECT DISTINCT tenant FROM held ORDER BY 1")]

    def _prefetch(self, items: Sequence[Item]) -> tuple[dict[tuple[str, str], str],
                                                         dict[tuple[str, str], tuple[int, Any]]]:
        """The links and messages a batch may need, read in a few queries instead of two per report."""
        conn = self._conn
        links: dict[tuple[str, str], str] = {}
        by_tenant: dict[str, set[str]] = {}
        for item in items:
            if item.key is None and item.pid is not None:
                by_tenant.setdefault(item.tenant, set()).add(item.pid)
        for tenant, pids in by_tenant.items():
            for chunk in _chunks(sorted(pids)):
                marks = ", ".join("?" * len(chunk))
                for pid, key in conn.execute(f"SELECT pid, key FROM links WHERE tenant = ? AND pid IN ({marks})",
                                             (tenant, *chunk)):
                    links[(tenant, pid)] = key
        wanted: dict[str, set[str]] = {}
        for item in items:
            key = item.key or (links.get((item.tenant, item.pid)) if item.pid is not None else None) or \
                item.default_key
            wanted.setdefault(item.tenant, set()).add(key)
        messages: dict[tuple[str, str], tuple[int, Any]] = {
            (tenant, key): (0, None) for tenant, keys in wanted.items() for key in keys}
        for tenant, keys in wanted.items():
            for chunk in _chunks(sorted(keys)):
                marks = ", ".join("?" * len(chunk))
                for key, version, state in conn.execute(
                        f"SELECT key, version, state FROM messages WHERE tenant = ? AND key IN ({marks})",
                        (tenant, *chunk)):
                    messages[(tenant, key)] = (version, state)
        return links, messages


@functools.lru_cache(maxsize=64)
def _lookup_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (f"SELECT entry FROM suppressions WHERE id IN ({marks}) UNION ALL SELECT '!' || entry FROM (SELECT entry "
            "FROM incidents WHERE tenant = ? AND state = 'open' AND account_wide = 1 ORDER BY last DESC)")


@functools.lru_cache(maxsize=256)
def _scoped_sql(scopes: tuple[str, ...]) -> str:
    # suppression_scopes lists the scopes the tenant's entries use (schema version 2); each listed scope names
    # the candidate id of its scope (NULL, no row, for a scope without a candidate), looked up by id.
    whens = " ".join(f"WHEN '{scope.replace(chr(39), chr(39) * 2)}' THEN ?{n}"
                     for n, scope in enumerate(scopes, start=2))
    return (f"SELECT s.entry FROM suppression_scopes AS p JOIN suppressions AS s ON s.id = (CASE p.scope {whens} "
            "END) WHERE p.tenant = ?1 UNION ALL SELECT '!' || entry FROM (SELECT entry FROM incidents WHERE "
            "tenant = ?1 AND state = 'open' AND account_wide = 1 ORDER BY last DESC)")


def _chunks(values: list[str], size: int = 400) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]
