"""The SQLite store: the embedded default, for one machine.  WAL, a busy timeout, ``BEGIN IMMEDIATE``; a batch of
reports is one transaction (each report's history, decision and effects in it), so a crash mid-batch leaves the
file as it was before the batch."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import DlrpolicyError
from ._apply import Op, Snapshot
from ._codec import compact, decode_state, dumps, loads
from ._failures import NotFoundError, StateError
from ._flood import LiveCounters
from ._merge import merge_suppression
from ._records import Incident, ScheduleEntry, Suppression
from ._sqlite_batch import Batch
from ._sqlite_incidents import SQLiteIncidents
from ._sqlite_reads import SQLiteReads, _chunks
from ._sqlite_schema import migrate
from ._store import Committed, Compute, IncidentHit, Item, Store

DEFAULT_BUSY_TIMEOUT = 5.0


class SQLiteStore(SQLiteIncidents, SQLiteReads, Store):
    """State in one SQLite file (``sqlite:///path/state.db``); safe for many processes on one machine."""

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, synchronous: str = "NORMAL",
                 url: str | None = None, create: bool = True) -> None:
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._routes: dict[tuple[str, str], LiveCounters] = {}
        self._batch: Batch | None = None
        if not create and not self.path.is_file():
            # A read-only command must not leave an empty store (and its directories) behind a mistyped path.
            raise StateError(self.url, f"no store at {self.path}: check the path, or record into it first "
                             "(dlrpolicy evaluate --state URL creates it)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA cache_size = -65536")
            migrate(self._conn, self.url)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise StateError(self.url, f"cannot open the file: {exc.strerror}: check the path and permissions") \
                from None

    # --- transactions ------------------------------------------------------------------------------------------

    def _begin(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        self._routes.clear()

    def _commit(self) -> None:
        conn = self._conn
        for (tenant, route), state in self._routes.items():
            for bucket in state.dirty:
                r, x, f = state.buckets[bucket]
                conn.execute("INSERT OR REPLACE INTO flood (tenant, route, bucket, reports, retries, failures) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (tenant, route, bucket, r, x, f))
            if state.dirty:
                conn.execute("DELETE FROM flood WHERE tenant = ? AND route = ? AND bucket < ?",
                             (tenant, route, state.keep))
            if state.breaker_dirty:
                conn.execute("INSERT OR REPLACE INTO breakers (tenant, route, until, brk, since, gen) VALUES "
                             "(?, ?, ?, ?, ?, ?)", (tenant, route, state.until, state.brk, state.since, state.gen))
        self._routes.clear()
        conn.execute("COMMIT")

    def _rollback(self) -> None:
        self._routes.clear()
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _route(self, tenant: str, route: str) -> LiveCounters:
        found = self._routes.get((tenant, route))
        if found is None:
            rows = self._conn.execute("SELECT bucket, reports, retries, failures FROM flood WHERE tenant = ? AND "
                                      "route = ?", (tenant, route)).fetchall()
            brk = self._conn.execute("SELECT until, brk, since, gen FROM breakers WHERE tenant = ? AND route = ?",
                                     (tenant, route)).fetchone()
            until, size, since, gen = brk if brk is not None else (0.0, 0.0, 0.0, 0)
            found = LiveCounters({b: (r, x, f) for b, r, x, f in rows}, until, size, since, gen)
            self._routes[(tenant, route)] = found
        return found

    # --- recording ---------------------------------------------------------------------------------------------

    def _message(self, tenant: str, key: str) -> tuple[int, Any]:
        row = self._conn.execute("SELECT version, state FROM messages WHERE tenant = ? AND key = ?",
                                 (tenant, key)).fetchone()
        return (0, None) if row is None else (row[0], row[1])

    def record(self, items: Sequence[Item], compute: Compute) -> list[Committed]:
        """One transaction for the whole batch: the links and messages it needs are read up front (nobody else
        can write while it holds the lock), each report is decided against the batch's own latest state, and
        the messages, links, suppressions and schedule entries are written with one statement each at the end."""
        with self._lock:
            try:
                self._begin()
                links, messages = self._prefetch(items)
                batch = Batch()
                self._batch = batch
                results = []
                for item in items:
                    t = item.tenant
                    key = item.key
                    if key is None:  # linked by this batch (its links are written at the end), or before it
                        key = (batch.links.get((t, item.pid)) or links.get((t, item.pid)) if item.pid is not None
                               else None) or item.default_key
                    # A message the batch already changed is read back from the text it will write (kept as text,
                    # not as the parsed state: a batch of parsed states is work for the garbage collector).
                    version, raw = batch.messages.get((t, key)) or messages.get((t, key)) or self._message(t, key)
                    state = None if raw is None else decode_state(raw)
                    change = compute(item, Snapshot(key, version, state, self._route(t, item.route).counters()))
                    if isinstance(change, DlrpolicyError):
                        results.append(Committed(change))
                        continue
                    hits = self._apply(t, change.ops)
                    assert hits is not None  # read and written under the same write lock
                    results.append(Committed(change, tuple(hits)))
                self._flush(batch)
                self._commit()
            except sqlite3.Error as exc:
                self._rollback()
                raise self._error(exc) from None
            except BaseException:
                self._rollback()
                raise
            finally:
                self._batch = None
        return results

    def _flush(self, batch: Batch) -> None:
        conn = self._conn
        conn.executemany("INSERT OR REPLACE INTO messages (tenant, key, version, state) VALUES (?, ?, ?, ?)",
                         [(t, k, v, text) for (t, k), (v, text) in batch.messages.items()])
        if batch.links:  # (an empty executemany still prepares its statement: most batches have no links)
            conn.executemany("INSERT OR REPLACE INTO links (tenant, pid, key) VALUES (?, ?, ?)",
                             [(t, pid, key) for (t, pid), key in batch.links.items()])
        if batch.suppressions:
            self._put_suppressions(batch.suppressions)
        puts = [(t, k, e["due"], compact(e)) for (t, k), e in batch.schedule.items() if e is not None]
        if puts:
            conn.executemany("INSERT OR REPLACE INTO schedule (tenant, key, ready, token, lease, entry) VALUES "
                             "(?, ?, ?, NULL, NULL, ?)", puts)
        drops = [(t, k) for (t, k), e in batch.schedule.items() if e is None]
        if drops:
            conn.executemany("DELETE FROM schedule WHERE tenant = ? AND key = ?", drops)

    def commit(self, tenant: str, ops: Sequence[Op]) -> list[IncidentHit] | None:
        with self._lock:
            try:
                self._begin()
                hits = self._apply(tenant, ops)
                if hits is None:
                    self._rollback()
                    return None
                self._commit()
                return hits
            except sqlite3.Error as exc:
                self._rollback()
                raise self._error(exc) from None
            except BaseException:
                self._rollback()
                raise

    def _apply(self, tenant: str, ops: Sequence[Op]) -> list[IncidentHit] | None:
        conn = self._conn
        hits: list[IncidentHit] = []
        for op in ops:
            kind = op["op"]
            if kind == "msg" and self._batch is not None:
                self._batch.messages[(tenant, op["key"])] = (op["expect"] + 1, op["state"])
            elif kind in ("sched", "unsched") and self._batch is not None:
                self._batch.schedule[(tenant, op["key"])] = op["entry"] if kind == "sched" else None
            elif kind == "link" and self._batch is not None:
                self._batch.links[(tenant, op["pid"])] = op["key"]
            elif kind == "sup" and self._batch is not None:
                self._batch.suppressions.append(op["entry"])
            elif kind == "msg":
                if op["expect"] == 0:
                    done = conn.execute("INSERT OR IGNORE INTO messages (tenant, key, version, state) VALUES "
                                        "(?, ?, 1, ?)", (tenant, op["key"], op["state"])).rowcount
                else:
                    done = conn.execute("UPDATE messages SET version = version + 1, state = ? WHERE tenant = ? AND "
                                        "key = ? AND version = ?",
                                        (op["state"], tenant, op["key"], op["expect"])).rowcount
                if not done:
                    return None
            elif kind in ("ver", "drop"):  # another message checked at the version it was read at (0: none)
                row = conn.execute("SELECT version FROM messages WHERE tenant = ? AND key = ?",
                                   (tenant, op["key"])).fetchone()
                if (0 if row is None else row[0]) != op["expect"]:
                    return None
                if kind == "drop":
                    conn.execute("DELETE FROM messages WHERE tenant = ? AND key = ?", (tenant, op["key"]))
            elif kind == "movehold":
                self._move_hold(tenant, op["src"], op["dst"])
            elif kind == "link":
                conn.execute("INSERT OR REPLACE INTO links (tenant, pid, key) VALUES (?, ?, ?)",
                             (tenant, op["pid"], op["key"]))
            elif kind == "sup":
                self._put_suppression(op["entry"])
            elif kind == "sched":
                entry = op["entry"]
                conn.execute("INSERT OR REPLACE INTO schedule (tenant, key, ready, token, lease, entry) VALUES "
                             "(?, ?, ?, NULL, NULL, ?)", (tenant, op["key"], entry["due"], dumps(entry)))
            elif kind == "unsched":
                conn.execute("DELETE FROM schedule WHERE tenant = ? AND key = ?", (tenant, op["key"]))
            elif kind == "inc":
                hits.append(self._incident_hit(tenant, op))
            elif kind == "unhold":
                self._unhold(tenant, op["key"])
            elif kind in ("fc", "brk"):
                self._route(tenant, op["route"]).apply(op)
            else:
                raise ValueError(f"unknown op {kind!r}")
        return hits

    def _put_suppression(self, entry: Mapping[str, Any]) -> None:
        self._put_suppressions([entry])

    def _put_suppressions(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Merge each entry into the one stored under its id (in order: two of one batch merge like two
        batches), reading the stored ones with one query per chunk and writing with one statement."""
        merged: dict[str, dict[str, Any] | None] = {}
        ids = sorted({entry["id"] for entry in entries})
        for chunk in _chunks(ids):
            marks = ", ".join("?" * len(chunk))
            for ident, text in self._conn.execute(f"SELECT id, entry FROM suppressions WHERE id IN ({marks})",
                                                  chunk):
                merged[ident] = loads(text)
        for entry in entries:
            merged[entry["id"]] = merge_suppression(merged.get(entry["id"]), entry)
        self._conn.executemany("INSERT OR REPLACE INTO suppressions (id, tenant, scope, key, until, entry) VALUES "
                               "(?, ?, ?, ?, ?, ?)", [(m["id"], m["tenant"], m["scope"], m["key"], m["until"],
                                                       dumps(m)) for m in merged.values() if m is not None])

    # --- reads -------------------------------------------------------------------------------------------------

    def read_message(self, tenant: str, key: str) -> tuple[Mapping[str, Any] | None, int]:
        rows = self._query("SELECT version, state FROM messages WHERE tenant = ? AND key = ?", (tenant, key))
        return (None, 0) if not rows else (decode_state(rows[0][1]), rows[0][0])

    def resolve_key(self, tenant: str, pid: str) -> str | None:
        rows = self._query("SELECT key FROM links WHERE tenant = ? AND pid = ?", (tenant, pid))
        return rows[0][0] if rows else None

    def remove_suppression(self, entry: Suppression, audit: Mapping[str, Any]) -> bool:
        def change() -> bool:
            row = self._conn.execute("SELECT entry FROM suppressions WHERE id = ?", (entry.id,)).fetchone()
            if row is None or Suppression.from_stored(json.loads(row[0])) != entry:
                return False
            self._conn.execute("DELETE FROM suppressions WHERE id = ?", (entry.id,))
            self._audit(audit)
            return True

        return bool(self._write(change))

    def _audit(self, audit: Mapping[str, Any]) -> None:
        self._conn.execute("INSERT INTO audit (at, tenant, kind, entry) VALUES (?, ?, ?, ?)",
                           (audit["at"], audit["tenant"], audit["kind"], dumps(audit)))

    def _write(self, change: Any) -> Any:
        with self._lock:
            try:
                self._begin()
                result = change()
                self._commit()
                return result
            except sqlite3.Error as exc:
                self._rollback()
                raise self._error(exc) from None
            except BaseException:
                self._rollback()
                raise

    def import_suppressions(self, entries: Sequence[Mapping[str, Any]]) -> int:
        def change() -> int:
            self._put_suppressions(entries)
            return len(entries)

        return int(self._write(change))

    def prune(self, now: float) -> int:
        return int(self._write(lambda: self._conn.execute(
            "DELETE FROM suppressions WHERE until IS NOT NULL AND until <= ?", (now,)).rowcount))

    def claim(self, *, now: float, limit: int, lease_until: float) -> list[ScheduleEntry]:
        rows = self._write(lambda: self._conn.execute(
            "UPDATE schedule SET ready = ?1, lease = ?1, token = tenant || '.' || lower(hex(randomblob(12))) "
            "WHERE rowid IN (SELECT rowid FROM schedule WHERE ready <= ?2 ORDER BY ready LIMIT ?3) "
            "RETURNING entry, token, lease", (lease_until, now, limit)).fetchall())
        found = [ScheduleEntry.from_stored({**json.loads(e), "token": t, "lease": lease}) for e, t, lease in rows]
        return sorted(found, key=lambda entry: (entry.due_at, entry.key))

    def peek(self, *, now: float, limit: int) -> list[ScheduleEntry]:
        rows = self._query("SELECT entry FROM schedule WHERE ready <= ? ORDER BY ready LIMIT ?", (now, limit))
        return [ScheduleEntry.from_stored(json.loads(r[0])) for r in rows]

    def ack(self, token: str) -> bool:
        return bool(self._write(lambda: self._conn.execute("DELETE FROM schedule WHERE token = ?",
                                                           (token,)).rowcount))

    def extend(self, token: str, lease_until: float) -> bool:
        return bool(self._write(lambda: self._conn.execute(
            "UPDATE schedule SET ready = ?1, lease = ?1 WHERE token = ?2", (lease_until, token)).rowcount))

    def close_incident(self, incident_id: str, *, now: float, actor: str, note: str) -> Incident:
        def change() -> Incident | None:
            row = self._conn.execute("SELECT tenant, entry FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            data = json.loads(row[1])
            if data["state"] != "resolved":
                data.update(state="resolved", resolved=now, by=actor, note=note)
                self._conn.execute("UPDATE incidents SET state = 'resolved', entry = ? WHERE id = ?",
                                   (dumps(data), incident_id))
                self._audit({"at": now, "tenant": row[0], "kind": "resolve", "incident": incident_id, "by": actor,
                             "note": note})
            return Incident.from_stored(data)

        found = self._write(change)
        if found is None:
            raise NotFoundError("incident", incident_id, "list them with `dlrpolicy incidents list`")
        return found  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

