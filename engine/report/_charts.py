"""The report's charts, drawn with plotly (the ``report`` extra): verdict mixes, attempt timelines, effects, and
the replay's transition heat map and breakdowns.  Each function returns a `Chart` for `_html.page`."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from ..model._duration import format_duration
from ..model._vocabulary import VERDICTS
from ._html import Chart, require_plotly
from ._policy_report import EffectRow, Timeline

try:
    import plotly.graph_objects as go
except ImportError:  # require_plotly() says how to install it
    go = None

COLOURS: Final = {"retry": "#0969da", "suppress": "#cf222e", "escalate": "#bf8700", "wait": "#8250df",
                  "done": "#1a7f37"}
_TICKS: Final = [(1, "1m"), (10, "10m"), (60, "1h"), (360, "6h"), (1440, "1d"), (2880, "2d"), (10080, "7d"),
                 (43200, "30d")]
#: Where "at once" sits on the logarithmic time axis (6 seconds).
_AT_ONCE: Final = 0.1


def _figure() -> Any:
    require_plotly()
    assert go is not None
    return go.Figure()


def _minutes(delta: timedelta) -> float:
    return max(delta.total_seconds() / 60.0, _AT_ONCE)


def _empty(figure: Any, text: str) -> None:
    figure.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font={"size": 15, "color": "#57606a"})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)


def verdict_mix(name: str, mix: Mapping[str, Counter[str]]) -> Chart:
    """One horizontal bar per product, split by verdict (number of catalog codes)."""
    figure = _figure()
    products = sorted(mix, reverse=True)
    for verdict in VERDICTS:
        figure.add_bar(name=verdict, y=products, x=[mix[p].get(verdict, 0) for p in products], orientation="h",
                       marker_color=COLOURS[verdict],
                       hovertemplate="%{y}: %{x} codes " + verdict + "<extra></extra>")
    figure.update_layout(barmode="stack", title="Verdict per catalog code, by product",
                         legend={"orientation": "h", "y": -0.08, "traceorder": "normal"},
                         xaxis_title="catalog codes")
    return Chart(name, figure, height=140 + 24 * len(products))


def timelines(name: str, rows: Sequence[Timeline], *, zone: str, title: str) -> Chart:
    """Each retry rule's attempts on a logarithmic axis of time after the first attempt, with its window's
    closed hours shaded, its deadline and what it does when it stops."""
    figure = _figure()
    labels = [row.rule for row in rows]
    closed_y, closed_base, closed_len = [], [], []
    for row in rows:
        for start, end in row.closed:
            low, high = _minutes(start), _minutes(end)
            closed_y.append(row.rule)
            closed_base.append(low)
            closed_len.append(high - low)
    if closed_y:
        figure.add_bar(name="window closed", y=closed_y, x=closed_len, base=closed_base, orientation="h",
                       marker_color="rgba(140,149,159,0.28)", width=0.8, hoverinfo="skip")
    xs, ys, texts = [], [], []
    for row in rows:
        for attempt in row.attempts:
            xs.append(_minutes(attempt.after))
            ys.append(row.rule)
            when = "at once" if attempt.after <= timedelta(0) else f"+{format_duration(_round(attempt.after))}"
            channel = f" on {attempt.channel}" if attempt.channel else ""
            texts.append(f"{row.rule}<br>attempt {attempt.number}{channel} {when}<br>"
                         f"{attempt.at.isoformat(timespec='minutes')}<br>{row.code}<br>{row.timing}")
    figure.add_scatter(name="attempt", x=xs, y=ys, mode="markers", text=texts, hovertemplate="%{text}<extra></extra>",
                       marker={"size": 8, "color": COLOURS["retry"], "line": {"width": 1, "color": "#fff"}})
    deadline_rows = [row for row in rows if row.deadline is not None]
    figure.add_scatter(name="deadline", x=[_minutes(r.deadline or timedelta(0)) for r in deadline_rows],
                       y=[r.rule for r in deadline_rows], mode="markers",
                       marker={"symbol": "line-ns-open", "size": 16, "color": "#cf222e",
                               "line": {"width": 2.5, "color": "#cf222e"}},
                       text=[f"{r.rule}: deadline +{format_duration(_round(r.deadline or timedelta(0)))}"
                             for r in deadline_rows], hovertemplate="%{text}<extra></extra>")
    for verdict in ("suppress", "escalate", "done"):
        ends = [row for row in rows if row.final == verdict and row.final_after is not None]
        if ends:
            figure.add_scatter(name=f"then {verdict}", x=[_minutes(r.final_after or timedelta(0)) for r in ends],
                               y=[r.rule for r in ends], mode="markers",
                               marker={"symbol": "x", "size": 9, "color": COLOURS[verdict]},
                               text=[f"{r.rule}: gives up, then {verdict}" for r in ends],
                               hovertemplate="%{text}<extra></extra>")
    top = max([*xs, *(_minutes(r.deadline) for r in deadline_rows if r.deadline), 60.0])
    figure.update_layout(
        title={"text": f"{title}<br><sup>time after the first attempt, logarithmic (left edge: at once); "
                       f"hover for the attempt times in {zone}</sup>"},
        barmode="overlay", legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        margin={"t": 90},
        xaxis={"type": "log", "range": [math.log10(_AT_ONCE) - 0.1, math.log10(top * 1.3)], "side": "top",
               "tickvals": [v for v, _ in _TICKS], "ticktext": [t for _, t in _TICKS]},
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(labels)), "automargin": True},
    )
    return Chart(name, figure, height=160 + 22 * max(len(rows), 3))


def _round(delta: timedelta) -> timedelta:
    return timedelta(seconds=round(delta.total_seconds()))


def effect_counts(name: str, rows: Sequence[EffectRow], *, title: str, kind: str, detail: str) -> Chart:
    """Codes per suppression scope (or escalation route), split by duration (or severity)."""
    figure = _figure()
    if not rows:
        _empty(figure, f"no rule {title.split()[0].lower()}s")
    kinds = sorted({r.kind for r in rows})
    for value in sorted({r.detail for r in rows}):
        figure.add_bar(name=value, x=kinds, y=[sum(r.codes for r in rows if r.kind == k and r.detail == value)
                                               for k in kinds],
                       hovertemplate="%{x}: %{y} codes, " + value + "<extra></extra>")
    figure.update_layout(barmode="stack", title=title, xaxis_title=kind, yaxis_title="catalog codes",
                         legend_title=detail)
    return Chart(name, figure, height=380)


def transition_heatmap(name: str, matrix: Sequence[Sequence[int]]) -> Chart:
    """The verdict transition matrix (rows: old verdict, columns: new) as a heat map with the counts."""
    figure = _figure()
    assert go is not None
    off_diagonal = [[0 if i == j else value for j, value in enumerate(row)] for i, row in enumerate(matrix)]
    figure.add_trace(go.Heatmap(
        z=off_diagonal, zmin=0, zmax=max(1, *(max(row) for row in off_diagonal)), x=list(VERDICTS),
        y=list(VERDICTS), text=matrix, texttemplate="%{text}",
        colorscale=[[0, "#f6f8fa"], [1, "#cf222e"]], showscale=True, colorbar={"title": "changed"},
        hovertemplate="%{y} → %{x}: %{text} decisions<extra></extra>", xgap=2, ygap=2,
    ))
    figure.update_layout(title="Verdict transitions (colour: decisions whose verdict changed)",
                         xaxis={"title": "new verdict", "side": "top"},
                         yaxis={"title": "old verdict", "autorange": "reversed"})
    return Chart(name, figure, height=420)


def signed_bars(name: str, items: Mapping[str, tuple[int, int]], *, title: str, up: str, down: str) -> Chart:
    """Per key, ``up`` counts above the axis and ``down`` counts below it (added and removed)."""
    figure = _figure()
    keys = sorted(items, key=lambda k: -(items[k][0] + items[k][1]))
    if not keys:
        _empty(figure, "no change")
    figure.add_bar(name=up, x=keys, y=[items[k][0] for k in keys], marker_color="#cf222e")
    figure.add_bar(name=down, x=keys, y=[-items[k][1] for k in keys], marker_color="#1a7f37",
                   customdata=[items[k][1] for k in keys], hovertemplate="%{x}: %{customdata}<extra>" + down +
                   "</extra>")
    figure.update_layout(barmode="relative", title=title, legend={"orientation": "h", "y": -0.2})
    return Chart(name, figure, height=360)


def breakdown(name: str, slices: Mapping[str, tuple[int, int]], *, title: str) -> Chart:
    """Changed and unchanged decisions per tenant, provider or channel."""
    figure = _figure()
    keys = sorted(slices)
    figure.add_bar(name="changed", x=keys, y=[slices[k][1] for k in keys], marker_color="#cf222e")
    figure.add_bar(name="unchanged", x=keys, y=[slices[k][0] - slices[k][1] for k in keys],
                   marker_color="#8c959f")
    figure.update_layout(barmode="stack", title=title, yaxis_title="decisions", legend={"orientation": "h",
                                                                                         "y": -0.2})
    return Chart(name, figure, height=340)


def ranked(name: str, items: Sequence[tuple[str, int]], *, title: str, colour: str = "#0969da") -> Chart:
    """A horizontal bar per item, the largest on top."""
    figure = _figure()
    if not items:
        _empty(figure, "no change")
    labels = [label for label, _ in items]
    figure.add_bar(x=[count for _, count in items], y=labels, orientation="h", marker_color=colour,
                   hovertemplate="%{y}: %{x}<extra></extra>")
    figure.update_layout(title=title, yaxis={"autorange": "reversed", "automargin": True})
    return Chart(name, figure, height=140 + 26 * max(len(items), 3))
