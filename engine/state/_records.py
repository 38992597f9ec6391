"""What the stores hand back: suppression entries, schedule entries, incidents, a message's history, and the
result of recording one report (`Recorded`).  Frozen; instants are aware UTC datetimes; ``to_json`` gives the
stable shapes the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._outcome import History
from ._codec import from_ts, iso_ts, reports, ts
from ._keys import NO_TENANT


def tenant_of(name: str) -> str | None:
    """The tenant as the API shows it (None for the no-tenant bucket)."""
    return None if name == NO_TENANT else name


@attrs.frozen(kw_only=True)
class Suppression:
    """One entry of the suppression list (``until`` None: until someone lifts it)."""

    id: str
    tenant: str | None
    scope: str
    key: str
    channel: str | None
    reason: Mapping[str, Any]
    origin: str
    liftable: bool
    created_at: datetime
    updated_at: datetime
    until: datetime | None
    source_key: str | None
    hits: int
    incident: str | None = None

    def active(self, now: datetime) -> bool:
        """True unless the entry expired at or before ``now``."""
        return self.until is None or self.until > now

    def to_json(self) -> dict[str, object]:
        """The entry as JSON (the export format; `from_json` reads it back)."""
        return {
            "id": self.id, "tenant": self.tenant, "scope": self.scope, "key": self.key, "channel": self.channel,
            "reason": dict(self.reason), "origin": self.origin, "liftable": self.liftable,
            "created_at": iso_z(self.created_at), "updated_at": iso_z(self.updated_at), "until": iso_z(self.until),
            "source_key": self.source_key, "hits": self.hits, "incident": self.incident,
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Suppression:
        """An entry from the stores' form (instants as epoch seconds)."""
        until = data.get("until")
        return cls(
            id=data["id"], tenant=tenant_of(data["tenant"]), scope=data["scope"], key=data["key"],
            channel=data.get("channel"), reason=data.get("reason") or {}, origin=data["origin"],
            liftable=bool(data.get("liftable", True)), created_at=from_ts(data["created"]),
            updated_at=from_ts(data["updated"]), until=None if until is None else from_ts(until),
            source_key=data.get("source"), hits=int(data.get("hits", 1)), incident=data.get("incident"),
        )


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(kw_only=True, slots=False)
class ScheduleEntry:
    """A retry (or a check for a final result) due at ``due_at``; ``token`` is set while a worker holds it."""

    tenant: str | None
    key: str
    kind: str
    due_at: datetime
    deadline: datetime | None
    channel: str | None
    attempt: int
    rule: str
    token: str | None = None
    lease_until: datetime | None = None

    def to_json(self) -> dict[str, object]:
        """``{key, tenant, kind, due_at, deadline, channel, attempt, rule, token, lease_until}``."""
        return {"key": self.key, "tenant": self.tenant, "kind": self.kind, "due_at": iso_z(self.due_at),
                "deadline": iso_z(self.deadline), "channel": self.channel, "attempt": self.attempt,
                "rule": self.rule, "token": self.token, "lease_until": iso_z(self.lease_until)}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> ScheduleEntry:
        """An entry from the stores' form."""
        deadline, lease = data.get("deadline"), data.get("lease")
        return cls(tenant=tenant_of(data["tenant"]), key=data["key"], kind=data["kind"], due_at=from_ts(data["due"]),
                   deadline=None if deadline is None else from_ts(deadline), channel=data.get("channel"),
                   attempt=int(data["attempt"]), rule=data["rule"], token=data.get("token"),
                   lease_until=None if lease is None else from_ts(lease))


@attrs.frozen(kw_only=True)
class Incident:
    """Escalations grouped by (tenant, route, cause): how many, since when, whom, and what is held."""

    id: str
    tenant: str | None
    route: str
    cause: str
    rule: str
    severity: str
    state: str
    count: int
    recipients: int
    first_seen: datetime
    last_seen: datetime
    samples: tuple[str, ...]
    held: int
    account_wide: bool
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        """``{id, tenant, route, cause, rule, severity, state, count, recipients, first_seen, last_seen, ...}``."""
        return {"id": self.id, "tenant": self.tenant, "route": self.route, "cause": self.cause, "rule": self.rule,
                "severity": self.severity, "state": self.state, "count": self.count, "recipients": self.recipients,
                "first_seen": iso_z(self.first_seen), "last_seen": iso_z(self.last_seen),
                "samples": list(self.samples), "held": self.held, "account_wide": self.account_wide,
                "resolved_at": iso_z(self.resolved_at), "resolved_by": self.resolved_by, "note": self.note}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Incident:
        """An incident from the stores' form."""
        resolved = data.get("resolved")
        return cls(id=data["id"], tenant=tenant_of(data["tenant"]), route=data["route"], cause=data["cause"],
                   rule=data["rule"], severity=data["severity"], state=data["state"], count=int(data["count"]),
                   recipients=int(data.get("recipients", 0)), first_seen=from_ts(data["first"]),
                   last_seen=from_ts(data["last"]), samples=tuple(data.get("samples", ())),
                   held=int(data.get("held", 0)), account_wide=bool(data.get("account_wide")),
                   resolved_at=None if resolved is None else from_ts(resolved), resolved_by=data.get("by"),
                   note=data.get("note"))


@attrs.frozen(kw_only=True)
class IncidentEvent:
    """A notification: an incident ``opened``, ``grew`` to a round count (10, 100, ...) or was ``resolved``.

    ``count`` is the count that triggered it; ``incident`` is the incident as stored when the event was sent
    (a batch may have counted further by then)."""

    kind: str
    count: int
    incident: Incident


@attrs.frozen(kw_only=True)
class MessageHistory:
    """Everything the ledger knows about one message: its attempts (sends), reports and decisions."""

    tenant: str | None
    key: str
    attempts: int
    first_attempt_at: datetime | None
    channels: tuple[str, ...]
    sends: tuple[Mapping[str, Any], ...]
    reports: tuple[Mapping[str, Any], ...]
    events: tuple[Mapping[str, Any], ...]
    held_by: str | None
    version: int

    def history(self) -> History:
        """The `History` a decision about this message is evaluated with."""
        return History(attempts=max(1, self.attempts), first_attempt_at=self.first_attempt_at,
                       channels=self.channels)

    def to_json(self) -> dict[str, object]:
        """``{tenant, key, attempts, first_attempt_at, channels, sends, reports, events, held_by}``."""
        return {"tenant": self.tenant, "key": self.key, "attempts": self.attempts,
                "first_attempt_at": iso_z(self.first_attempt_at), "channels": list(self.channels),
                "sends": [dict(s) for s in self.sends], "reports": [dict(r) for r in self.reports],
                "events": [dict(e) for e in self.events], "held_by": self.held_by}

    @classmethod
    def from_state(cls, tenant: str, key: str, state: Mapping[str, Any], version: int) -> MessageHistory:
        """A history from the message's stored state."""
        sends = [{"provider_id": pid, "channel": s.get("channel"), "at": iso_ts(s.get("at")),
                  "source": s.get("source")} for pid, s in state.get("ids", {}).items()]
        first = state.get("first")
        return cls(tenant=tenant_of(tenant), key=key, attempts=len(state.get("ids", {})),
                   first_attempt_at=None if first is None else from_ts(first),
                   channels=tuple(state.get("channels", ())), sends=tuple(sends),
                   reports=tuple(reports(state)), events=tuple(state.get("events", ())),
                   held_by=state.get("held"), version=version)


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(kw_only=True, slots=False)
class Recorded:
    """The result of recording one report: the decision (adjusted by flood control when it shaped it), the
    history it was made with, and the effects applied.  ``duplicate``: an identical report was recorded before
    and this is its stored decision (nothing changed); ``superseded``: a late non-final report after a final one
    (recorded, but it changed nothing)."""

    decision: Decision
    tenant: str | None
    key: str
    report: str
    history: History
    duplicate: bool = False
    superseded: bool = False
    suppression: str | None = None
    schedule: ScheduleEntry | None = None
    incident: str | None = None
    incident_count: int | None = None
    held: bool = False
    flood: tuple[str, ...] = ()

    @property
    def attempts(self) -> int:
        """Attempts the message has had (distinct provider message ids and recorded sends)."""
        return self.history.attempts

    def to_json(self) -> dict[str, object]:
        """The ``state`` object of an output line."""
        return {"key": self.key, "attempts": self.history.attempts,
                "first_attempt_at": iso_z(self.history.first_attempt_at), "duplicate": self.duplicate,
                "superseded": self.superseded, "report": self.report, "suppression": self.suppression,
                "schedule": None if self.schedule is None else iso_z(self.schedule.due_at),
                "incident": self.incident, "held": self.held, "flood": list(self.flood)}


def epoch(value: datetime | None) -> float | None:
    """Epoch seconds or None."""
    return None if value is None else ts(value)
