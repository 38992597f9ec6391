"""`Recorder`: decisions with memory.  Reads a message's history from the store, evaluates (``evaluate`` stays
pure), applies flood control, and commits the history, the decision and every effect together; then tells
subscribers about incidents that opened or grew to a round count.  Also the calls a pipeline makes around
sends: `sent`, `check`, and the schedule's `claim` / `ack` / `extend`."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import structlog

from .._errors import DlrpolicyError, SettingError
from ..decide._engine import Engine
from ..decide._evaluate import evaluate
from ..model._datetimes import iso_z, require_aware
from ..model._duration import parse_duration
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy
from ..policy._settings import StateSettings
from ._apply import (
    Change,
    Snapshot,
    add_send,
    apply_report,
    decided_channel,
    final_time,
    history_of,
    provider_key,
    schedule_for,
    stored_entry,
)
from ._codec import decision_text, dumps, encode_state, ts
from ._items import item_of, require_storable, unstorable
from ._keys import NO_TENANT, candidates
from ._merge import merge_messages
from ._operations import Operations
from ._records import IncidentEvent, MessageHistory, Recorded, ScheduleEntry, Suppression
from ._store import Committed, Item, Report, Store

#: Incident counts at which subscribers hear of it again (1 is "opened").
MILESTONES: Final = frozenset(10**n for n in range(1, 13))

#: Seconds of `now` between two sweeps for holds past their maximum age (`claim` runs them).
SWEEP_EVERY: Final = 60.0
#: Most schedule entries one `claim` or `due` call hands out (more: call again); the stores' integers end far above.
MAX_LIMIT: Final = 1_000_000

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
        self._swept: float | None = None

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

    def record_many(self, reports: Sequence[Report], *, now: datetime) -> list[Recorded | DlrpolicyError]:
        """Record a batch: one transaction (SQLite) or one pipelined round of scripts (Redis).

        A report that cannot be decided comes back as its error; the others are recorded.  A store that fails
        raises (`StateError`): nothing of the batch is lost on SQLite, and on Redis the reports already committed
        are duplicates when the batch is recorded again.
        """
        require_aware("now", now)
        refused = {n: problem for n, report in enumerate(reports) if (problem := unstorable(report)) is not None}
        if refused:  # those reports are their own errors; the rest of the batch is recorded
            kept = [report for n, report in enumerate(reports) if n not in refused]
            recorded = iter(self.record_many(kept, now=now) if kept else [])
            return [refused[n] if n in refused else next(recorded) for n in range(len(reports))]
        items = [item_of(report, now, self.policy_for) for report in reports]
        policies = [report.policy for report in reports]
        index = {id(item): i for i, item in enumerate(items)}

        policy_for = functools.cache(self.policy_for)  # a batch's reports share a few tenants' policies

        def compute(item: Item, snapshot: Snapshot) -> Change | DlrpolicyError:
            policy = policies[index[id(item)]] or policy_for(item.outcome.tenant)
            try:
                return apply_report(item.outcome, snapshot=snapshot, tenant=item.tenant, identity=item.identity,
                                    now=now, settings=policy.spec.settings, hint=item.hint, flood=not item.replay,
                                    evaluate=lambda o, h: evaluate(policy, o, now=now, history=h))
            except DlrpolicyError as exc:
                return exc

        committed = self.store.record(items, compute)
        self._announce(committed)
        results: list[Recorded | DlrpolicyError] = []
        for item, source in zip(committed, items, strict=True):
            if isinstance(item.change, DlrpolicyError):
                results.append(item.change)
            elif item.change.recorded.duplicate and item.change.recorded.held:  # still held: under which incident
                results.append(attrs.evolve(item.change.recorded,
                                            incident=self.store.holder(source.tenant, item.change.recorded.key)))
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
        id twice counts once.  A report that came before this call (webhooks can beat the send loop) was recorded
        as a message of its own under the provider's id: that message is merged into the key's, in the same
        commit — its attempts, reports and first attempt join the key's history, its schedule entry goes, and
        when its report is the newest it is decided again with the whole history (so the message keeps one
        schedule entry, with the attempt number and deadline of all its attempts).
        """
        require_aware("at", at)
        require_storable(key=key, provider=provider, channel=channel, message_id=message_id, tenant=tenant)
        name = tenant or NO_TENANT
        pid = provider_key(provider, message_id) if message_id is not None else None
        for _ in range(self.retries):
            own: tuple[str, Mapping[str, Any] | None, int] | None = None
            if pid is not None and message_id is not None and message_id != key \
                    and self.store.resolve_key(name, pid) is None:
                found, version = self.store.read_message(name, message_id)
                # Another provider's message may carry the same id: only a message holding this attempt is ours.
                own = (message_id, found if found is not None and pid in found.get("ids", {}) else None, version)
            change = functools.partial(self._send_ops, tenant=name, key=key, pid=pid, channel=channel, at=at,
                                       message_id=message_id, own=own)
            if self._try_update(name, key, change):
                found_history = self.history(key, tenant=tenant)
                assert found_history is not None
                return found_history
        raise DlrpolicyError(f"message {key!r} kept changing under {self.retries} attempts to update it: retry")

    def _send_ops(self, state: dict[str, Any], *, tenant: str, key: str, pid: str | None, channel: str,
                  at: datetime, message_id: str | None,
                  own: tuple[str, Mapping[str, Any] | None, int] | None) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        own_key, own_state, own_version = own if own is not None else ("", None, 0)
        if own_state is not None:
            state.update(merge_messages(state, own_state))
            # The provider id's message goes (checked at the version read, like the key's), every attempt of it
            # now finds the key, and its schedule entry and hold move with it.
            ops.append({"op": "drop", "key": own_key, "expect": own_version})
            ops += [{"op": "link", "pid": p, "key": key} for p in own_state.get("ids", {})]
            if own_state.get("sched"):
                ops.append({"op": "unsched", "key": own_key})
            if own_state.get("held"):
                ops.append({"op": "movehold", "src": own_key, "dst": key})
            ops += self._redecide(state, tenant=tenant, key=key, own=own_state)
            state["fin"] = final_time(state)
        elif own is not None:  # no message of its own yet: fail if one appears before this commits
            ops.append({"op": "ver", "key": own_key, "expect": own_version})
        count = len(state.get("ids", {}))
        send_id = pid if pid is not None else f"send:{count + 1}"
        add_send(state, send_id, channel=channel, at=ts(at), source="send")
        state["ids"][send_id]["source"] = "send"
        events = state.setdefault("events", [])
        events.append({"kind": "sent", "provider_id": message_id, "channel": channel, "at": at.isoformat()})
        if own_state is not None:
            events.append({"kind": "merged", "key": own_key, "at": at.isoformat()})
        state["events"] = events[-50:]
        if pid is not None:
            ops.append({"op": "link", "pid": pid, "key": key})
        return ops

    def _redecide(self, state: dict[str, Any], *, tenant: str, key: str,
                  own: Mapping[str, Any]) -> list[dict[str, Any]]:
        """When the merged message's report in force came from ``own``, it was decided as attempt 1 of a message
        of its own: decide it again with the merged history and schedule what that decision asks for."""
        lines = state.get("_raw", [])
        index = next((i for i in range(len(lines) - 1, -1, -1) if not json.loads(lines[i]).get("superseded")), None)
        if index is None or lines[index] not in own.get("_raw", ()):
            return []
        line = json.loads(lines[index])
        outcome = Outcome.from_json(line["outcome"])
        policy = self.policy_for(outcome.tenant)
        at = datetime.fromisoformat(str(line["at"]).replace("Z", "+00:00"))
        try:
            decision = evaluate(policy, outcome, now=at, history=history_of(state))
        except DlrpolicyError:
            return []  # undecidable now (a policy changed): the report keeps the decision it was recorded with
        line["decision"] = json.loads(decision_text(decision))
        line["redecided"] = iso_z(at)
        state["_raw"] = [*lines[:index], dumps(line), *lines[index + 1:]]
        schedule = None if state.get("held") else schedule_for(
            decision, tenant=tenant, key=key, channel=decided_channel(outcome, decision))
        if schedule is not None:
            state["sched"] = True
            return [{"op": "sched", "key": key, "entry": stored_entry(schedule, tenant)}]
        if state.get("sched"):
            state["sched"] = False
            return [{"op": "unsched", "key": key}]
        return []

    def update_message(self, tenant: str, key: str, change: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        """Read the message, let ``change`` edit its state and return extra ops, commit; again on a conflict."""
        for _ in range(self.retries):
            if self._try_update(tenant, key, change):
                return
        raise DlrpolicyError(f"message {key!r} kept changing under {self.retries} attempts to update it: retry")

    def _try_update(self, tenant: str, key: str, change: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> bool:
        state, version = self.store.read_message(tenant, key)
        edited: dict[str, Any] = dict(state or {})
        edited["_raw"] = list(edited.get("_raw", ()))
        edited["ids"] = {pid: dict(v) for pid, v in edited.get("ids", {}).items()}
        extra = change(edited)
        edited["v"] = version + 1
        ops = [{"op": "msg", "key": key, "expect": version, "state": encode_state(edited)}, *extra]
        return self.store.commit(tenant, ops) is not None

    def history(self, key: str, *, tenant: str | None = None) -> MessageHistory | None:
        """What the ledger knows about message ``key`` (None: never recorded)."""
        require_storable(key=key, tenant=tenant)
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
              key: str | None = None, advertising: bool = False, provider: str | None = None) -> Suppression | None:
        """The most specific active suppression that blocks this send, or the tenant's account hold (an open
        account-wide incident); None: allowed.  One round trip on Redis.

        ``advertising``: the send is advertising (a promotion), which entries of the advertising scopes also
        block (opt-outs from one sender's advertising, a number that refuses promotional messages).
        ``provider``: the provider the send goes through; an account hold is for the sends on the account it
        is about, so only holds of that provider count (None: any)."""
        require_aware("now", now)
        if not f"{recipient}{channel}{sender}{template}{key}{provider}".isascii():  # nearly always ASCII: one test
            require_storable(recipient=recipient, channel=channel, sender=sender, template=template, key=key,
                             provider=provider)
        name = tenant or NO_TENANT
        region = self.settings_for(tenant).region
        wanted = candidates(tenant=name, key=key, recipient=recipient, channel=channel, sender=sender,
                            template=template, region=region, advertising=advertising)
        entries, holds = self.store.lookup_candidates(name, [(entry_id, scope) for entry_id, scope, _ in wanted])
        by_id = {entry.id: entry for entry in entries if entry.active(now)}
        for entry_id, _, _ in wanted:
            if entry_id in by_id:
                return by_id[entry_id]
        for incident in holds:  # an account-wide cause is "<rule>@<provider>"
            if provider is None or incident.cause.rpartition("@")[2] == provider:
                return self.hold_entry(name, incident)
        return None

    # --- the schedule ------------------------------------------------------------------------------------------

    def claim(self, *, now: datetime, limit: int = 100, lease: str | timedelta = "60s") -> list[ScheduleEntry]:
        """Lease up to ``limit`` due entries.  Entries past their deadline are not handed out: they end as the
        rule's exhausted decision, recorded; holds older than the policy's ``max_hold`` end too."""
        require_aware("now", now)
        span = parse_duration(lease) if isinstance(lease, str) else lease
        if not 1 <= limit <= MAX_LIMIT:
            raise SettingError("limit", limit, f"claim from 1 to {MAX_LIMIT:,} entries per call")
        if span <= timedelta(0):
            raise SettingError("lease", lease, "use a positive lease, e.g. '60s': how long a claim is held")
        # The maximum-hold sweep reads every tenant: once a minute of `now` per recorder, not on every claim.
        if self._swept is None or abs(ts(now) - self._swept) >= SWEEP_EVERY:
            self.expire_holds(now=now)
            self._swept = ts(now)
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
        require_storable(token=token)
        return self.store.ack(token)

    def extend(self, token: str, *, now: datetime, lease: str | timedelta = "60s") -> bool:
        """Renew a lease until ``now + lease`` (False: no longer held)."""
        require_aware("now", now)
        require_storable(token=token)
        span = parse_duration(lease) if isinstance(lease, str) else lease
        return self.store.extend(token, ts(now + span))

    def due(self, *, now: datetime, limit: int = 100, exhausted: bool = True) -> list[ScheduleEntry]:
        """Up to ``limit`` due entries, without claiming them.  ``exhausted`` False: only what `claim` would hand
        out at ``now`` — not the entries past their deadline then, which a claim ends as the rule's exhausted
        decision (what ``dlrpolicy due`` prints).  True (the default) keeps them, for a look ahead at what comes
        due (``due(now=far_future, limit=1)``: the next entry, whatever its deadline)."""
        require_aware("now", now)
        if not 1 <= limit <= MAX_LIMIT:
            raise SettingError("limit", limit, f"ask for 1 to {MAX_LIMIT:,} entries per call")
        if exhausted:
            return self.store.peek(now=ts(now), limit=limit)
        asked = limit
        while True:
            entries = self.store.peek(now=ts(now), limit=asked)
            live = [entry for entry in entries if entry.deadline is None or entry.deadline >= now]
            if len(live) >= limit or len(entries) < asked:
                return live[:limit]
            asked *= 2  # as many again past their deadline: look further
