"""``dlrpolicy report --html``: the policy as a page — verdict mix per product, each retry rule's attempt
timeline, suppressions and escalations."""

from __future__ import annotations

from datetime import datetime

from ..model._datetimes import iso_z
from ..model._duration import format_duration
from ..model._vocabulary import VERDICTS
from ..policy._compile import CompiledPolicy
from . import _charts as charts
from ._html import Section, details_html, facts_html, page, require_plotly, table_html
from ._policy_report import PolicyReport, Timeline, build_policy_report


def _timeline_table(report: PolicyReport) -> str:
    rows = []
    for t in report.timelines:
        deadline = f"+{format_duration(t.deadline)}" if t.deadline is not None else "-"
        then = t.final or ("hands over to " + t.attempts[-1].channel if t.attempts and t.attempts[-1].channel
                           else "-")
        rows.append([t.rule, t.code, t.channel, len(t.attempts), deadline, then, t.window or "-", t.codes, t.timing])
    return table_html(["rule", "example code", "channel", "retries", "deadline", "then", "window", "codes",
                       "timing"], rows, numeric=(3, 7))


def policy_page(policy: CompiledPolicy, *, tenant: str | None, start: datetime) -> str:
    """The whole policy report as one self-contained HTML page."""
    require_plotly()
    report = build_policy_report(policy, tenant=tenant, start=start)
    who = f"tenant {tenant}" if tenant else "the default policy"
    subtitle = (f"{who} · policy {report.version} · layers {', '.join(report.layers)} · {report.rules} rules over "
                f"{report.codes} catalog codes · timelines start {iso_z(start)}")
    by_provider: dict[str, list[Timeline]] = {}
    for timeline in report.timelines:
        by_provider.setdefault(timeline.provider, []).append(timeline)
    verdicts = {verdict: sum(mix.get(verdict, 0) for mix in report.verdict_mix.values())
                for verdict in VERDICTS}
    sections = [
        Section("Verdicts", "What the policy decides for every code the catalog documents, product by product "
                "(on the product's usual channel).",
                [facts_html([(f"codes {v}", n) for v, n in verdicts.items()]),
                 charts.verdict_mix("verdict-mix", report.verdict_mix)]),
        *[Section(f"Retry timelines: {provider}",
                  "When each retry would go out if the same result kept coming back, starting at the first attempt "
                  f"at {iso_z(start)}: grey bands are hours the rule's send window is closed, the red tick is the "
                  "deadline, a cross is what the rule does when it gives up.",
                  [charts.timelines(f"timelines-{provider}", rows, zone=report.zone,
                                    title=f"{provider}: {len(rows)} retry rules")])
          for provider, rows in sorted(by_provider.items())],
        Section("Retry rules", "The same timelines as a table (one example code per rule).",
                [details_html(f"{len(report.timelines)} retry rules", _timeline_table(report))]),
        Section("Suppressions", "Who stops getting messages, and for how long: codes per scope and duration.",
                [charts.effect_counts("suppressions", report.suppressions, title="Suppressions by scope",
                                      kind="scope", detail="for"),
                 details_html(f"{len(report.suppressions)} suppressing rules", table_html(
                     ["rule", "verdict", "scope", "for", "codes"],
                     [[r.rule, r.verdict, r.kind, r.detail, r.codes] for r in report.suppressions], numeric=(4,)))]),
        Section("Escalations", "Who is asked to look: codes per route and severity.",
                [charts.effect_counts("escalations", report.escalations, title="Escalations by route",
                                      kind="route", detail="severity"),
                 details_html(f"{len(report.escalations)} escalating rules", table_html(
                     ["rule", "verdict", "route", "severity", "codes"],
                     [[r.rule, r.verdict, r.kind, r.detail, r.codes] for r in report.escalations], numeric=(4,)))]),
    ]
    return page(f"dlrpolicy policy report: {who}", subtitle, sections)
