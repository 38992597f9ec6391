"""What people and the schedule do to state besides recording reports: lift, import, export and prune
suppressions; resolve incidents (release the held messages into the schedule at a capped rate, or drop them);
end holds past their maximum age and schedule entries past their deadline.  Mixed into `Recorder`."""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from .._errors import DlrpolicyError, SettingError
from ..model._datetimes import iso_z, require_aware
from ..model._decision import decision_from_json
from ..model._outcome import Outcome
from ..policy._settings import StateSettings
from ._apply import last_report
from ._codec import dumps, ms, ts
from ._failures import LiftRefusedError, NotFoundError
from ._import import parse_lines
from ._items import require_storable
from ._keys import NO_TENANT, entry_id, suppression_key
from ._records import Incident, Recorded, ScheduleEntry, Suppression
from ._store import Report, Store


@attrs.frozen(kw_only=True)
class Resolution:
    """What resolving an incident did: the incident, how many held messages were released or dropped, and the
    span over which the released ones come due."""

    incident: Incident
    release: str
    count: int
    first_due: datetime | None
    last_due: datetime | None

    def to_json(self) -> dict[str, object]:
        """``{incident, release, count, first_due, last_due}``."""
        return {"incident": self.incident.to_json(), "release": self.release, "count": self.count,
                "first_due": iso_z(self.first_due), "last_due": iso_z(self.last_due)}


class Operations(abc.ABC):
    """Operator and housekeeping calls on a store; `Recorder` supplies recording and policies."""

    store: Store

    @abc.abstractmethod
    def settings_for(self, tenant: str | None) -> StateSettings:
        """The state settings of ``tenant``'s policy."""

    @abc.abstractmethod
    def update_message(self, tenant: str, key: str, change: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        """Edit a message's state and commit extra ops with it."""

    @abc.abstractmethod
    def notify(self, kind: str, incident_id: str, count: int | None = None) -> None:
        """Tell subscribers about an incident."""

    @abc.abstractmethod
    def record_many(self, reports: Sequence[Any], *, now: datetime) -> list[Recorded | DlrpolicyError]:
        """Record reports."""

    # --- suppressions ------------------------------------------------------------------------------------------

    def hold_entry(self, tenant: str, incident: Incident) -> Suppression:
        """An open account-wide incident as the entry `check` returns for it."""
        text = ("an account-wide incident holds every send of this tenant on this provider until it is resolved "
                f"(dlrpolicy incidents resolve {incident.id})")
        return Suppression(id=incident.id, tenant=None if tenant == NO_TENANT else tenant, scope="account",
                           key=tenant, channel=None, reason={"rule": incident.rule, "text": text},
                           origin="incident", liftable=False, created_at=incident.first_seen,
                           updated_at=incident.last_seen, until=None, source_key=None, hits=incident.count,
                           incident=incident.id)

    def lift(self, entry_id: str, *, actor: str, note: str, now: datetime, force: bool = False) -> Suppression:
        """Remove a suppression as an operator; opt-outs and complaints need ``force``."""
        require_storable(entry_id=entry_id, actor=actor, note=note)
        for _ in range(10):
            entry = self.store.suppression(entry_id)
            if entry is None:
                raise NotFoundError("suppression", entry_id, "find it with `dlrpolicy suppressions list` or "
                                    "`suppressions check`")
            if not entry.liftable and not force:
                raise LiftRefusedError(entry.id, str(entry.reason.get("rule")))
            audit = {"at": ms(ts(now)), "tenant": entry.tenant or NO_TENANT, "kind": "lift", "id": entry.id,
                     "by": actor, "note": note, "force": force, "entry": entry.to_json()}
            if self.store.remove_suppression(entry, audit):
                return entry
        raise DlrpolicyError(f"suppression {entry_id} kept changing while it was lifted: run the lift again")

    def lift_all(self, entry_ids: Sequence[str], *, actor: str, note: str, now: datetime,
                 force: bool = False) -> list[Suppression]:
        """Lift several entries (``lift --recipient`` naming more than one), all or none: every one is found and
        checked before any is lifted, so one opt-out among them refuses them all without ``force``."""
        require_storable(entry_ids=entry_ids, actor=actor, note=note)
        entries = []
        for ident in entry_ids:
            entry = self.store.suppression(ident)
            if entry is None:
                raise NotFoundError("suppression", ident, "find it with `dlrpolicy suppressions list`")
            entries.append(entry)
        refused = [entry for entry in entries if not entry.liftable]
        if refused and not force:
            raise LiftRefusedError(", ".join(e.id for e in refused),
                                   ", ".join(sorted({str(e.reason.get("rule")) for e in refused})))
        return [self.lift(entry.id, actor=actor, note=note, now=now, force=force) for entry in entries]

    def find_entries(self, tenant: str | None, *, recipient: str | None = None, channel: str | None = None,
                     sender: str | None = None, template: str | None = None,
                     advertising: bool = False) -> list[Suppression]:
        """Entries naming exactly these values (for ``lift --recipient``), active or not; with ``advertising`` also
        those of the advertising scopes."""
        require_storable(tenant=tenant, recipient=recipient, channel=channel, sender=sender, template=template)
        name = tenant or NO_TENANT
        region = self.settings_for(tenant).region
        wanted: list[str] = []
        scopes = [("recipient_channel", recipient), ("recipient_sender", recipient), ("recipient", recipient),
                  ("sender", sender), ("sender_domain", sender), ("template", template)]
        if advertising:
            scopes += [("recipient_channel_advertising", recipient), ("recipient_sender_advertising", recipient)]
        for scope, raw in scopes:
            if raw is None:
                continue
            normal = suppression_key(scope, raw=raw, channel=channel, region=region, sender=sender)
            if normal is not None:
                wanted.append(entry_id(name, scope, normal))
        entries, _ = self.store.lookup(name, wanted) if wanted else ([], [])
        return entries

    def export(self, *, tenant: str | None = None) -> Iterator[str]:
        """Every entry as one JSON line."""
        require_storable(tenant=tenant)
        for entry in self.store.suppressions(tenant=None if tenant is None else tenant):
            yield json.dumps(entry.to_json(), ensure_ascii=False)

    def import_lines(self, lines: Iterable[str], *, now: datetime, origin: str = "import") -> int:
        """Validate every line first, then apply them; every bad line is reported with its number
        (`ImportLineError`) and then nothing is applied.  Idempotent: a line already applied to its entry
        changes nothing, so running the same import again is always safe.  SQLite applies an import in one
        transaction (all or none); Redis per tenant chunk of 1,000 entries, each atomic — an import that failed
        half-way is finished by running it again."""
        entries = parse_lines(lines, now=now, origin=origin, region_of=lambda tenant: self.settings_for(tenant).region)
        return self.store.import_suppressions(entries) if entries else 0

    def prune(self, *, now: datetime) -> int:
        """Drop expired entries; how many."""
        require_aware("now", now)
        return self.store.prune(ms(ts(now)))

    # --- incidents and holds -----------------------------------------------------------------------------------

    def resolve(self, incident_id: str, *, now: datetime, actor: str, note: str = "", release: str = "retry",
                rate: float | None = None) -> Resolution:
        """Resolve an incident: release its held messages into the schedule, ``rate`` per second from ``now``
        (the policy's ``[incidents] release_rate`` by default), or drop them with the note as the reason.
        Running it again on a resolved incident finishes a release that was interrupted."""
        require_storable(actor=actor, note=note)
        if release not in ("retry", "drop"):
            raise SettingError("release", release, "use 'retry' (into the schedule) or 'drop' (with a note)")
        if release == "drop" and not note.strip():
            raise SettingError("note", note, "release='drop' needs a note: the reason recorded with every message "
                                             "it drops")
        if rate is not None and not rate > 0:  # NaN too; the policy's release_rate is checked when it is read
            raise SettingError("rate", rate, "use a positive number of messages per second")
        found = self.incident(incident_id)
        if found is None:
            raise NotFoundError("incident", incident_id, "list them with `dlrpolicy incidents list`")
        tenant = found.tenant or NO_TENANT
        per_second = rate if rate is not None else self.settings_for(found.tenant).incidents.release_rate
        closed = self.store.close_incident(incident_id, now=ms(ts(now)), actor=actor, note=note)
        if found.state == "open":
            self.notify("resolved", incident_id)
        count, first, last = 0, None, None
        while keys := self.store.held(incident_id, limit=500):
            for key in keys:
                due = now + timedelta(seconds=count / per_second) if release == "retry" else None
                self._release(tenant, key, closed, due, actor=actor, note=note, now=now)
                first, last, count = first or due, due, count + 1
        return Resolution(incident=closed, release=release, count=count, first_due=first, last_due=last)

    def _release(self, tenant: str, key: str, incident: Incident, due: datetime | None, *, actor: str, note: str,
                 now: datetime) -> None:
        def change(state: dict[str, Any]) -> list[dict[str, Any]]:
            ops: list[dict[str, Any]] = [{"op": "unhold", "key": key}]
            event = {"kind": "released" if due is not None else "dropped", "incident": incident.id, "by": actor,
                     "note": note, "at": iso_z(now), "due": iso_z(due)}
            state["events"] = [*state.get("events", [])[-49:], event]
            state["held"] = False
            newest = last_report(state)
            last = None if newest is None else newest["decision"]
            if due is not None and last is not None:
                outcome = newest.get("outcome") or {} if newest is not None else {}
                entry = ScheduleEntry(tenant=None, key=key, kind="retry", due_at=due, deadline=None,
                                      channel=outcome.get("channel"), attempt=int(last["attempt"]), rule=last["rule"])
                ops.append({"op": "sched", "key": key, "entry": {
                    "tenant": tenant, "key": key, "kind": "retry", "due": ts(entry.due_at), "deadline": None,
                    "channel": entry.channel, "attempt": entry.attempt, "rule": entry.rule}})
                state["sched"] = True
            elif due is None and newest is not None and last is not None:
                # Dropped: the decision in force becomes a final one that says so, and why.
                dropped = attrs.evolve(decision_from_json(last), verdict="suppress", retry_at=None, check_at=None,
                                       reason=f"{last['reason']} Dropped by {actor} resolving incident "
                                       f"{incident.id}: {note}")
                line = {"id": f"dropped:{incident.id}", "at": iso_z(now), "superseded": False,
                        "outcome": newest.get("outcome"), "decision": dropped.to_json()}
                state["_raw"] = [*state.get("_raw", [])[-49:], dumps(line)]
            return ops

        self.update_message(tenant, key, change)

    def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        require_storable(incident_id=incident_id)
        return self.store.incident(incident_id)

    def incidents(self, *, now: datetime, tenant: str | None = None, state: str | None = None) -> list[Incident]:
        """Incidents, newest first, after ending holds past their maximum age (so none is listed as holding a
        message that a claim would end)."""
        require_storable(tenant=tenant, state=state)
        self.expire_holds(now=now)
        return self.store.incidents(tenant=tenant, state=state)

    def expire_holds(self, *, now: datetime) -> int:
        """End holds older than each tenant's ``[incidents] max_hold`` as exhausted (suppressed); how many."""
        require_aware("now", now)
        ended = 0
        for tenant in self.store.tenants():
            max_hold = self.settings_for(None if tenant == NO_TENANT else tenant).incidents.max_hold
            for key, incident in self.store.expired_holds(tenant, ts(now - max_hold), limit=1000):
                self._end_hold(tenant, key, incident, max_hold, now)
                ended += 1
        return ended

    def _end_hold(self, tenant: str, key: str, incident: str, max_hold: timedelta, now: datetime) -> None:
        def change(state: dict[str, Any]) -> list[dict[str, Any]]:
            newest = last_report(state)
            if newest is not None:
                decision = decision_from_json(newest["decision"])
                ended = attrs.evolve(decision, verdict="suppress", retry_at=None, reason=(
                    f"{decision.reason} Gave up: held longer than {max_hold} under incident {incident}."))
                line = {"id": f"hold-expired:{incident}", "at": iso_z(now), "superseded": False,
                        "outcome": newest.get("outcome"), "decision": ended.to_json()}
                state["_raw"] = [*state.get("_raw", [])[-49:], dumps(line)]
            state["events"] = [*state.get("events", [])[-49:], {"kind": "hold-expired", "incident": incident,
                                                                 "at": iso_z(now)}]
            state["held"] = False
            return [{"op": "unhold", "key": key}]

        self.update_message(tenant, key, change)

    def exhaust(self, entry: ScheduleEntry, *, now: datetime) -> Recorded | DlrpolicyError | None:
        """End a claimed entry past its deadline as the rule's exhausted decision, recorded like a report."""
        tenant = entry.tenant or NO_TENANT
        state, _ = self.store.read_message(tenant, entry.key)
        newest = None if state is None else last_report(state)
        if newest is None or newest.get("outcome") is None:
            return None
        outcome = Outcome.from_json(newest["outcome"])
        # A distinct identity per schedule entry: a second claimant of the same entry records a duplicate.
        outcome = attrs.evolve(outcome, done_at=entry.deadline)
        # A replay: the message's last report again, not new traffic on the route (a worker catching up on many
        # expired entries must not open a breaker or spend a budget).
        (result,) = self.record_many([Report(outcome=outcome, key=entry.key, replay=True)], now=now)
        return result
