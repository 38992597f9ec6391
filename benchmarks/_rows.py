"""The shared row format every benchmark module returns (see README.md and run.py)."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def result_row(benchmark: str, metric: str, value: float, unit: str, *, baseline: str | None = None,
               ratio: float | None = None, target: str | None = None, note: str | None = None) -> Row:
    """One result row: ``note`` is optional and shown by run.py under the table."""
    result: Row = {"benchmark": benchmark, "metric": metric, "value": float(value), "unit": unit,
                   "baseline": baseline, "ratio": ratio, "target": target}
    if note is not None:
        result["note"] = note
    return result
