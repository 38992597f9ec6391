"""structlog integration: one ``decision`` event per decision, with the fields an on-call engineer filters by.

Used by the CLI and the integrations, never inside `evaluate` (which stays pure)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._outcome import Outcome


def decision_fields(decision: Decision, outcome: Outcome | None = None) -> dict[str, Any]:
    """The flat fields of a ``decision`` event: tenant, message_id, attempt, code, rule, verdict, retry_at, reason."""
    code = decision.code
    return {
        "tenant": outcome.tenant if outcome is not None else None,
        "message_id": outcome.message_id if outcome is not None else None,
        "attempt": decision.attempt,
        "code": f"{code.provider}:{code.kind}:{code.product}:{code.id}" + (":unknown" if code.unknown else ""),
        "code_name": code.name,
        "rule": decision.rule,
        "verdict": decision.verdict,
        "retry_at": iso_z(decision.retry_at),
        "reason": decision.reason,
    }


def log_decision(logger: Any, decision: Decision, outcome: Outcome | None = None, **extra: Any) -> None:
    """Log ``decision`` as one ``decision`` event on a structlog (or structlog-compatible) ``logger``."""
    logger.info("decision", **decision_fields(decision, outcome), **extra)


def expand_decision(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace a ``decision=`` (and optional ``outcome=``) value with its flat fields."""
    decision = event_dict.pop("decision", None)
    outcome = event_dict.pop("outcome", None)
    if isinstance(decision, Decision):
        for key, value in decision_fields(decision, outcome if isinstance(outcome, Outcome) else None).items():
            event_dict.setdefault(key, value)
    elif decision is not None:
        event_dict["decision"] = decision
    return event_dict
