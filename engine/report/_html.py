"""One self-contained HTML page: styles and plotly.js inlined, a Content-Security-Policy that forbids every
network fetch, so the file opens offline anywhere and never calls home.  Needs the ``report`` extra (plotly)."""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from typing import Any

import attrs

from .._errors import DlrpolicyError
from .._version import __version__

try:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs
except ImportError:  # the report extra is not installed: the pages say how to get it when asked for
    pio = None

#: Nothing leaves the page: no script, style, font, image or connection from anywhere but the page itself.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "font-src data:; connect-src 'none'")

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0;
       background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #d0d7de; }
main { max-width: 1280px; margin: 0 auto; padding: 12px 32px 48px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: 18px 0; padding: 8px 20px 16px; }
section h2 { font-size: 17px; margin: 12px 0 6px; }
section p.intro { color: #57606a; margin: 0 0 10px; }
figure.chart { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.fact { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.fact b { display: block; font-size: 20px; }
details { margin: 8px 0; } summary { cursor: pointer; color: #0969da; }
footer { color: #57606a; font-size: 12px; text-align: center; padding: 16px; }
"""


class ReportExtraMissing(DlrpolicyError):
    """The HTML reports need the optional plotting library."""

    def __init__(self) -> None:
        super().__init__("the HTML report needs plotly: install the report extra, "
                         "pip install 'dlrpolicy[report]'")


def require_plotly() -> None:
    """Raise `ReportExtraMissing` when plotly is not installed."""
    if pio is None:
        raise ReportExtraMissing


@attrs.frozen
class Chart:
    """A plotly figure to place on the page, under a name the browser test finds it by."""

    name: str
    figure: Any
    height: int = 420


def chart_html(chart: Chart) -> str:
    """The chart's ``<figure>`` (plotly's JSON escapes ``<`` and ``/``, so no text can end the script early)."""
    require_plotly()
    assert pio is not None
    margin = {"l": 10, "r": 10, "t": 50, "b": 10, **chart.figure.layout.margin.to_plotly_json()}
    chart.figure.update_layout(height=chart.height, margin=margin, template="plotly_white")
    body: str = pio.to_html(chart.figure, full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.name}",
                            default_height=f"{chart.height}px",
                            config={"displaylogo": False, "responsive": True})
    return f'<figure class="chart" data-chart="{html.escape(chart.name)}">{body}</figure>'


def table_html(header: Sequence[str], rows: Sequence[Sequence[object]], *, numeric: Sequence[int] = ()) -> str:
    """An HTML table; every cell is escaped; columns in ``numeric`` are right-aligned."""
    def cell(tag: str, index: int, value: object) -> str:
        css = ' class="num"' if index in numeric else ""
        return f"<{tag}{css}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def details_html(summary: str, body: str) -> str:
    """A collapsed block (long tables stay out of the way until asked for)."""
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def facts_html(facts: Sequence[tuple[str, object]]) -> str:
    """A row of headline numbers."""
    return '<div class="facts">' + "".join(
        f'<div class="fact"><b>{html.escape(str(value))}</b>{html.escape(label)}</div>' for label, value in facts
    ) + "</div>"


@attrs.frozen
class Section:
    """A titled part of the page: a sentence saying what it shows, then charts and HTML (already escaped)."""

    title: str
    intro: str
    body: Sequence[Chart | str] = ()


@functools.cache
def _plotly_js() -> str:
    text: str = get_plotlyjs()
    return text


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page as one string."""
    require_plotly()
    parts = []
    for section in sections:
        items = "".join(chart_html(item) if isinstance(item, Chart) else item for item in section.body)
        parts.append(f'<section><h2>{html.escape(section.title)}</h2><p class="intro">{html.escape(section.intro)}'
                     f"</p>{items}</section>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_plotly_js()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<main>{''.join(parts)}</main>"
        f"<footer>dlrpolicy {html.escape(__version__)} — a self-contained page: it loads nothing from the network."
        "</footer></body></html>\n"
    )
