"""The SQLite store's incident writes: an escalation counted into its incident (opened when none is open for its
group), and the messages held under incidents.  Mixed into `SQLiteStore`, inside its transactions."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from ._codec import dumps
from ._store import IncidentHit

#: Severities above each one (an incident takes the highest severity of its escalations).
_HIGHER: Final = {"info": ("warning", "error", "critical"), "warning": ("error", "critical"),
                  "error": ("critical",)}


class SQLiteIncidents:
    """Incident and hold writes; `SQLiteStore` owns the connection and the transaction."""

    _conn: sqlite3.Connection

    def _incident_hit(self, tenant: str, op: dict[str, Any]) -> IncidentHit:
        conn = self._conn
        row = conn.execute("SELECT id, entry FROM incidents WHERE tenant = ? AND grp = ? AND state = 'open'",
                           (tenant, op["group"])).fetchone()
        opened = row is None
        if row is None:
            spec = op["entry"]
            data: dict[str, Any] = {"id": op["id"], "tenant": tenant, **spec, "state": "open", "count": 0,
                                    "recipients": 0, "first": op["now"], "last": op["now"], "samples": [], "held": 0}
        else:
            data = json.loads(row[1])
            if op["entry"]["severity"] in _HIGHER.get(data["severity"], ()):
                data["severity"] = op["entry"]["severity"]
        incident = data["id"]
        data["count"] += 1
        data["last"] = op["now"]
        if op["recipient"] and conn.execute("INSERT OR IGNORE INTO incident_recipients (incident, recipient) "
                                            "VALUES (?, ?)", (incident, op["recipient"])).rowcount:
            data["recipients"] += 1
        if len(data["samples"]) < 5 and op["key"] not in data["samples"]:
            data["samples"].append(op["key"])
        if op["hold"]:
            held = conn.execute("SELECT incident FROM held WHERE tenant = ? AND key = ?",
                                (tenant, op["key"])).fetchone()
            if held is None or held[0] != incident:
                if held is not None:
                    self._unhold(tenant, op["key"])
                conn.execute("INSERT INTO held (tenant, key, incident, since) VALUES (?, ?, ?, ?)",
                             (tenant, op["key"], incident, op["now"]))
                data["held"] += 1
        conn.execute("INSERT OR REPLACE INTO incidents (id, tenant, grp, state, account_wide, last, entry) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?)", (incident, tenant, op["group"], data["state"],
                                               int(bool(data.get("account_wide"))), data["last"], dumps(data)))
        return IncidentHit(incident, data["count"], opened)

    def _move_hold(self, tenant: str, src: str, dst: str) -> None:
        # A message merged into another: its hold moves along (or goes, when the other is held already).
        if self._conn.execute("SELECT 1 FROM held WHERE tenant = ? AND key = ?", (tenant, dst)).fetchone():
            self._unhold(tenant, src)
        else:
            self._conn.execute("UPDATE held SET key = ? WHERE tenant = ? AND key = ?", (dst, tenant, src))

    def _unhold(self, tenant: str, key: str) -> None:
        conn = self._conn
        row = conn.execute("DELETE FROM held WHERE tenant = ? AND key = ? RETURNING incident", (tenant, key)).fetchone()
        if row is None:
            return
        found = conn.execute("SELECT entry FROM incidents WHERE id = ?", (row[0],)).fetchone()
        if found is not None:
            data = json.loads(found[0])
            data["held"] = max(0, data["held"] - 1)
            conn.execute("UPDATE incidents SET entry = ? WHERE id = ?", (dumps(data), row[0]))
