"""The lines ``dlrpolicy evaluate`` writes: one JSON object per decision, per error and per skipped part of a
record, each with the number of the record it came from (``input``).

A decision line is ``json.dumps({**decision.to_json(), "outcome": {...}, "message_id": ..., "input": N})``, byte
for byte, but built from pieces: what repeats across millions of decisions (a rule's identity, code and reason,
an outcome's provider and channel, an escalation) is serialised once and kept in bounded caches keyed by plain
strings and tuples (hashed in C, never by attrs' generated ``__hash__``); only what differs per report (times,
ids, recipients) is written per line.  Each line is split around its record number (`decision_body` ends with
``"input": ``, `LINE_START` opens error and skipped lines), so that worker processes can write lines before they
know the run-wide number of their records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import orjson

from ..adapters._records import error_fields, skipped_fields
from ..adapters._values import Skipped
from ..model._datetimes import iso_z
from ..model._decision import CodeIdentity, Decision, EscalateEffect
from ..model._outcome import Outcome

_escape: Callable[[str], str] = json.encoder.encode_basestring_ascii
_CACHE_MAX: Final = 4096
#: What error and skipped lines start with; the record number follows.
LINE_START: Final = '{"input": '

# The code object -> its JSON, by identity (the code of a catalog entry is one object shared by every decision
# about it); the entry holds the object, so its id cannot be reused while cached.
_CODES: dict[int, tuple[CodeIdentity, str]] = {}
# (rule, rule_source, layers, id(code), reason, policy_version) -> (code, the line from "rule" to "policy_version").
# Keyed by the code's id, confirmed by identity (as `_CODES` is): the key is hashed without a call for the code's
# JSON, which the entry's text already holds.
_TAILS: dict[tuple[object, ...], tuple[CodeIdentity, str]] = {}
# (provider, channel, channel_source) -> the outcome object up to its message id.
_OUTCOME_HEADS: dict[tuple[str, str | None, str | None], str] = {}
# (verdict, attempt, channel) -> from the verdict to the retry time; (route, severity) -> the escalate object.
_HEADS: dict[tuple[str, int, str | None], tuple[str, str]] = {}
_ESCALATIONS: dict[tuple[str, str], str] = {}


def _text(value: str | None) -> str:
    return "null" if value is None else _escape(value)


def _instant(value: datetime | None) -> str:
    """`iso_z` in quotes.  A UTC datetime (what evaluate computes) is written by orjson, whose RFC 3339 text is
    isoformat's (microseconds only when there are some; ``Z`` for UTC) in quotes, at 40% of the cost."""
    if value is None:
        return "null"
    if value.tzinfo is UTC:
        return _dumps(value, None, _UTC_Z).decode()  # positional: orjson parses keywords at a cost
    return f'"{iso_z(value)}"'


_dumps: Final = orjson.dumps
_UTC_Z: Final = orjson.OPT_UTC_Z


def _remember(cache: dict[object, object], key: object, value: object) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def _code_json(code: CodeIdentity) -> str:
    found = _CODES.get(id(code))
    if found is not None and found[0] is code:
        return found[1]
    text = json.dumps(code.to_json())
    _remember(_CODES, id(code), (code, text))  # type: ignore[arg-type]
    return text


def _tail(decision: Decision) -> str:
    """The line from "rule" to "policy_version" (`decision_body` reads `_TAILS` inline and calls this on a miss)."""
    code = decision.code
    key = (decision.rule, decision.rule_source, decision.layers, id(code), decision.reason, decision.policy_version)
    found = _TAILS.get(key)
    if found is not None and found[0] is code:
        return found[1]
    tail = (f', "rule": {_escape(decision.rule)}, "rule_source": {_escape(decision.rule_source)}, '
            f'"layers": {json.dumps(list(decision.layers))}, "code": {_code_json(code)}, '
            f'"reason": {_escape(decision.reason)}, "policy_version": {_escape(decision.policy_version)}')
    _remember(_TAILS, key, (code, tail))  # type: ignore[arg-type]
    return tail


def _head(decision: Decision) -> tuple[str, str]:
    key = (decision.verdict, decision.attempt, decision.channel)
    head = _HEADS.get(key)
    if head is None:
        head = (f'{{"verdict": {_escape(decision.verdict)}, "retry_at": ',
                f', "attempt": {decision.attempt}, "channel": {_text(decision.channel)}, "suppress": ')
        _remember(_HEADS, key, head)  # type: ignore[arg-type]
    return head


def _escalation(escalate: EscalateEffect) -> str:
    key = (escalate.route, escalate.severity)
    text = _ESCALATIONS.get(key)
    if text is None:
        text = f'{{"route": {_escape(escalate.route)}, "severity": {_escape(escalate.severity)}}}'
        _remember(_ESCALATIONS, key, text)  # type: ignore[arg-type]
    return text


def _channel_source(outcome: Outcome, decision: Decision) -> str | None:
    """Where the outcome's channel came from; ``code`` when nobody said it and the code's own table decided
    (``decision.code.product``), as for an unknown code or an event never."""
    if outcome.channel_source is None and outcome.channel is None and not decision.code.unknown and \
            decision.code.kind != "event":
        return "code"
    return outcome.channel_source


def _outcome_head(outcome: Outcome, source: str | None) -> str:
    key = (outcome.provider, outcome.channel, source)
    head = _OUTCOME_HEADS.get(key)
    if head is None:
        head = (f'{{"provider": {_escape(outcome.provider)}, "channel": {_text(outcome.channel)}, '
                f'"channel_source": {_text(source)}, "message_id": ')
        _remember(_OUTCOME_HEADS, key, head)  # type: ignore[arg-type]
    return head


def outcome_json(outcome: Outcome, decision: Decision | None = None) -> str:
    """The ``outcome`` object of an output line: what the decision was about, with the reported channel and where
    it came from: the report, the caller, a field only one channel carries (shape), or, when nobody said, ``code``:
    the code's own table decided (``decision.code.product``); null when not even that is known."""
    source = outcome.channel_source if decision is None else _channel_source(outcome, decision)
    return (f'{_outcome_head(outcome, source)}{_text(outcome.message_id)}, "recipient": {_text(outcome.recipient)}, '
            f'"sender": {_text(outcome.sender)}, "tenant": {_text(outcome.tenant)}}}')


def decision_body(decision: Decision, outcome: Outcome, end: str = "") -> str:
    """The decision line up to its record number: everything `decision_line` writes before ``N}``, then ``end``
    (``N}`` itself when the number is known: the line is joined once, not copied again to add it)."""
    # The hot path of the evaluate command: the caches are read inline, and the few values that differ per
    # report escaped in place.
    escape = _escape
    head = _HEADS.get((decision.verdict, decision.attempt, decision.channel))
    start, middle = head if head is not None else _head(decision)
    suppress = decision.suppress
    escalate = decision.escalate
    message_id, recipient, sender, tenant = outcome.message_id, outcome.recipient, outcome.sender, outcome.tenant
    message_id_json = "null" if message_id is None else escape(message_id)
    source = outcome.channel_source
    if source is None:
        source = _channel_source(outcome, decision)
    outcome_head = _OUTCOME_HEADS.get((outcome.provider, outcome.channel, source))
    retry_at, give_up_at, check_at = decision.retry_at, decision.give_up_at, decision.check_at
    code = decision.code
    found = _TAILS.get((decision.rule, decision.rule_source, decision.layers, id(code), decision.reason,
                        decision.policy_version))
    tail = found[1] if found is not None and found[0] is code else _tail(decision)
    suppress_json = "null" if suppress is None else \
        f'{{"scope": {escape(suppress.scope)}, "key": {_text(suppress.key)}, "until": {_instant(suppress.until)}}}'
    return (  # one f-string: the line is joined once, not copied again per part
        f'{start}{"null" if retry_at is None else _instant(retry_at)}, '
        f'"give_up_at": {"null" if give_up_at is None else _instant(give_up_at)}, '
        f'"check_at": {"null" if check_at is None else _instant(check_at)}{middle}{suppress_json}, '
        f'"escalate": {"null" if escalate is None else _escalation(escalate)}{tail}, '
        f'"outcome": {outcome_head or _outcome_head(outcome, source)}{message_id_json}, '
        f'"recipient": {"null" if recipient is None else escape(recipient)}, '
        f'"sender": {"null" if sender is None else escape(sender)}, '
        f'"tenant": {"null" if tenant is None else escape(tenant)}}}, '
        f'"message_id": {message_id_json}, "input": {end}'
    )


def decision_line(decision: Decision, outcome: Outcome, number: int) -> str:
    """``json.dumps({**decision.to_json(), "outcome": {...}, "message_id": ..., "input": number})``, byte for
    byte: ``outcome`` is `outcome_json`; ``message_id`` repeats the outcome's, for readers of the flat line."""
    return decision_body(decision, outcome, f"{number}}}")


def error_tail(exc: Exception) -> str:
    """An error line after its record number (see `error_line`)."""
    return f', "error": {json.dumps(error_fields(exc))}}}'


def skipped_tail(skipped: Skipped) -> str:
    """A skipped line after its record number (see `skipped_line`)."""
    return f', "skipped": {json.dumps(skipped_fields(skipped))}}}'


def error_line(number: int, exc: Exception) -> str:
    """``{"input": N, "error": {"type", "message", "path"}}`` for a record (or part of one) not decided."""
    return f"{LINE_START}{number}{error_tail(exc)}"


def skipped_line(number: int, skipped: Skipped) -> str:
    """``{"input": N, "skipped": {"reason", "path"}}`` for a part of a record with nothing to decide."""
    return f"{LINE_START}{number}{skipped_tail(skipped)}"
