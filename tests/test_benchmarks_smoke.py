"""Smoke tests for the benchmarks: each module runs in quick mode and returns well-formed rows (no timing checks)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the folder is not a package; run.py loads modules the same way)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_rows(rows: list[dict[str, object]], benchmark: str) -> None:
    """Every row follows the shared convention and belongs to ``benchmark``."""
    runner = load("run")
    assert runner.check_rows(rows) is None
    assert rows
    for row in rows:
        assert benchmark == row["benchmark"]
        assert isinstance(row["metric"], str)
        assert isinstance(row["unit"], str)
        assert row["baseline"] is None or isinstance(row["baseline"], str)
        assert row["target"] is None or runner._TARGET.match(row["target"]) is not None
        value = row["value"]
        assert isinstance(value, float)
        if math.isnan(value):
            assert str(row.get("note", "")).startswith("skipped")
        else:
            assert value >= 0


@pytest.mark.parametrize(("module", "benchmark"), [("bench_engine", "engine"), ("bench_tenants", "tenants"),
                                                  ("bench_replay", "replay"), ("bench_state", "state")])
def test_bench_module_quick_rows(module: str, benchmark: str) -> None:
    """run(quick=True) returns rows in the shared format."""
    assert_rows(load(module).run(quick=True), benchmark)


def test_naive_baseline_decides_like_the_engine() -> None:
    """The naive first-match scan reaches the same decisions as the compiled engine on catalog outcomes."""
    from dlrpolicy import Engine
    from dlrpolicy.decide._evaluate import evaluate

    bench = load("bench_engine")
    naive_module = load("_naive")
    policy = Engine.default().policy
    naive = naive_module.NaivePolicy(policy)
    cases = bench.catalog_cases(policy.catalog)
    expected = [evaluate(policy, o, now=bench.NOW, history=h) for o, h in cases]
    actual = [evaluate(naive, o, now=bench.NOW, history=h) for o, h in cases]
    assert expected == actual


def test_zen_table_has_a_row_per_plan() -> None:
    """The zen decision table holds one row per (catalog entry, winning plan)."""
    from dlrpolicy import Engine

    policy = Engine.default().policy
    table = load("bench_engine").zen_table(policy)
    rows = table["nodes"][1]["content"]["rules"]
    assert sum(len(policy.candidate(e).plans) for e in policy.catalog) == len(rows)


def test_tenant_file_compiles() -> None:
    """The generated tenant override is valid against the shipped default policy."""
    from dlrpolicy import Engine
    from dlrpolicy.policy._layers import compile_layers, default_layer
    from dlrpolicy.policy._read import Layer

    default = Engine.default().policy
    text = load("bench_tenants").tenant_text(default, "acme")
    layer = Layer.from_text(text, source="acme.toml", name="tenant:acme")
    policy = compile_layers([default_layer(), layer], catalog=default.catalog, base=default)
    assert "acme.office-hours-retry" in {rule.id for rule in policy.rules}


def test_runner_reports_a_failing_module(tmp_path: Path) -> None:
    """A module that raises becomes a FAILED row instead of stopping the run."""
    broken = tmp_path / "bench_broken.py"
    broken.write_text("def run(quick=False):\n    raise RuntimeError('boom')\n", encoding="utf-8")
    rows = load("run").run_module(broken, True)
    expected = [("bench_broken", "FAILED", "RuntimeError: boom")]
    assert expected == [(r["benchmark"], r["metric"], r["note"]) for r in rows]


def test_runner_rejects_malformed_rows(tmp_path: Path) -> None:
    """Rows missing required keys are reported as a failure naming what is missing."""
    odd = tmp_path / "bench_odd.py"
    odd.write_text("def run(quick=False):\n    return [{'benchmark': 'odd', 'metric': 'm'}]\n", encoding="utf-8")
    (row,) = load("run").run_module(odd, True)
    failed = "FAILED"
    assert failed == row["metric"]
    assert "lacks value, unit, baseline, ratio, target" in row["note"]


@pytest.mark.parametrize(
    ("ratio", "value", "target", "expected"),
    [
        (25.0, 1.0, ">= 20x", "yes"),
        (3.0, 1.0, ">= 20x", "NO"),
        (0.04, 1.0, "<= 5%", "yes"),
        (0.43, 1.0, "<= 5%", "NO"),
        (None, 1.05, "<= 1.1x", "yes"),
        (None, 1.0, None, "-"),
        (None, math.nan, ">= 10x", "skipped"),
    ],
)
def test_runner_checks_targets(ratio: float | None, value: float, target: str | None, expected: str) -> None:
    """Targets are read as OP NUMBER[x|%] against the ratio (or the value when there is no ratio)."""
    row = {"benchmark": "b", "metric": "m", "value": value, "unit": "u", "baseline": None, "ratio": ratio,
           "target": target}
    assert expected == load("run").met(row)


def test_runner_writes_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--markdown writes the table with the command it was measured with; exit 1 when a module failed."""
    runner = load("run")
    good = tmp_path / "bench_good.py"
    good.write_text(
        "def run(quick=False):\n"
        "    return [{'benchmark': 'good', 'metric': 'speed', 'value': 2.0, 'unit': 'x/s', 'baseline': 'b',\n"
        "             'ratio': 2.0, 'target': '>= 1x'}]\n",
        encoding="utf-8",
    )
    (tmp_path / "bench_bad.py").write_text("raise ImportError('no such thing')\n", encoding="utf-8")
    monkeypatch.setattr(runner, "HERE", tmp_path)
    out = tmp_path / "figures.md"
    exit_status = 1
    assert exit_status == runner.main(["--quick", "--markdown", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "`python benchmarks/run.py --quick`" in text
    assert "| good | speed | 2 | x/s | b | 2.00x | >= 1x | yes |" in text
    assert "| bench_bad | FAILED |" in text
