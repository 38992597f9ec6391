"""How state is written down: instants as epoch seconds (what sorted sets and SQL compare), decisions and
outcomes as JSON (what `history` prints and what a claimed entry past its deadline is re-evaluated from)."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs
import orjson

from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._outcome import Outcome

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_Z: Final = orjson.OPT_UTC_Z
_SECOND: Final = timedelta(seconds=1)


def ts(value: datetime) -> float:
    """Epoch seconds of an aware datetime."""
    if value.tzinfo is UTC:  # the common case: C's timestamp() computes the same quotient, without the timedelta
        return value.timestamp()
    return (value - _EPOCH) / _SECOND


def ms(value: float) -> float:
    """Epoch seconds rounded to the millisecond: what JSON re-encoded inside Redis scripts keeps exactly (its
    encoder writes 14 significant digits), so both stores hold the same instants."""
    return round(value, 3)


def from_ts(value: float) -> datetime:
    """The aware UTC datetime of epoch seconds (microsecond precision)."""
    return _EPOCH + timedelta(microseconds=round(value * 1_000_000))


def iso_utc(value: datetime) -> str:
    """`iso_z` of an aware datetime, 4x faster for the UTC ones every adapter and evaluate produce (orjson writes
    the same RFC 3339 text as ``isoformat``: microseconds only when there are some, ``Z`` for UTC)."""
    if value.tzinfo is UTC:
        return orjson.dumps(value, option=_UTC_Z)[1:-1].decode()
    return str(iso_z(value))


def iso_ts(value: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (``Z``), or None."""
    return None if value is None else iso_z(from_ts(value))


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder, not one per call


def storable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form, as both stores keep text: not when it holds a lone surrogate (a broken
    ``\\u`` escape in JSON, or a byte that is not UTF-8 read with surrogateescape, as Python reads argv)."""
    if text.isascii():  # nearly every text; ASCII always encodes
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def dumps(value: object) -> str:
    """Compact JSON with non-ASCII kept (what the stores hold)."""
    return _ENCODE(value)


def compact(value: object) -> str:
    """`dumps` by orjson (a few times faster) for the plain values of schedule and suppression entries; what
    orjson refuses (a lone surrogate, a number beyond 64 bits) goes through the standard encoder.  Both texts
    parse to the same values."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return _ENCODE(value)


def loads(text: str | bytes) -> Any:
    """Stored JSON as Python values: by orjson (a few times faster), else by the standard decoder, which also
    reads what orjson refuses (numbers beyond 64 bits, NaN, escaped lone surrogates), so both read alike."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# The rule, source, layers, code and reason of a decision repeat across millions of reports; their JSON is
# built once per distinct combination (bounded), as the evaluate command's own lines do.
_TAILS: dict[tuple[object, ...], str] = {}
_TAILS_MAX = 4096


_text: Callable[[str], str] = json.encoder.encode_basestring


def json_str(value: str | None) -> str:
    """A string (or None) as JSON."""
    return "null" if value is None else _text(value)


_str = json_str


def _when(value: datetime | None) -> str:
    return "null" if value is None else f'"{iso_utc(value)}"'


def _cached(cache: dict[Any, str], key: Any, build: Callable[[], str]) -> str:
    found = cache.get(key)
    if found is None:
        if len(cache) >= _TAILS_MAX:
            cache.clear()
        found = cache[key] = build()
    return found


def decision_text(decision: Decision) -> str:
    """``json.dumps(decision.to_json())`` (compact, keys in another order), built directly: the repeating parts
    (rule, source, layers, code, reason, policy version, effects) once per distinct value.  Tests compare it with
    `Decision.to_json` for every field, so a field added there and forgotten here fails them."""
    # evaluate hands out one shared Decision for a code decided without times or a suppression (done, escalate):
    # its text is remembered by identity (the entry keeps the object alive, so its id is not reused).  Decisions
    # with times or a suppression (keyed by the report's recipient or message) are new per report: not remembered.
    found = _DECISIONS.get(id(decision))
    if found is not None and found[0] is decision:
        return found[1]
    code = decision.code
    # Keys of plain values: tuples of strings hash in C, attrs objects in Python.
    tail = _cached(_TAILS, (decision.rule, decision.rule_source, decision.layers, code.provider, code.kind,
                            code.product, code.id, code.name, code.group_id, code.unknown, decision.reason,
                            decision.policy_version),
                   lambda: dumps({"rule": decision.rule, "rule_source": decision.rule_source,
                                  "layers": list(decision.layers), "code": decision.code.to_json(),
                                  "reason": decision.reason, "policy_version": decision.policy_version})[1:])
    suppress, escalate = decision.suppress, decision.escalate
    effects = _NO_EFFECTS if suppress is None and escalate is None else _cached(
        _EFFECTS, (None if suppress is None else (suppress.scope, suppress.key, suppress.until),
                   None if escalate is None else (escalate.route, escalate.severity)), lambda: dumps(
            {"suppress": None if decision.suppress is None else decision.suppress.to_json(),
             "escalate": None if decision.escalate is None else decision.escalate.to_json()})[1:-1])
    retry_at, give_up_at, check_at = decision.retry_at, decision.give_up_at, decision.check_at
    text = (f'{{"verdict":"{decision.verdict}","retry_at":{_when(retry_at)},"give_up_at":{_when(give_up_at)},'
            f'"check_at":{_when(check_at)},"attempt":{decision.attempt},"channel":{_str(decision.channel)},'
            f'{effects},{tail}')
    if suppress is None and retry_at is None and give_up_at is None and check_at is None:
        if len(_DECISIONS) >= _TAILS_MAX:
            _DECISIONS.clear()
        _DECISIONS[id(decision)] = (decision, text)
    return text


_DECISIONS: dict[int, tuple[Decision, str]] = {}
_NO_EFFECTS: Final = '"suppress":null,"escalate":null'
_EFFECTS: dict[Any, str] = {}
_NESTED: dict[Any, dict[str, Any]] = {}
# Outcome's fields in declaration order, the order Outcome.to_json writes them: the text below follows the attrs
# fields, so a field added to Outcome is stored too (tests check it equals json of Outcome.to_json()).
_OUTCOME_FIELDS: Final = tuple(field.name for field in attrs.fields(Outcome))


def _nested(value: object) -> object:
    """What orjson cannot encode in an Outcome (its ``default``): a duration as `Outcome.to_json` writes it (seconds),
    a CodeRef or Resend as a dict."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    # CodeRef and Resend: frozen, and few distinct ones (adapters hand out one object per distinct code), so each
    # is turned into a dict once; found by identity first (hashing an attrs object runs Python code).
    by_id = _NESTED_BY_ID.get(id(value))
    if by_id is not None and by_id[0] is value:
        return by_id[1]
    found = _NESTED.get(value)
    if found is None:
        if len(_NESTED) >= _TAILS_MAX:
            _NESTED.clear()
        found = _NESTED[value] = attrs.asdict(value)  # type: ignore[arg-type]
    if len(_NESTED_BY_ID) >= _TAILS_MAX:
        _NESTED_BY_ID.clear()
    _NESTED_BY_ID[id(value)] = (value, found)  # the entry keeps the object alive, so its id is not reused
    return found


_NESTED_BY_ID: dict[int, tuple[object, dict[str, Any]]] = {}
#: Outcome's fields read in one C call, in declaration order (the order `Outcome.to_json` writes them).
_OUTCOME_VALUES: Final = operator.itemgetter(*_OUTCOME_FIELDS)


def outcome_text(outcome: Outcome) -> str:
    """``dumps(outcome.to_json())``, by orjson: every `Outcome` field (instants in UTC with ``Z``).  The text parses
    to the same values as the standard encoder's (numbers may be written differently: ``1e-6`` for ``1e-06``);
    orjson takes 3.3 us where the hand-built text took 8 (benchmarks/README.md, State).  Text that has no UTF-8
    form (a lone surrogate) is refused before recording, as the stores keep UTF-8."""
    fields = outcome.__dict__
    data = dict(zip(_OUTCOME_FIELDS, _OUTCOME_VALUES(fields), strict=False))  # one value per name
    # orjson writes an aware instant with its own offset: only UTC ones (what the adapters make) go as they are.
    sent, done, not_before = fields["sent_at"], fields["done_at"], fields["retry_not_before"]
    if not ((sent is None or sent.tzinfo is UTC) and (done is None or done.tzinfo is UTC) and not_before is None):
        for name in _OUTCOME_INSTANTS:
            value = fields[name]
            if value is not None and value.tzinfo is not UTC:
                data[name] = value.astimezone(UTC)
    return orjson.dumps(data, default=_nested, option=_UTC_Z).decode()


#: Outcome's instants (the fields orjson writes itself, once in UTC).
_OUTCOME_INSTANTS: Final = tuple(field.name for field in attrs.fields(Outcome)
                                 if str(field.type) in ("datetime", "datetime | None"))


def encode_state(state: Mapping[str, Any]) -> str:
    """A message's state as stored: one JSON line of small fields, then one JSON line per report (kept as text,
    so recording a report never re-encodes the older ones, and reading one decodes only the first line)."""
    return encode_message({k: v for k, v in state.items() if k != "_raw"}, state.get("_raw", ()))


def encode_message(head: Mapping[str, Any], lines: Sequence[str]) -> str:
    """`encode_state` of a state held as its head (every field but ``_raw``) and its report lines."""
    return "\n".join([_head_text(head), *lines])


_HEAD_FAST = frozenset({"ids", "first", "channels", "held", "sched", "seen", "v", "fin"})


def _head_text(head: Mapping[str, Any]) -> str:
    # The common head (what recording a report writes: ids, instants, flags, report identities) by orjson; a head
    # with anything else (events, whose texts come from operators) through the standard encoder.  Both parse to
    # the same values.  "fin" is absent from states written before it existed (readers then work it out).
    if not _HEAD_FAST.issuperset(head):
        return dumps(head)
    return orjson.dumps(head).decode()


def decode_state(text: str | bytes) -> dict[str, Any]:
    """The state `encode_state` wrote; report lines stay text under ``_raw`` (parse them with `reports`)."""
    if isinstance(text, bytes):
        text = text.decode()
    head, *lines = text.split("\n")
    state: dict[str, Any] = json.loads(head)
    state["_raw"] = lines
    return state


def reports(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every stored report of a message, oldest first."""
    return [json.loads(line) for line in state.get("_raw", ())]


def _instant(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
