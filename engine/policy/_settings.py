"""Policy settings for carrying decisions out (issues 14 and 15): which rules' suppressions refuse lifting, which
escalations hold messages, which codes say a route is flooded, and the ``[budgets]``, ``[breakers]``,
``[incidents]`` and ``[suppressions]`` tables.  Read here, apart from the rule bodies, so that the decision model
(`Body`, `Plan`) stays as it is: these settings shape what the state layer does with a decision, not the decision.

Tables merge key by key across layers (a tenant file overrides single keys); rule flags follow the merged rules,
so ``[[patch]] id = "..." liftable = true`` works like any other field.  Reading is in `_settings_read`."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import attrs

from ..model._duration import format_duration

#: Rule keys read by `_settings_read` (the rule readers accept them and leave them alone).
RULE_KEYS: Final = frozenset({"liftable", "hold", "flood"})
#: Top-level tables read by `_settings_read`.
TABLES: Final = frozenset({"budgets", "breakers", "incidents", "suppressions"})


@attrs.frozen
class Budget:
    """``[budgets]``: retries on a route may add at most ``ratio`` of its reports over ``window`` (at least
    ``floor`` retries per window), as Finagle's and Envoy's retry budgets do."""

    enabled: bool = True
    ratio: float = 0.2
    window: timedelta = timedelta(seconds=60)
    floor: int = 10

    def describe(self) -> str:
        """``retry budget 20% of reports over 60s (at least 10)`` or ``retry budget off``."""
        if not self.enabled:
            return "retry budget off"
        return (f"retry budget {self.ratio:.0%} of reports over {format_duration(self.window)} "
                f"(at least {self.floor})")


@attrs.frozen
class Breaker:
    """``[breakers]``: a route whose flood failures reach ``failure_ratio`` of at least ``min_reports`` reports
    over ``window`` opens for ``break_for``, doubling on each failed probe up to ``max_break``."""

    enabled: bool = True
    failure_ratio: float = 0.5
    min_reports: int = 100
    window: timedelta = timedelta(seconds=60)
    break_for: timedelta = timedelta(seconds=30)
    max_break: timedelta = timedelta(minutes=10)

    def describe(self) -> str:
        """``circuit breaker opens at 50% flood failures over >= 100 reports in 60s, for 30s doubling to 10m``."""
        if not self.enabled:
            return "circuit breaker off"
        return (f"circuit breaker opens at {self.failure_ratio:.0%} flood failures over >= {self.min_reports} "
                f"reports in {format_duration(self.window)}, for {format_duration(self.break_for)} doubling to "
                f"{format_duration(self.max_break)}")


@attrs.frozen
class IncidentSettings:
    """``[incidents]``: how long a message may stay held, and how fast a resolved incident releases its holds."""

    max_hold: timedelta = timedelta(days=7)
    release_rate: float = 10.0


@attrs.frozen
class StateSettings:
    """Everything the state layer reads from a policy; the defaults apply where a policy says nothing."""

    budget: Budget = Budget()
    breaker: Breaker = Breaker()
    incidents: IncidentSettings = IncidentSettings()
    #: Region for phone numbers written without a country code (``01012345678`` in ``KR``); None: E.164 only.
    region: str | None = None
    #: Rules whose suppressions refuse lifting without ``force`` (opt-outs, complaints).
    unliftable: frozenset[str] = frozenset()
    #: Rules whose escalations hold the message under the incident until a person resolves it.
    holds: frozenset[str] = frozenset()
    #: Rules whose codes say the route is rate-limited or down (the breaker counts them as failures).
    flood: frozenset[str] = frozenset()

    def describe(self) -> str:
        """One line for `explain`: the budget and the breaker."""
        return f"{self.budget.describe()}; {self.breaker.describe()}"

    def to_json(self) -> dict[str, object]:
        """The budget and breaker as plain values (durations as policy strings)."""
        b, k = self.budget, self.breaker
        return {
            "budget": {"enabled": b.enabled, "ratio": b.ratio, "window": format_duration(b.window),
                       "floor": b.floor},
            "breaker": {"enabled": k.enabled, "failure_ratio": k.failure_ratio, "min_reports": k.min_reports,
                        "window": format_duration(k.window), "break": format_duration(k.break_for),
                        "max_break": format_duration(k.max_break)},
        }


DEFAULT_SETTINGS: Final = StateSettings()
