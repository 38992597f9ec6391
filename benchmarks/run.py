"""Run every benchmark in this folder and print one table.

    python benchmarks/run.py [--quick] [--markdown FILE] [--only TEXT]

Each ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool = False) -> list[dict]`` returning rows
``{benchmark, metric, value, unit, baseline, ratio, target}`` (plus an optional ``note``).  A module that fails to
import, raises, or returns malformed rows becomes a FAILED row; the others still run, and the exit status is 1.
Unmet targets are reported in the ``met?`` column but do not change the exit status: they are findings.

Targets are read as ``OP NUMBER[x|%]`` (``>= 20x``, ``<= 5%``, ``<= 1.1x``) and checked against ``ratio`` (or
``value`` when a row has no ratio); ``%`` means the ratio is a fraction (``<= 5%`` is ``ratio <= 0.05``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import operator
import platform
import re
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIRED = ("benchmark", "metric", "value", "unit", "baseline", "ratio", "target")
COLUMNS = ("benchmark", "metric", "value", "unit", "baseline", "ratio", "target", "met?")
_TARGET = re.compile(r"^\s*(>=|<=|>|<)\s*([0-9]+(?:\.[0-9]+)?)\s*(x|%)?\s*$")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

Row = dict[str, Any]


def discover(only: str | None = None) -> list[Path]:
    """``bench_*.py`` files next to this script, sorted, optionally only those whose name contains ``only``."""
    return [p for p in sorted(HERE.glob("bench_*.py")) if only is None or only in p.stem]


def _failure(name: str, what: str) -> Row:
    return {"benchmark": name, "metric": "FAILED", "value": math.nan, "unit": "", "baseline": None, "ratio": None,
            "target": None, "note": what, "failed": True}


def check_rows(rows: object) -> str | None:
    """Why ``rows`` does not follow the convention, or None when it does."""
    if not isinstance(rows, list):
        return f"run() returned {type(rows).__name__}, expected a list of dicts"
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return f"row {i} is {type(row).__name__}, expected a dict"
        missing = [key for key in REQUIRED if key not in row]
        if missing:
            return f"row {i} ({row.get('metric')!r}) lacks {', '.join(missing)}"
        if not isinstance(row["value"], int | float) or isinstance(row["value"], bool):
            return f"row {i} ({row['metric']!r}) has a non-numeric value {row['value']!r}"
        if row["ratio"] is not None and not isinstance(row["ratio"], int | float):
            return f"row {i} ({row['metric']!r}) has a non-numeric ratio {row['ratio']!r}"
    return None


def run_module(path: Path, quick: bool) -> list[Row]:
    """Import ``path`` and call its ``run(quick)``; any failure becomes a single FAILED row."""
    name = path.stem
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Registered before executing so bench modules can import each other's helpers by name.
        sys.modules[name] = module
        spec.loader.exec_module(module)
        rows = module.run(quick=quick)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return [_failure(name, f"{type(exc).__name__}: {exc}")]
    problem = check_rows(rows)
    if problem is not None:
        return [_failure(name, f"malformed result: {problem}")]
    return list(rows)


def met(row: Row) -> str:
    """``yes``/``NO`` for a checkable target, ``skipped`` for a row without a figure, ``-`` when there is none."""
    if row.get("failed"):
        return "FAILED"
    measured = row["ratio"] if row["ratio"] is not None else row["value"]
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return "skipped" if row.get("note", "").startswith("skipped") or row["target"] else "-"
    target = row["target"]
    if not target:
        return "-"
    found = _TARGET.match(target)
    if found is None:
        return "?"
    op, number, suffix = found.groups()
    bound = float(number) / 100 if suffix == "%" else float(number)
    return "yes" if _OPS[op](measured, bound) else "NO"


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def cells(row: Row) -> list[str]:
    """The row's table cells, in `COLUMNS` order."""
    ratio = row["ratio"]
    target = row["target"] or ""
    if ratio is None:
        ratio_text = ""
    elif target.strip().endswith("%"):
        ratio_text = f"{ratio * 100:.1f}%"
    else:
        ratio_text = f"{ratio:.2f}x"
    return [str(row["benchmark"]), str(row["metric"]), _number(float(row["value"])), str(row["unit"]),
            row["baseline"] or "", ratio_text, target, met(row)]


def text_table(rows: Sequence[Row]) -> str:
    """A fixed-width table followed by the rows' notes."""
    body = [list(COLUMNS), *[cells(r) for r in rows]]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    right = {2, 5}
    lines = []
    for n, line in enumerate(body):
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                                           strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  [{r['benchmark']}] {r['metric']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def markdown_table(rows: Sequence[Row], *, command: str, started: datetime, seconds: float) -> str:
    """The same table as Markdown, with the command, date and machine it was measured with."""
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = [
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `{command}` in {seconds:.0f} s "
        f"(Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{_cpus()} CPUs).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" if i in (2, 5) else "---" for i in range(len(COLUMNS))) + "|",
    ]
    out += ["| " + " | ".join(esc(c) for c in cells(r)) + " |" for r in rows]
    notes = [f"- **{esc(r['benchmark'])} / {esc(r['metric'])}**: {esc(r['note'])}" for r in rows if r.get("note")]
    if notes:
        out += ["", *notes]
    return "\n".join(out) + "\n"


def _cpus() -> str:
    import os

    return str(os.cpu_count() or "?")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every module ran, 1 when any failed, 2 when nothing was found."""
    parser = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py and print one table.")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds (for smoke tests)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    parser.add_argument("--only", metavar="TEXT", help="run only modules whose name contains TEXT")
    args = parser.parse_args(argv)
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    paths = discover(args.only)
    if not paths:
        print(f"no benchmarks/bench_*.py matched {args.only!r}", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    rows: list[Row] = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        rows += run_module(path, args.quick)
        print(f"  {path.name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    print(text_table(rows))
    if args.markdown:
        command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + \
            (f" --only {args.only}" if args.only else "")
        Path(args.markdown).write_text(markdown_table(rows, command=command, started=started, seconds=seconds),
                                       encoding="utf-8")
    failed = [r["benchmark"] for r in rows if r.get("failed")]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
