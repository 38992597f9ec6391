"""How a `dlrpolicy.tenacity` loop ends when the message was not delivered, and the exception a send function
raises to report what the provider said.  Re-exported by `dlrpolicy.tenacity`."""

from __future__ import annotations

from typing import Final

from .._errors import DlrpolicyError
from ..model._datetimes import iso_z
from ..model._decision import Decision
from ..model._outcome import History, Outcome


def _describe(outcome: Outcome) -> str:
    ref = outcome.error or outcome.status
    assert ref is not None  # Outcome guarantees a status or an error
    label = f"{ref.name} ({ref.id})" if ref.name else str(ref.id)
    message = f" for message {outcome.message_id}" if outcome.message_id else ""
    return f"{outcome.provider} {outcome.channel} reported {label}{message}"


class DeliveryFailed(DlrpolicyError):
    """Raised by a send function to report what the provider said; the loop hands ``outcome`` to the engine.

    ``result`` is returned by the loop if the engine decides ``done`` (for example a duplicate request the
    provider had already accepted).
    """

    def __init__(self, outcome: Outcome, result: object = None) -> None:
        self.outcome = outcome
        self.result = result
        super().__init__(
            f"{_describe(outcome)}: raise this inside a dlrpolicy.tenacity loop, which asks the engine what to do"
        )


class LoopConfigError(DlrpolicyError, TypeError):
    """`retrying` was called with an argument it cannot honour."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class NotDelivered(DlrpolicyError):
    """The loop ended without delivering; ``decision`` says what the pipeline should do next.

    ``outcome`` is the last thing the provider said; ``history`` is what to pass to the next loop (or to
    `Engine.evaluate`) when the message is resumed, so attempt limits and deadlines keep counting.
    """

    #: What the pipeline should do, completing the message.
    action: str = "act on the decision"

    def __init__(self, decision: Decision, outcome: Outcome | None = None, history: History | None = None) -> None:
        self.decision = decision
        self.outcome = outcome
        self.history = history
        what = _describe(outcome) if outcome is not None else "the provider reported a failure"
        super().__init__(f"{what}: {decision.verdict} by rule {decision.rule}: {decision.reason} "
                         f"({self.action})")


class RetryLater(NotDelivered):
    """Retry, but not now: ``decision.retry_at`` is further away than the loop may sleep, or another channel."""

    def __init__(self, decision: Decision, outcome: Outcome | None = None, history: History | None = None) -> None:
        self.action = f"hand the decision to your scheduler; send again at {iso_z(decision.retry_at)}" + (
            f" on channel {decision.channel}" if decision.channel else "") + " with history=exc.history"
        super().__init__(decision, outcome, history)


class Suppressed(NotDelivered):
    """Do not send this message again; ``decision.suppress`` says what else to block."""

    action = "record the suppression; do not resend"


class Escalated(NotDelivered):
    """A person must act; ``decision.escalate`` names the route.  The message is held."""

    action = "route to a person as decision.escalate says; hold the message"


class Pending(NotDelivered):
    """Not final yet: wait for the delivery report (or check again at ``decision.check_at``)."""

    action = "wait for the delivery report"


ENDINGS: Final[dict[str, type[NotDelivered]]] = {"retry": RetryLater, "suppress": Suppressed,
                                                  "escalate": Escalated, "wait": Pending}
