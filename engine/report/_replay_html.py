"""``dlrpolicy replay --format html``: the replay summary as a page — the transition matrix as a heat map, what
would be sent more or less, suppressions and escalations that change, the rules behind the changes, the
breakdowns, and the biggest changes first."""

from __future__ import annotations

from ._charts import breakdown, ranked, signed_bars, transition_heatmap
from ._compare import ReplaySummary, Tally
from ._html import Section, facts_html, page, require_plotly, table_html
from ._text import sample_changes


def _slices(tallies: dict[str, Tally]) -> dict[str, tuple[int, int]]:
    return {key: (t.decisions, t.changed) for key, t in tallies.items()}


def _biggest(summary: ReplaySummary, limit: int = 50) -> str:
    rows = []
    for (old_verdict, new_verdict, old_rule, new_rule), group in summary.biggest_changes()[:limit]:
        rule = old_rule if old_rule == new_rule else f"{old_rule} → {new_rule}"
        examples = " | ".join(f"#{s['input']} {s['message_id'] or '-'}: {sample_changes(s)}" for s in group.samples)
        rows.append([group.count, f"{old_verdict} → {new_verdict}", rule, examples])
    if not rows:
        return "<p>No decision changed.</p>"
    return table_html(["decisions", "verdict", "rule", "examples (record, message: what changed)"], rows,
                      numeric=(0,))


def replay_page(summary: ReplaySummary, *, compared: str) -> str:
    """The whole replay report as one self-contained HTML page."""
    require_plotly()
    total = summary.overall
    share = f"{total.changed / total.decisions:.1%}" if total.decisions else "0%"
    headline = facts_html([
        ("records", summary.records), ("decisions compared", total.decisions), ("changed", f"{total.changed} "
                                                                                           f"({share})"),
        ("retries added", total.retries_added), ("retries avoided", total.retries_avoided),
        ("newly suppressed", total.suppressions_added), ("escalations added", total.escalations_added),
        ("escalations rerouted", total.escalations_rerouted),
        ("errors", summary.errors),
    ])
    sends = {"retries": (total.retries_added, total.retries_avoided),
             "retry time": (summary.retries_later, summary.retries_earlier)}
    scopes = {scope: (summary.suppressed_by_scope.get(scope, 0), summary.unsuppressed_by_scope.get(scope, 0))
              for scope in {*summary.suppressed_by_scope, *summary.unsuppressed_by_scope}}
    routes = {route: (summary.escalations_added.get(route, 0), summary.escalations_removed.get(route, 0))
              for route in {*summary.escalations_added, *summary.escalations_removed}}
    rules = [(old if old == new else f"{old} → {new}", count) for (old, new), count in summary.rules.most_common(20)]
    sections = [
        Section("What changes", compared, [headline, transition_heatmap("transitions", summary.matrix())]),
        Section("Biggest changes first", "Each kind of change (old and new verdict and rule), most frequent first, "
                "with example records.", [_biggest(summary)]),
        Section("Sends", "Messages that would now be sent more (retries added, retried later) or less.",
                [signed_bars("sends", sends, title="Retries added / avoided; retried later / earlier",
                             up="added / later", down="avoided / earlier")]),
        Section("Suppressions and escalations", "Decisions that newly suppress (by scope) or no longer do, and "
                "escalations added or removed (by route).",
                [signed_bars("suppressions", scopes, title="Suppressions by scope", up="newly suppressed",
                             down="no longer suppressed"),
                 signed_bars("escalations", routes, title="Escalations by route", up="added", down="removed")]),
        Section("Rules behind the changes", "Changed decisions by the rule that made the old and the new one.",
                [ranked("rules", rules, title="Changed decisions by rule (old → new)")]),
        Section("Breakdown", "Changed and unchanged decisions by tenant, provider and channel.",
                [breakdown("by-tenant", _slices(summary.by_tenant), title="By tenant"),
                 breakdown("by-provider", _slices(summary.by_provider), title="By provider"),
                 breakdown("by-channel", _slices(summary.by_channel), title="By channel")]),
    ]
    return page("dlrpolicy replay report", f"{total.changed} of {total.decisions} decisions change", sections)
