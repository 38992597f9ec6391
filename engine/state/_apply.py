"""One report against the message's stored state, in memory: dedupe, history, evaluation, flood control, and
the list of writes (ops) that carry the decision out.  Both stores apply the same ops in one transaction (SQLite)
or one script (Redis), checking that the message is still at the version it was read at.

Ops, in order: ``msg`` (the message's new state; first, with the version check), ``link`` (provider id ->
message key), ``sup`` (suppression upsert: never shortens ``until``, counts the hit), ``sched``/``unsched`` (the
message's schedule entry), ``inc`` (incident hit, optionally holding the message), ``unhold``, ``fc`` (flood
counters), ``brk`` (breaker transition, applied only at the generation it was decided at).  `Recorder.sent` adds
``ver`` (another message must still be at the version read), ``drop`` (delete a message merged into this one,
checked likewise) and ``movehold`` (the merged message's hold moves to this one); every version is checked before
anything is written."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ..model._decision import Decision, decision_from_json
from ..model._outcome import History, Outcome
from ..model._vocabulary import DEFAULT_CHANNEL
from ..policy._settings import StateSettings
from ._codec import (
    decision_text,
    dumps,
    encode_message,
    from_ts,
    iso_utc,
    ms,
    outcome_text,
    ts,
)
from ._flood import EMPTY, RouteCounters, control
from ._keys import CHANNEL_SCOPES, entry_id, incident_id, suppression_key
from ._records import Recorded, ScheduleEntry, tenant_of

Op = dict[str, Any]
Evaluate = Callable[[Outcome, History], Decision]

#: Reports kept per message for `history` (their ids are kept longer, for dedupe).
MAX_REPORTS: Final = 50
MAX_SEEN: Final = 1000


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(slots=False)
class Snapshot:
    """What a store read for one report: the message key it resolved, the message's state at ``version``
    (None: a message never seen) and the route's flood counters."""

    key: str
    version: int
    state: Mapping[str, Any] | None
    counters: RouteCounters = EMPTY


# Not slotted (like Outcome and Decision): a frozen attrs class with a __dict__ builds about twice as fast, and
# one of these is built per recorded report.
@attrs.frozen(slots=False)
class Change:
    """The outcome of applying a report: the result, and the ops to commit (none for a duplicate)."""

    recorded: Recorded
    ops: list[Op]


def route_of(outcome: Outcome, channel: str | None = None) -> str:
    """The flood-control route of a report: provider and channel (``channel``: the decided one, when the report
    did not say)."""
    return f"{outcome.provider}:{channel or outcome.channel}"


def provider_key(provider: str, message_id: str) -> str:
    """How the ledger names a provider's message id (``infobip:m-1``)."""
    return f"{provider}:{message_id}"


def flood_ttl(settings: StateSettings) -> int:
    """Seconds a route's counters are kept after its last report (Redis expires the key then)."""
    found = _TTLS.get(id(settings))
    if found is None or found[0] is not settings:
        longest = max(settings.budget.window, settings.breaker.window, settings.breaker.max_break)
        if len(_TTLS) > 1024:
            _TTLS.clear()
        found = _TTLS[id(settings)] = (settings, int(2 * longest.total_seconds()) + 60)
    return found[1]


_TTLS: dict[int, tuple[StateSettings, int]] = {}


def history_of(state: Mapping[str, Any], hint: History | None = None) -> History:
    """The `History` a report about this message is decided with (``hint``: a lower bound the caller knows)."""
    ids = state.get("ids", {})
    first = state.get("first")
    attempts = max(1, len(ids))
    channels = state.get("channels", ())
    if hint is None:
        # History validates its fields on construction (a few us); the same few combinations repeat across a
        # batch (attempt 1, first sent at the same second, on sms), and a History is frozen, so one is shared.
        cache_key = (attempts, first, *channels)
        found = _HISTORIES.get(cache_key)
        if found is None:
            if len(_HISTORIES) >= 4096:
                _HISTORIES.clear()
            found = _HISTORIES[cache_key] = History(attempts=attempts, first_attempt_at=None if first is None
                                                    else from_ts(first), channels=tuple(channels))
        return found
    first_at = None if first is None else from_ts(first)
    attempts = max(attempts, hint.attempts)
    if hint.first_attempt_at is not None and (first_at is None or hint.first_attempt_at < first_at):
        first_at = hint.first_attempt_at
    return History(attempts=attempts, first_attempt_at=first_at, channels=tuple(channels))


_HISTORIES: dict[tuple[Any, ...], History] = {}


def add_send(state: dict[str, Any], pid: str, *, channel: str | None, at: float, source: str) -> None:
    """Count an attempt: a distinct provider message id (a report's or a recorded send's).  ``channel`` None: the
    report did not say; `note_channel` fills it in once the decision has resolved it."""
    ids = state.setdefault("ids", {})
    if pid not in ids:
        ids[pid] = {"channel": channel, "at": at, "rank": -1, "source": source}
        first = state.get("first")
        state["first"] = at if first is None else min(first, at)
        if channel is not None:
            note_channel(state, pid, channel)


def note_channel(state: dict[str, Any], pid: str, channel: str) -> None:
    """Record that attempt ``pid`` went out on ``channel`` (and that the message has tried it)."""
    state["ids"][pid]["channel"] = channel
    channels = state.setdefault("channels", [])
    if channel not in channels:
        channels.append(channel)


def decided_channel(outcome: Outcome, decision: Decision) -> str:
    """The channel a report was about: its own, else the one its decided code's table implies (what evaluate
    and `channel_for` use)."""
    if outcome.channel is not None:
        return outcome.channel
    return DEFAULT_CHANNEL.get(decision.code.product or "", "sms")


def last_report(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The newest report that was not superseded (its decision is the one in force), or None."""
    for line in reversed(state.get("_raw", ())):
        stored: dict[str, Any] = json.loads(line)
        if not stored.get("superseded"):
            return stored
    return None


def report_time(line: Mapping[str, Any]) -> float:
    """When a stored report happened: its done time, else its send time, else when it was recorded (an API
    error names neither).  Orders reports of one message whatever order they arrived in."""
    outcome = line.get("outcome") or {}
    for name in ("done_at", "sent_at"):
        if outcome.get(name):
            return ts(datetime.fromisoformat(str(outcome[name]).replace("Z", "+00:00")))
    return ts(datetime.fromisoformat(str(line["at"]).replace("Z", "+00:00")))


def final_time(state: Mapping[str, Any]) -> float | None:
    """When the newest final report the message acted on happened (`report_time`; None: none yet).  Kept in the
    state as ``fin``; worked out from the reports for a state written before it was kept."""
    if "fin" in state:
        found: float | None = state["fin"]
        return found
    times = [report_time(line) for line in (json.loads(text) for text in state.get("_raw", ()))
             if not line.get("superseded") and line["decision"]["verdict"] != "wait"]
    return max(times, default=None)


def last_decision(state: Mapping[str, Any]) -> dict[str, Any]:
    """The decision in force: that of the newest report that was not superseded."""
    found = last_report(state)
    if found is None:
        raise KeyError("the message has no decision yet")
    return dict(found["decision"])


def _find(state: Mapping[str, Any], identity: str) -> dict[str, Any] | None:
    marker = f'"id":"{identity}"'
    for line in reversed(state.get("_raw", ())):
        if marker in line:
            found: dict[str, Any] = json.loads(line)
            return found
    return None


_NOW: list[Any] = [None, "", 0.0]


def _now_parts(now: datetime) -> tuple[str, float]:
    # A batch shares one `now`: format it and take its epoch seconds once.
    if _NOW[0] is not now:
        _NOW[0], _NOW[1], _NOW[2] = now, iso_utc(now), ts(now)
    return str(_NOW[1]), float(_NOW[2])


def _rank(decision: Decision) -> int:
    # A report that leaves the message waiting is not final; any other verdict is.
    return 0 if decision.verdict == "wait" else 1


def apply_report(outcome: Outcome, *, snapshot: Snapshot, tenant: str, identity: str, now: datetime,
                 evaluate: Evaluate, settings: StateSettings, hint: History | None = None,
                 flood: bool = True) -> Change:
    """Dedupe, evaluate with the stored history, apply flood control and list the writes (``flood`` False: a
    replayed report, which flood control neither counts nor shapes)."""
    key = snapshot.key
    state: dict[str, Any]
    seen: list[str]
    lines: list[str]
    if snapshot.state is None:
        state, seen, lines = {"ids": {}}, [], []
    else:
        seen = snapshot.state.get("seen", [])
        if identity in seen:
            stored = _find(snapshot.state, identity)
            decision = decision_from_json(stored["decision"] if stored else last_decision(snapshot.state))
            return Change(Recorded(decision=decision, tenant=tenant_of(tenant), key=key, report=identity,
                                   history=history_of(snapshot.state, hint), duplicate=True,
                                   held=bool(snapshot.state.get("held"))), [])
        # A copy: the snapshot may be the batch's own view of the message, still needed if this report fails.  The
        # report lines are kept apart (they are never edited, only added to), the rest is the head.
        state = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                 for k, v in snapshot.state.items() if k != "_raw"}
        state["ids"] = {pid: dict(entry) for pid, entry in state.get("ids", {}).items()}
        lines = snapshot.state.get("_raw", [])
    now_text, now_ts = _now_parts(now)
    pid = provider_key(outcome.provider, outcome.message_id) if outcome.message_id is not None else None
    sent = ts(outcome.sent_at) if outcome.sent_at is not None else now_ts
    send_id = pid
    if pid is not None:
        add_send(state, pid, channel=outcome.channel, at=sent, source="report")
    elif not state["ids"]:  # a report naming no message id (an API error) still stands for one attempt
        send_id = f"report:{identity}"
        add_send(state, send_id, channel=outcome.channel, at=sent, source="report")
    history = history_of(state, hint)
    decision = evaluate(outcome, history)
    channel = decided_channel(outcome, decision)
    if send_id is not None and outcome.channel is None and state["ids"][send_id]["channel"] is None:
        note_channel(state, send_id, channel)
    rank = _rank(decision)
    previous = state["ids"][pid]["rank"] if pid is not None else -1
    # Status rank is per message, not only per attempt: a report that happened before the newest final report
    # the message acted on (a late PENDING or a stale failure of an earlier attempt, after the resend was
    # DELIVERED) changes nothing, as a PENDING after its own attempt's final report changes nothing.
    when = outcome.done_at or outcome.sent_at
    happened = now_ts if when is None else ts(when)
    fin = None if snapshot.state is None else final_time(snapshot.state)
    superseded = rank < previous or (fin is not None and happened < fin)
    ops: list[Op] = [{"op": "msg", "key": key, "expect": snapshot.version}]
    if pid is not None and outcome.message_id != key:  # a message id that is its own key needs no link
        ops.append({"op": "link", "pid": pid, "key": key})
    notes: tuple[str, ...] = ()
    suppression = incident = None
    schedule: ScheduleEntry | None = None
    held = False
    route = route_of(outcome, channel)
    if not superseded:
        if pid is not None:
            state["ids"][pid]["rank"] = rank
        state["fin"] = fin if rank == 0 else max(happened, fin or happened)
        if flood:
            shaped = control(decision, settings=settings, route=route, channel=channel,
                             counters=snapshot.counters, now=now_ts, key=key)
            decision, notes = shaped.decision, shaped.notes
            ttl = flood_ttl(settings)
            ops.append({"op": "fc", "route": route, "bucket": shaped.bucket, "add": list(shaped.add),
                        "xb": shaped.retry_bucket, "keep": shaped.keep_from, "ttl": ttl})
            if shaped.breaker is not None:
                ops.append({"op": "brk", "route": route, "until": shaped.breaker[0], "brk": shaped.breaker[1],
                            "since": shaped.breaker[2], "gen": shaped.gen, "ttl": ttl})
        held = decision.escalate is not None and decision.rule in settings.holds
        account_wide = decision.suppress is not None and decision.suppress.scope == "account"
        if decision.suppress is not None and not (held and account_wide):
            sup = _suppression(outcome, decision, tenant=tenant, key=key, now_ts=now_ts, settings=settings,
                               channel=channel)
            if sup is not None:
                ops.append({"op": "sup", "id": sup["id"], "entry": sup})
                suppression = sup["id"]
        if decision.escalate is not None:
            cause = f"{decision.rule}@{outcome.provider}" if account_wide else decision.rule
            group = f"{decision.escalate.route}|{cause}"
            incident = incident_id(tenant, decision.escalate.route, cause, f"{identity}:{now_ts}")
            ops.append({"op": "inc", "group": group, "id": incident, "now": ms(now_ts), "key": key,
                        "recipient": outcome.recipient or "", "hold": held,
                        "entry": {"route": decision.escalate.route, "cause": cause, "rule": decision.rule,
                                  "severity": decision.escalate.severity, "account_wide": account_wide and held}})
        elif state.get("held"):
            ops.append({"op": "unhold", "key": key})
        state["held"] = held or (decision.escalate is not None and bool(state.get("held")))
        schedule = None if held else schedule_for(decision, tenant=tenant, key=key, channel=channel)
        if schedule is not None:
            ops.append({"op": "sched", "key": key, "entry": _stored_entry(schedule, tenant)})
        elif state.get("sched"):
            ops.append({"op": "unsched", "key": key})
        state["sched"] = schedule is not None
    flood_text = "" if not notes else f',"flood":{dumps(list(notes))}'
    line = (f'{{"id":"{identity}","at":"{now_text}","superseded":{"true" if superseded else "false"}'
            f'{flood_text},"outcome":{outcome_text(outcome)},"decision":{decision_text(decision)}}}')
    state["seen"] = [*seen[-(MAX_SEEN - 1):], identity]
    state["v"] = snapshot.version + 1
    ops[0]["state"] = encode_message(state, [*lines[-(MAX_REPORTS - 1):], line])
    recorded = Recorded(decision=decision, tenant=tenant_of(tenant), key=key, report=identity, history=history,
                        superseded=superseded, suppression=suppression, schedule=schedule, incident=incident,
                        held=held, flood=notes)
    return Change(recorded, ops)


def _suppression(outcome: Outcome, decision: Decision, *, tenant: str, key: str, now_ts: float,
                 settings: StateSettings, channel: str) -> dict[str, Any] | None:
    effect = decision.suppress
    assert effect is not None
    scope = effect.scope
    raws = {"message": key, "recipient": outcome.recipient, "recipient_channel": outcome.recipient,
            "recipient_channel_advertising": outcome.recipient, "recipient_sender": outcome.recipient,
            "recipient_sender_advertising": outcome.recipient, "sender": outcome.sender,
            "sender_domain": outcome.sender, "template": outcome.template, "account": tenant}
    normal = suppression_key(scope, raw=raws.get(scope), channel=channel, region=settings.region,
                             sender=outcome.sender)
    if normal is None:
        return None
    code = decision.code
    return {
        "id": entry_id(tenant, scope, normal), "tenant": tenant, "scope": scope, "key": normal,
        "channel": channel if scope in CHANNEL_SCOPES else None,
        "reason": {"rule": decision.rule, "code": f"{code.provider} {code.kind} {code.id} {code.name or ''}".strip(),
                   "text": decision.reason},
        "origin": "policy", "liftable": decision.rule not in settings.unliftable, "created": ms(now_ts),
        "updated": ms(now_ts), "until": None if effect.until is None else ms(ts(effect.until)), "source": key,
        "hits": 1,
    }


def schedule_for(decision: Decision, *, tenant: str, key: str, channel: str) -> ScheduleEntry | None:
    """The schedule entry a decision asks for: a retry at ``retry_at``, a check at ``check_at``, or None."""
    if decision.verdict == "retry" and decision.retry_at is not None:
        due, kind = decision.retry_at, "retry"
    elif decision.verdict == "wait" and decision.check_at is not None:
        due, kind = decision.check_at, "check"
    else:
        return None
    return ScheduleEntry(tenant=tenant_of(tenant), key=key, kind=kind, due_at=due, deadline=decision.give_up_at,
                         channel=decision.channel or channel, attempt=decision.attempt, rule=decision.rule)


def _stored_entry(entry: ScheduleEntry, tenant: str) -> dict[str, Any]:
    return {"tenant": tenant, "key": entry.key, "kind": entry.kind, "due": ts(entry.due_at),
            "deadline": None if entry.deadline is None else ts(entry.deadline), "channel": entry.channel,
            "attempt": entry.attempt, "rule": entry.rule}


def stored_entry(entry: ScheduleEntry, tenant: str) -> dict[str, Any]:
    """A schedule entry in the stores' form."""
    return _stored_entry(entry, tenant)
