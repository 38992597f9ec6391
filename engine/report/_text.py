"""The replay summary as plain text for the terminal (``replay --format table``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..model._vocabulary import VERDICTS
from ._compare import ReplaySummary, Tally

_TALLY_COLUMNS = (("decisions", "decisions"), ("changed", "changed"), ("retries_added", "retries+"),
                  ("retries_avoided", "retries-"), ("suppressions_added", "suppress+"),
                  ("suppressions_removed", "suppress-"), ("escalations_added", "escalate+"),
                  ("escalations_removed", "escalate-"), ("escalations_rerouted", "rerouted"))


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.most_common()) or "none"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> list[str]:
    cells = [list(header), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                               strict=True)))
            for row in cells]


def _tallies(title: str, tallies: Mapping[str, Tally]) -> list[str]:
    rows = [[key, *(getattr(t, name) for name, _ in _TALLY_COLUMNS)] for key, t in sorted(tallies.items())]
    return [f"by {title}:", *_table([title, *(label for _, label in _TALLY_COLUMNS)], rows)]


def _short(value: object) -> str:
    if isinstance(value, Mapping):
        if "scope" in value:
            return f"{value.get('scope')} {value.get('key')} until {value.get('until') or 'lifted'}"
        if "route" in value:
            return f"{value.get('route')} ({value.get('severity')})"
        return str(value.get("name") or value)
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "..."
    return "-" if value is None else str(value)


#: How much of a long text a change shows: the few characters before the first difference, then the rest.
_LEAD: Final = 20
_SHOWN: Final = 60


def _texts(old: str, new: str) -> tuple[str, str]:
    """Two long texts cut to where they differ (``...same words, then the change...``): a reason that gained a
    sentence at its end looks the same in its first 60 characters."""
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(first - _LEAD, 0)

    def cut(text: str) -> str:
        piece = text[start:start + _SHOWN - 3]
        return ("..." if start else "") + piece + ("..." if start + _SHOWN - 3 < len(text) else "")

    return cut(old), cut(new)


def _change(field: str, old: object, new: object) -> str:
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > _SHOWN:
        before, after = _texts(old, new)
        return f"{field} {before} -> {after}"
    return f"{field} {_short(old)} -> {_short(new)}"


def sample_changes(sample: Mapping[str, Any]) -> str:
    """``escalate support (warning) -> bank-oncall (warning); channel - -> sms`` for one changed record; long texts
    (reasons) are shown from just before where they differ."""
    old, new = sample["old"], sample["new"]
    return "; ".join(_change(field, old.get(field), new.get(field)) for field in sample["fields"])


def render_table(summary: ReplaySummary, *, compared: str, changes: int = 20) -> str:
    """The summary as text: counts, the transition matrix, effects, rules, breakdowns and the biggest changes."""
    total = summary.overall
    share = f" ({total.changed / total.decisions:.1%})" if total.decisions else ""
    out = [f"replay: {summary.records} records, {total.decisions} decisions compared, {total.changed} changed"
           f"{share}, {summary.errors} error{'s' if summary.errors != 1 else ''}", f"compared: {compared}", ""]
    out.append("verdict transitions (rows: old, columns: new):")
    out += _table(["", *VERDICTS], [[old, *row] for old, row in zip(VERDICTS, summary.matrix(), strict=True)])
    out += ["", f"sends: retries added {total.retries_added}, retries avoided {total.retries_avoided}, "
                f"retried earlier {summary.retries_earlier}, retried later {summary.retries_later}",
            f"newly suppressed by scope: {_counts(summary.suppressed_by_scope)}",
            f"no longer suppressed by scope: {_counts(summary.unsuppressed_by_scope)}",
            f"escalations added by route: {_counts(summary.escalations_added)}",
            f"escalations removed by route: {_counts(summary.escalations_removed)}",
            f"fields changed: {_counts(summary.fields)}", ""]
    out.append("rules behind the changes (old rule -> new rule):")
    out += [f"  {count:>6}  {old} -> {new}" for (old, new), count in summary.rules.most_common(changes)] or \
        ["  none"]
    for title, tallies in (("tenant", summary.by_tenant), ("provider", summary.by_provider),
                           ("channel", summary.by_channel)):
        out += ["", *_tallies(title, tallies)]
    out += ["", "biggest changes:"]
    groups = summary.biggest_changes()
    if not groups:
        out.append("  none")
    for (old_verdict, new_verdict, old_rule, new_rule), group in groups[:changes]:
        out.append(f"  {group.count:>6}  {old_verdict} -> {new_verdict}  ({old_rule} -> {new_rule})")
        for sample in group.samples:
            out.append(f"          input {sample['input']} {sample['message_id'] or '-'}: {sample_changes(sample)}")
    if len(groups) > changes:
        out.append(f"  ... and {len(groups) - changes} more kinds of change (--format jsonl lists every record)")
    return "\n".join(out)
