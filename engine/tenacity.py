"""tenacity integration: wrap a send call and the engine decides whether, when and how long to retry.

>>> from dlrpolicy import Engine
>>> from dlrpolicy.tenacity import DeliveryFailed, retrying
>>> send_with_policy = retrying(Engine.default()).wraps(send)  # doctest: +SKIP

The implementation lives in ``dlrpolicy.integrations``; this module is its public face and only re-exports.
"""

from .integrations._loop_endings import (
    DeliveryFailed,
    Escalated,
    LoopConfigError,
    NotDelivered,
    Pending,
    RetryLater,
    Suppressed,
)
from .integrations._tenacity import (
    MAX_LOOP_ATTEMPTS,
    AttemptDecision,
    Blocked,
    DecisionSource,
    async_retrying,
    attempt_decision,
    retry,
    retrying,
)

__all__ = [
    "MAX_LOOP_ATTEMPTS",
    "AttemptDecision",
    "Blocked",
    "DecisionSource",
    "DeliveryFailed",
    "Escalated",
    "LoopConfigError",
    "NotDelivered",
    "Pending",
    "RetryLater",
    "Suppressed",
    "async_retrying",
    "attempt_decision",
    "retry",
    "retrying",
]
