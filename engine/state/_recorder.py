"""`Recorder`: decisions with memory.  Reads a message's history from the store, evaluates (``evaluate`` stays
pure), applies flood control, and commits the history, the decision and every effect together; then tells
subscribers about incidents that opened or grew to a round count.  Also the calls a pipeline makes around
sends: `sent`, `check`, and the schedule's `claim` / `ack` / `extend`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import structlog

from .._errors import DlrpolicyError
from ..decide._engine import Engine
from ..decide._evaluate import evaluate
from ..decide._resolve import channel_for
from ..model._datetimes import require_aware
from ..model._duration import parse_duration
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..policy._settings import StateSettings
from ._apply import Change, Snapshot, add_send, apply_report, provider_key, route_of
from ._codec import encode_state, ts
from ._keys import NO_TENANT, candidates, report_identity
from ._operations import Operations
from ._records import IncidentEvent, MessageHistory, Recorded, ScheduleEntry, Suppression
from ._store import Committed, Item, Report, Store

#: Incident counts at which subscribers hear of it again (1 is "opened").
MILESTONES: Final = frozenset(10**n for n in range(1, 13))

Hook = Callable[[IncidentEvent], object]


class Recorder(Operations):
    """Records reports through ``engine`` into ``store``.

    >>> recorder = Recorder(Engine.default(), open_store("sqlite:///state.db"))  # doctest: +SKIP
    >>> result = recorder.record(outcome, now=datetime.now(UTC))                 # doctest: +SKIP
    >>> result.decision.verdict, result.attempts, result.duplicate               # doctest: +SKIP
    """

    def __init__(self, engine: Engine, store: Store, *, logger: Any = None, retries: int = 50) -> None:
        self.engine = engine
        self.store = store
        self.logger = logger if logger is not None else structlog.get_logger("dlrpolicy.state")
        self.retries = retries
        self._hooks: list[Hook] = []

    # --- policies ----------------------------------------------------------------------------------------------

    def policy_for(self, tenant: str | None) -> CompiledPolicy:
        """The compiled policy of ``tenant``: `Engine.for_tenant`'s, so a tenant without a policy file is a
        `TenantError` unless the engine was made with ``default_for_unknown=True``, as everywhere else."""
        if tenant is None:
            return self.engine.policy
        return self.engine.for_tenant(tenant).policy

    def settings_for(self, tenant: str | None) -> StateSettings:
        """The state settings of ``tenant``'s policy."""
        return self.policy_for(tenant).spec.settings

    # --- notifications -----------------------------------------------------------------------------------------

    def subscribe(self, hook: Hook) -> None:
        """Call ``hook(IncidentEvent)`` when an incident opens, reaches 10, 100, 1000 ... or is resolved."""
        self._hooks.append(hook)

    def notify(self, kind: str, incident_id: str, count: int | None = None) -> None:
        """Log one ``incident`` event and call the subscribers."""
        incident = self.store.incident(incident_id)
        if incident is None:
            return
        event = IncidentEvent(kind=kind, count=incident.count if count is None else count, incident=incident)
        self.logger.warning("incident", change=kind, at_count=event.count, **incident.to_json())
        for hook in self._hooks:
            hook(event)

    def _announce(self, committed: Sequence[Committed]) -> None:
        for item in committed:
            for hit in item.hits:
                if hit.opened:
                    self.notify("opened", hit.id, hit.count)
                elif hit.count in MILESTONES:
                    self.notify("grew", hit.id, hit.count)

    # --- recording ---------------------------------------------------------------------------------------------

    def _item(self, report: Report, now: datetime) -> Item:
        outcome = report.outcome
        identity = report_identity(outcome, now)
        pid = provider_key(outcome.provider, outcome.message_id) if outcome.message_id is not None else None
        channel = outcome.channel
        if channel is None:  # a report that names no channel is routed on the one its code's table implies
            try:
                channel = channel_for(report.policy or self.policy_for(outcome.tenant), outcome)
            except DlrpolicyError:
                channel = "sms"  # the policy's own error is reported when the report is decided
        return Item(outcome=outcome, tenant=outcome.tenant or NO_TENANT, key=report.key, pid=pid,
                    default_key=outcome.message_id or f"report:{identity}", identity=identity,
                    route=route_of(outcome, channel), hint=report.history)

    def record_many(self, reports: Sequence[Report], *, now: datetime) -> list[Recorded | DlrpolicyError]:
        """Record a batch: one transaction (SQLite) or one pipelined round of scripts (Redis).

        A report that cannot be decided comes back as its error; the others are recorded.  A store that fails
        raises (`StateError`): nothing of the batch is lost on SQLite, and on Redis the reports already committed
        are duplicates when the batch is recorded again.
        """
        require_aware("now", now)
        items = [self._item(report, now) for report in reports]
        policies = [report.policy for report in reports]
        index = {id(item): i for i, item in enumerate(items)}

        def compute(item: Item, snapshot: Snapshot) -> Change | DlrpolicyError:
            policy = policies[index[id(item)]] or self.policy_for(item.outcome.tenant)
            try:
                return apply_report(item.outcome, snapshot=snapshot, tenant=item.tenant, identity=item.identity,
                                    now=now, settings=policy.spec.settings, hint=item.hint,
                                    evaluate=lambda o, h: evaluate(policy, o, now=now, history=h))
            except DlrpolicyError as exc:
                return exc

        committed = self.store.record(items, compute)
        self._announce(committed)
        results: list[Recorded | DlrpolicyError] = []
        for item in committed:
            if isinstance(item.change, DlrpolicyError):
                results.append(item.change)
            elif item.hits:  # the store knows which incident the escalation joined (an open one, or a new one)
                results.append(attrs.evolve(item.change.recorded, incident=item.hits[-1].id,
                                            incident_count=item.hits[-1].count))
            else:
                results.append(item.change.recorded)
        return results

    def record(self, outcome: Outcome, *, now: datetime, key: str | None = None, history: History | None = None,
               policy: CompiledPolicy | None = None) -> Recorded:
        """Record one report and return the decision with its history and effects (raises when undecidable)."""
        (result,) = self.record_many([Report(outcome=outcome, key=key, history=history, policy=policy)], now=now)
        if isinstance(result, DlrpolicyError):
            raise result
        return result

    def sent(self, *, key: str, provider: str, channel: str, at: datetime, message_id: str | None = None,
             tenant: str | None = None) -> MessageHistory:
        """Tell the ledger an attempt went out: as provider message id ``message_id`` on ``channel`` at ``at``.

        Links the id to ``key`` so the reports about this attempt land on the message's history; sending the same
        id twice counts once.
        """
        require_aware("at", at)
        name = tenant or NO_TENANT

        def change(state: dict[str, Any]) -> list[dict[str, Any]]:
            count = len(state.get("ids", {}))
            pid = provider_key(provider, message_id) if message_id is not None else f"send:{count + 1}"
            add_send(state, pid, channel=channel, at=ts(at), source="send")
            events = state.setdefault("events", [])
            events.append({"kind": "sent", "provider_id": message_id, "channel": channel, "at": at.isoformat()})
            state["events"] = events[-50:]
            return [{"op": "link", "pid": pid, "key": key}] if message_id is not None else []

        self.update_message(name, key, change)
        found = self.history(key, tenant=tenant)
        assert found is not None
        return found

    def update_message(self, tenant: str, key: str, change: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        """Read the message, let ``change`` edit its state and return extra ops, commit; again on a conflict."""
        for _ in range(self.retries):
            state, version = self.store.read_message(tenant, key)
            edited: dict[str, Any] = dict(state or {})
            edited["_raw"] = list(edited.get("_raw", ()))
            edited["ids"] = {pid: dict(v) for pid, v in edited.get("ids", {}).items()}
            extra = change(edited)
            edited["v"] = version + 1
            ops = [{"op": "msg", "key": key, "expect": version, "state": encode_state(edited)}, *extra]
            hits = self.store.commit(tenant, ops)
            if hits is not None:
                return
        raise DlrpolicyError(f"message {key!r} kept changing under {self.retries} attempts to update it: retry")

    def history(self, key: str, *, tenant: str | None = None) -> MessageHistory | None:
        """What the ledger knows about message ``key`` (None: never recorded)."""
        name = tenant or NO_TENANT
        state, version = self.store.read_message(name, key)
        if state is None:
            linked = self.store.resolve_key(name, key) if ":" in key else None
            if linked is None:
                return None
            key = linked
            state, version = self.store.read_message(name, key)
            if state is None:
                return None
        return MessageHistory.from_state(name, key, state, version)

    # --- before a send -----------------------------------------------------------------------------------------

    def check(self, tenant: str | None = None, *, now: datetime, recipient: str | None = None,
              channel: str | None = None, sender: str | None = None, template: str | None = None,
              key: str | None = None, advertising: bool = False) -> Suppression | None:
        """The most specific active suppression that blocks this send, or the tenant's account hold (an open
        account-wide incident); None: allowed.  One round trip on Redis.

        ``advertising``: the send is advertising (a promotion), which entries of the advertising scopes also
        block (opt-outs from one sender's advertising, a number that refuses promotional messages)."""
        require_aware("now", now)
        name = tenant or NO_TENANT
        region = self.settings_for(tenant).region
        wanted = candidates(tenant=name, key=key, recipient=recipient, channel=channel, sender=sender,
                            template=template, region=region, advertising=advertising)
        entries, holds = self.store.lookup(name, [entry_id for entry_id, _, _ in wanted])
        by_id = {entry.id: entry for entry in entries if entry.active(now)}
        for entry_id, _, _ in wanted:
            if entry_id in by_id:
                return by_id[entry_id]
        if holds:
            return self.hold_entry(name, holds[0])
        return None

    # --- the schedule ------------------------------------------------------------------------------------------

    def claim(self, *, now: datetime, limit: int = 100, lease: str | timedelta = "60s") -> list[ScheduleEntry]:
        """Lease up to ``limit`` due entries.  Entries past their deadline are not handed out: they end as the
        rule's exhausted decision, recorded; holds older than the policy's ``max_hold`` end too."""
        require_aware("now", now)
        span = parse_duration(lease) if isinstance(lease, str) else lease
        if limit < 1 or span <= timedelta(0):
            raise ValueError("claim needs limit >= 1 and a positive lease")
        self.expire_holds(now=now)
        entries = self.store.claim(now=ts(now), limit=limit, lease_until=ts(now + span))
        live = []
        for entry in entries:
            if entry.deadline is not None and entry.deadline < now:
                self.exhaust(entry, now=now)
            else:
                live.append(entry)
        return live

    def ack(self, token: str) -> bool:
        """Complete a claimed entry for good (False: the lease expired or a newer report replaced it)."""
        return self.store.ack(token)

    def extend(self, token: str, *, now: datetime, lease: str | timedelta = "60s") -> bool:
        """Renew a lease until ``now + lease`` (False: no longer held)."""
        span = parse_duration(lease) if isinstance(lease, str) else lease
        return self.store.extend(token, ts(now + span))

    def due(self, *, now: datetime, limit: int = 100) -> list[ScheduleEntry]:
        """Due entries, without claiming them."""
        return self.store.peek(now=ts(now), limit=limit)
