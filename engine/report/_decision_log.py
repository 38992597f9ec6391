"""Decision logs: one JSON line per decision with everything needed to make it again — the outcome, ``now``, the
history used, the decision, and the identity of the policy that made it (its version, layers and tenant).

``dlrpolicy evaluate --log FILE`` writes them; ``dlrpolicy replay`` reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any, Final

import attrs

from .._errors import DlrpolicyError, InvalidOutcomeError, PayloadError
from ..model._datetimes import iso_z, require_aware
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..policy._compile import CompiledPolicy

#: The format of a log line; a line is a decision log entry when it has this key.
LOG_VERSION: Final = 1
LOG_KEYS: Final = ("log_version", "input", "now", "tenant", "policy", "outcome", "history", "decision")
_FLUSH_EVERY: Final = 256


def used_history(outcome: Outcome, now: datetime, history: History | None) -> History:
    """The history `evaluate` used: the one given, with the first attempt filled in as evaluate fills it."""
    if history is None:
        return History(attempts=1, first_attempt_at=outcome.sent_at or now)
    if history.first_attempt_at is None:
        return attrs.evolve(history, first_attempt_at=outcome.sent_at or now)
    return history


def history_from_json(data: object, path: str = "$.history") -> History:
    """The history `History.to_json` wrote; `PayloadError` naming the field when it is not."""
    try:
        return History.from_json(data)  # type: ignore[arg-type]
    except InvalidOutcomeError as exc:
        # "History.tries" names the field inside the history: point the path at it.
        field = exc.field.partition(".")[2]
        raise PayloadError(f"{path}.{field}" if field else path, exc.problem) from None
    except DlrpolicyError as exc:
        raise PayloadError(path, str(exc)) from None


def _instant(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(path, "expected an ISO 8601 time with an offset, e.g. 2026-11-24T10:00:00Z")
    try:
        moment = datetime.fromisoformat(value)
        require_aware(path, moment)
    except (ValueError, DlrpolicyError):
        raise PayloadError(path, f"{value!r} is not an ISO 8601 time with an offset, e.g. 2026-11-24T10:00:00Z"
                           ) from None
    return moment


def log_line(*, number: int, now: datetime, outcome: Outcome, history: History | None, decision: Decision,
             policy: CompiledPolicy) -> str:
    """One decision log line (JSON, no newline) with the keys `LOG_KEYS`."""
    return json.dumps({
        "log_version": LOG_VERSION,
        "input": number,
        "now": iso_z(now),
        "tenant": outcome.tenant,
        "policy": {"version": policy.version, "layers": list(policy.spec.layers)},
        "outcome": outcome.to_json(),
        "history": used_history(outcome, now, history).to_json(),
        "decision": decision.to_json(),
    }, ensure_ascii=False)


class DecisionLog:
    """Writes decision log lines to a text stream, buffered; `close` flushes (the stream stays open)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._buffer: list[str] = []
        self.lines = 0

    def record(self, number: int, now: datetime, outcome: Outcome, history: History | None, decision: Decision,
               policy: CompiledPolicy) -> None:
        """Log one decision."""
        self._buffer.append(log_line(number=number, now=now, outcome=outcome, history=history, decision=decision,
                                     policy=policy))
        self.lines += 1
        if len(self._buffer) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered."""
        if self._buffer:
            self._buffer.append("")
            self._stream.write("\n".join(self._buffer))
            self._buffer.clear()

    def close(self) -> None:
        """Flush, and flush the stream."""
        self.flush()
        self._stream.flush()


@attrs.frozen
class LogEntry:
    """One decision log line, read back: what was decided, when, with which history and policy."""

    number: int | None
    now: datetime
    tenant: str | None
    policy_version: str | None
    outcome: Outcome
    history: History
    decision: Mapping[str, Any]


def is_log_entry(value: object) -> bool:
    """True when ``value`` is a decision log line (it has ``log_version``), not a provider payload."""
    return type(value) is dict and "log_version" in value


def read_log_entry(value: Mapping[str, Any]) -> LogEntry:
    """Read a decision log line; `PayloadError` naming the field when something is missing or wrong."""
    if value.get("log_version") != LOG_VERSION:
        raise PayloadError("$.log_version", f"unsupported decision log format {value.get('log_version')!r}: "
                                            f"this dlrpolicy reads version {LOG_VERSION}")
    missing = [key for key in ("now", "outcome", "decision") if key not in value]
    if missing:
        raise PayloadError(f"$.{missing[0]}", "missing from the decision log line: write logs with "
                                              "`dlrpolicy evaluate --log FILE`")
    try:
        outcome = Outcome.from_json(value["outcome"])
    except DlrpolicyError as exc:
        raise PayloadError("$.outcome", str(exc)) from None
    decision = value["decision"]
    if not isinstance(decision, dict) or not isinstance(decision.get("verdict"), str):
        raise PayloadError("$.decision", "expected the logged decision object (Decision.to_json())")
    policy = value.get("policy")
    version = policy.get("version") if isinstance(policy, dict) else None
    history = value.get("history")
    number = value.get("input")
    return LogEntry(
        number=number if type(number) is int else None,
        now=_instant(value["now"], "$.now"),
        tenant=outcome.tenant,
        policy_version=version if isinstance(version, str) else None,
        outcome=outcome,
        history=used_history(outcome, _instant(value["now"], "$.now"),
                             None if history is None else history_from_json(history)),
        decision=decision,
    )
