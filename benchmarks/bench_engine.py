"""Engine benchmark (issue 3): evaluation speed on every catalog code, against three baselines, plus load/compile
time and the compiled policy's memory.

Rows (ratios are measured in the same run, interleaved round by round, best round kept):

- ``evaluate`` decisions/s over outcomes built from every catalog entry (half of them with a History).
- ``vs naive first-match scan``: how many times faster than `_naive.NaivePolicy` (same rules, same Decision
  building code; only rule selection differs).  Target >= 20x.
- ``vs zen-engine decision table``: how many times faster than zen-engine evaluating a JDM decision table with the
  same code -> (verdict, rule) mapping.  Target >= 10x.  Skipped (with the reason) when zen-engine is missing.
- ``share of a tenacity attempt``: evaluate's cost as a fraction of one failed tenacity attempt with
  ``wait_none()``.  Target <= 5%.
- load and compile times (in process, uncached internals) and a cold start in a fresh interpreter.
- memory of the catalog and of the compiled default policy (tracemalloc).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from _naive import NaivePolicy
from _rows import Row, result_row

from dlrpolicy import Engine
from dlrpolicy.decide._evaluate import evaluate as evaluate_policy
from dlrpolicy.model._outcome import CodeRef, History, Outcome
from dlrpolicy.model._vocabulary import DEFAULT_CHANNEL, SLOT_KINDS
from dlrpolicy.policy._catalog import Catalog, _read_shipped_tables
from dlrpolicy.policy._compile import CompiledPolicy
from dlrpolicy.policy._entries import CodeEntry
from dlrpolicy.policy._layers import compile_layers, default_layer

NAME = "engine"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

Case = tuple[Outcome, History | None]


row = functools.partial(result_row, NAME)


# --- inputs -------------------------------------------------------------------------------------------------------

def outcome_for(entry: CodeEntry, index: int) -> Outcome:
    """An outcome reporting ``entry`` in its slot on the product's default channel (as tests/strategies.py does)."""
    status_kind, _ = SLOT_KINDS[entry.provider]
    ref = CodeRef(id=entry.id, group_id=entry.group_id, name=entry.name, permanent=entry.permanent,
                  kind="http" if entry.kind == "http" else None)
    slot = "status" if entry.kind == status_kind else "error"
    return Outcome(
        provider=entry.provider, channel=DEFAULT_CHANNEL[entry.product], product=entry.product,
        message_id=f"msg-{index:06d}", recipient=f"+8210{index:08d}", sender="news@acme.example",
        tenant="acme", **{slot: ref},  # type: ignore[arg-type]
    )


def catalog_cases(catalog: Catalog, *, limit: int | None = None) -> list[Case]:
    """Every catalog entry as an outcome; every other one comes with a History (second attempt, 10 minutes in)."""
    entries = list(catalog)
    if limit is not None:
        entries = entries[:: max(1, len(entries) // limit)][:limit]
    history = History(attempts=2, first_attempt_at=NOW - timedelta(minutes=10))
    return [(outcome_for(entry, i), history if i % 2 else None) for i, entry in enumerate(entries)]


# --- timing helpers -----------------------------------------------------------------------------------------------

def time_pass(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
    """Nanoseconds per item for one pass of ``fn`` over ``items``."""
    start = time.perf_counter_ns()
    for item in items:
        fn(item)
    return (time.perf_counter_ns() - start) / len(items)


Contender = tuple[Callable[[Any], object], Sequence[Any]]


def best_interleaved(contenders: dict[str, Contender], rounds: int) -> dict[str, float]:
    """Best ns/item of each contender, running them one after another in every round (so drift hits all alike)."""
    best = dict.fromkeys(contenders, math.inf)
    for _ in range(rounds):
        for name, (fn, items) in contenders.items():
            best[name] = min(best[name], time_pass(fn, items))
    return best


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``fn()`` in nanoseconds."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - start)
    return best


# --- zen-engine ---------------------------------------------------------------------------------------------------

_ZEN_INPUTS = ("provider", "kind", "product", "id", "group_id", "name", "channel")


def _zen_literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # zen string literals have no escapes: pick the quote the text does not contain.
    return f"'{text}'" if '"' in text else f'"{text}"'


def zen_table(policy: CompiledPolicy) -> dict[str, Any]:
    """A JDM graph with one first-hit decision table: a row per (catalog entry, winning plan) of ``policy``.

    Channel-specific plans come first for their entry, as in `Candidate.plan_for`; the entry's last plan has an
    empty (any) channel cell.
    """
    inputs = [{"id": f"in_{name}", "name": name, "field": name} for name in _ZEN_INPUTS]
    outputs = [{"id": "out_verdict", "name": "verdict", "field": "verdict"},
               {"id": "out_rule", "name": "rule", "field": "rule"}]
    rules = []
    for cand in (policy.candidate(entry) for entry in policy.catalog):
        e = cand.entry
        for plan in cand.plans:
            cells = {
                "in_provider": _zen_literal(e.provider), "in_kind": _zen_literal(e.kind),
                "in_product": _zen_literal(e.product), "in_id": _zen_literal(e.id),
                "in_group_id": _zen_literal(e.group_id), "in_name": _zen_literal(e.name),
                "in_channel": "" if plan.channels is None else ", ".join(map(_zen_literal, sorted(plan.channels))),
                "out_verdict": _zen_literal(plan.verdict), "out_rule": _zen_literal(plan.rule),
            }
            rules.append({"_id": f"r{len(rules)}", **cells})
    table = {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": rules}
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
            {"id": "codes", "type": "decisionTableNode", "name": "codes", "position": {"x": 200, "y": 0},
             "content": table},
            {"id": "response", "type": "outputNode", "name": "response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "codes", "type": "edge"},
            {"id": "e2", "sourceId": "codes", "targetId": "response", "type": "edge"},
        ],
    }


def zen_context(policy: CompiledPolicy, outcome: Outcome) -> dict[str, Any]:
    """The table's inputs for ``outcome``: the entry the engine resolves it to, and the channel."""
    ref = outcome.error if outcome.error is not None else outcome.status
    assert ref is not None
    kind = SLOT_KINDS[outcome.provider][0 if outcome.error is None else 1]
    product = outcome.product
    assert product is not None
    return {"provider": outcome.provider, "kind": kind, "product": product, "id": ref.id,
            "group_id": ref.group_id, "name": ref.name, "channel": outcome.channel}


# --- the benchmark ------------------------------------------------------------------------------------------------

class _Failed(Exception):
    """What the function under tenacity raises on every attempt."""


def _always_fails() -> None:
    raise _Failed


def _no_sleep(seconds: float) -> None:
    """tenacity's sleep replaced: time.sleep(0) is a scheduler yield whose cost is the OS's, not tenacity's."""


def tenacity_attempt_ns(attempts: int, repeats: int, *, real_sleep: bool = False) -> float:
    """Best ns per failed attempt of a `tenacity.Retrying` with wait_none() over ``attempts`` attempts.

    With ``real_sleep`` tenacity calls its default ``time.sleep(0)`` between attempts, as it does in production.
    """
    import tenacity

    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(attempts), wait=tenacity.wait_none(),
                                 retry=tenacity.retry_if_exception_type(_Failed), reraise=True,
                                 sleep=time.sleep if real_sleep else _no_sleep)

    def loop() -> None:
        with contextlib.suppress(_Failed):
            retrying(_always_fails)

    return best_of(loop, repeats) / attempts


def _evaluation_rows(policy: CompiledPolicy, cases: list[Case], rounds: int, zen_rounds: int) -> list[Row]:
    engine = Engine(policy)
    naive = NaivePolicy(policy)

    # Same answers first: a faster engine that decides differently would make the ratio meaningless.
    mismatched = sum(
        engine.evaluate(o, now=NOW, history=h) != evaluate_policy(naive, o, now=NOW, history=h)  # type: ignore[arg-type]
        for o, h in cases
    )

    def run_engine(case: Case) -> object:
        return engine.evaluate(case[0], now=NOW, history=case[1])

    def run_naive(case: Case) -> object:
        return evaluate_policy(naive, case[0], now=NOW, history=case[1])  # type: ignore[arg-type]

    best = best_interleaved({"engine": (run_engine, cases), "naive": (run_naive, cases)}, rounds)
    engine_ns = best["engine"]
    rows = [
        row("evaluate (catalog-wide outcomes)", 1e9 / engine_ns, "decisions/s",
            note=f"{engine_ns / 1000:.2f} us per decision over {len(cases)} outcomes, best of {rounds} rounds"),
        row("vs naive first-match scan", naive_ns := best["naive"], "ns/decision (naive)",
            baseline="naive linear scan", ratio=naive_ns / engine_ns, target=">= 20x",
            note=f"{len(naive.rules)} rules in the policy; naive decisions differing from the engine: {mismatched}"),
    ]
    rows.append(_zen_row(policy, cases, engine, zen_rounds))
    rows += _tenacity_rows(engine_ns, rounds)
    return rows


def _zen_row(policy: CompiledPolicy, cases: list[Case], engine: Engine, rounds: int) -> Row:
    metric, baseline, target = "vs zen-engine decision table", "zen-engine", ">= 10x"
    try:
        import zen
    except ImportError as exc:
        return row(metric, math.nan, "ns/decision (zen)", baseline=baseline, target=target,
                   note=f"skipped: zen-engine is not installed ({exc}); pip install zen-engine")
    table = zen_table(policy)
    decision = zen.ZenEngine().create_decision(json.dumps(table))
    contexts = [zen_context(policy, o) for o, _ in cases]
    wrong = 0
    for (outcome, _), ctx in zip(cases, contexts, strict=True):
        got = decision.evaluate(ctx)["result"]
        cands = [c for table in policy.resolve(outcome.provider, ctx["kind"], ctx["product"], ctx["id"])
                 for c in table]
        plan = next(c for c in cands if c.entry.group_id == ctx["group_id"] and c.entry.name == ctx["name"]) \
            .plan_for(outcome.channel or "sms")
        wrong += got != {"verdict": plan.verdict, "rule": plan.rule}

    def run_engine(case: Case) -> object:
        return engine.evaluate(case[0], now=NOW, history=case[1])

    best = best_interleaved({"engine": (run_engine, cases), "zen": (decision.evaluate, contexts)}, rounds)
    return row(metric, best["zen"], "ns/decision (zen)", baseline=baseline, ratio=best["zen"] / best["engine"],
               target=target,
               note=f"{len(table['nodes'][1]['content']['rules'])} table rows, first hit, contexts prebuilt; zen "
                    f"returns verdict+rule only; rows disagreeing with the engine: {wrong}")


def _tenacity_rows(engine_ns: float, rounds: int) -> list[Row]:
    attempts = 100
    own = tenacity_attempt_ns(attempts, repeats=max(3, rounds * 3))
    slept = tenacity_attempt_ns(attempts, repeats=max(2, rounds), real_sleep=True)
    what = f"Retrying(stop_after_attempt({attempts}), wait_none(), retry_if_exception_type)"
    return [
        row("share of a tenacity attempt", own, "ns/attempt (tenacity)",
            baseline="tenacity failed attempt, wait_none(), sleep no-op", ratio=engine_ns / own, target="<= 5%",
            note=f"evaluate {engine_ns:.0f} ns vs one failed attempt of {what}; tenacity's own Python work only"),
        row("share of a tenacity attempt incl. time.sleep(0)", slept, "ns/attempt (tenacity)",
            baseline="tenacity failed attempt, wait_none(), default sleep", ratio=engine_ns / slept,
            note="informational: tenacity's default sleep calls time.sleep(0) between attempts, a scheduler yield "
                 "whose cost depends on the machine"),
    ]


def _load_rows(repeats: int, cold_repeats: int) -> list[Row]:
    tables = list(_read_shipped_tables())
    read_ns = best_of(lambda: list(_read_shipped_tables()), repeats)
    catalog_ns = best_of(lambda: Catalog.from_tables(tables), repeats)
    catalog = Catalog.from_tables(tables)
    compile_ns = best_of(lambda: compile_layers([default_layer()], catalog=catalog), repeats)
    total_ns = best_of(lambda: compile_layers([default_layer()], catalog=Catalog.from_tables(_read_shipped_tables())),
                       repeats)
    rows = [
        row("load catalog: read + parse TOML", read_ns / 1e6, "ms", note=f"{len(tables)} tables"),
        row("load catalog: validate + index", catalog_ns / 1e6, "ms", note=f"{len(catalog)} entries"),
        row("compile default policy", compile_ns / 1e6, "ms", note="default.toml parse + build_spec + compile_policy"),
        row("load + compile catalog and default policy", total_ns / 1e6, "ms", note=f"best of {repeats}, in process"),
    ]
    code = ("import time; t = time.perf_counter_ns(); from dlrpolicy import Engine; Engine.default(); "
            "print(time.perf_counter_ns() - t)")
    cold: list[int] = []
    for _ in range(cold_repeats):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        cold.append(int(done.stdout.strip()))
    rows.append(row("cold start: import + Engine.default() in a fresh interpreter", min(cold) / 1e6, "ms",
                    note=f"best of {cold_repeats} subprocesses, interpreter start-up excluded"))
    return rows


def _memory_rows() -> list[Row]:
    tables = list(_read_shipped_tables())
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        catalog = Catalog.from_tables(tables)
        gc.collect()
        after_catalog = tracemalloc.get_traced_memory()[0]
        policy = compile_layers([default_layer()], catalog=catalog)
        gc.collect()
        after_policy = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del policy
    return [
        row("memory: catalog", (after_catalog - before) / 1024, "KiB", note=f"{len(catalog)} entries, tracemalloc"),
        row("memory: compiled default policy", (after_policy - after_catalog) / 1024, "KiB",
            note="tracemalloc delta of compile over an already loaded catalog"),
    ]


def run(quick: bool = False) -> list[Row]:
    """Run the engine benchmark; ``quick`` uses a sample of the catalog and few rounds (seconds)."""
    policy = Engine.default().policy
    cases = catalog_cases(policy.catalog, limit=60 if quick else None)
    rows = _evaluation_rows(policy, cases, rounds=2 if quick else 15, zen_rounds=1 if quick else 3)
    rows += _load_rows(repeats=1 if quick else 5, cold_repeats=1 if quick else 3)
    rows += _memory_rows()
    return rows


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
