"""What to do next (Decision) and its effects on future sends and on people (SuppressEffect, EscalateEffect),
with the catalog identity it resolved to (CodeIdentity).  Frozen; serialised with stable field names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._datetimes import iso_z


@attrs.frozen(slots=False)
class SuppressEffect:
    """Block future sends: to ``key`` within ``scope`` until ``until`` (None: until someone lifts it)."""

    scope: str
    key: str | None
    until: datetime | None = None

    def to_json(self) -> dict[str, object]:
        """``{scope, key, until}`` with ``until`` as ISO 8601 UTC."""
        return {"scope": self.scope, "key": self.key, "until": iso_z(self.until)}


@attrs.frozen
class EscalateEffect:
    """A person must look: ``route`` names the team or queue, ``severity`` how urgent."""

    route: str
    severity: str = "warning"

    def to_json(self) -> dict[str, object]:
        """``{route, severity}``."""
        return {"route": self.route, "severity": self.severity}


@attrs.frozen
class CodeIdentity:
    """Which catalog entry the decision resolved to, what was reported when the catalog has no entry, or the event
    (``kind = "event"``, name ``SEEN`` or ``CANCELLED``) a report was about."""

    provider: str
    kind: str
    product: str | None
    #: None for reports that carry no code (events: seen, cancelled; ``kind`` is then ``event``).
    id: int | None
    name: str | None = None
    group_id: int | None = None
    unknown: bool = False

    def to_json(self) -> dict[str, object]:
        """``{provider, kind, product, group_id, id, name, unknown}``."""
        return {
            "provider": self.provider,
            "kind": self.kind,
            "product": self.product,
            "group_id": self.group_id,
            "id": self.id,
            "name": self.name,
            "unknown": self.unknown,
        }


DECISION_KEYS: Final[tuple[str, ...]] = (
    "verdict", "retry_at", "give_up_at", "check_at", "attempt", "channel", "suppress", "escalate",
    "rule", "rule_source", "layers", "code", "reason", "policy_version",
)


# Not slotted: a frozen attrs class with a __dict__ builds about twice as fast as a slotted one, and a Decision is
# built on every evaluation (the hot path) while few live long.
@attrs.frozen(kw_only=True, slots=False)
class Decision:
    """What to do about a message after a report: one verdict plus optional effects, and why.

    ``attempt`` is the number the next attempt would have.  ``rule``/``rule_source``/``layers`` say which
    policy rule decided and where it came from; ``reason`` says why in plain English.  ``policy_version`` is
    the content hash of the compiled policy that decided (`CompiledPolicy.version`).
    """

    verdict: str
    attempt: int
    rule: str
    rule_source: str
    layers: tuple[str, ...]
    code: CodeIdentity
    reason: str
    retry_at: datetime | None = None
    give_up_at: datetime | None = None
    check_at: datetime | None = None
    channel: str | None = None
    suppress: SuppressEffect | None = None
    escalate: EscalateEffect | None = None
    policy_version: str = ""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict with exactly `DECISION_KEYS`, datetimes as ISO 8601 UTC, nulls where absent."""
        return {
            "verdict": self.verdict,
            "retry_at": iso_z(self.retry_at),
            "give_up_at": iso_z(self.give_up_at),
            "check_at": iso_z(self.check_at),
            "attempt": self.attempt,
            "channel": self.channel,
            "suppress": None if self.suppress is None else self.suppress.to_json(),
            "escalate": None if self.escalate is None else self.escalate.to_json(),
            "rule": self.rule,
            "rule_source": self.rule_source,
            "layers": list(self.layers),
            "code": self.code.to_json(),
            "reason": self.reason,
            "policy_version": self.policy_version,
        }


def _instant(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def decision_from_json(data: Mapping[str, Any]) -> Decision:
    """The `Decision` that `Decision.to_json` wrote (stores and decision logs keep decisions as JSON)."""
    code = data["code"]
    suppress = data.get("suppress")
    escalate = data.get("escalate")
    return Decision(
        verdict=data["verdict"], attempt=data["attempt"], rule=data["rule"], rule_source=data["rule_source"],
        layers=tuple(data["layers"]), reason=data["reason"],
        code=CodeIdentity(code["provider"], code["kind"], code["product"], code["id"], code.get("name"),
                          code.get("group_id"), bool(code.get("unknown"))),
        retry_at=_instant(data.get("retry_at")), give_up_at=_instant(data.get("give_up_at")),
        check_at=_instant(data.get("check_at")), channel=data.get("channel"),
        suppress=None if suppress is None else SuppressEffect(suppress["scope"], suppress["key"],
                                                              _instant(suppress.get("until"))),
        escalate=None if escalate is None else EscalateEffect(escalate["route"], escalate["severity"]),
        policy_version=str(data.get("policy_version") or ""),
    )
