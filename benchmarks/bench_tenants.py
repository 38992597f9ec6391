"""Tenant benchmark (issue 7): compiling one tenant, memory per tenant with many loaded, and evaluation speed
through a tenant policy relative to the default policy.

The tenant file is a realistic small override written into a temporary directory: a window, two patches, one
new rule and one disabled rule.  Rule ids are picked from the shipped default policy at run time (retry rules are
patched, the last other rule is disabled, the new rule targets a code no id-level rule covers), so the benchmark
keeps working while the default policy grows.  Each tenant's file differs a little (its own escalation route),
as real tenants' files do.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from _rows import Row, result_row
from bench_engine import NOW, Case, best_interleaved, best_of, catalog_cases

from dlrpolicy import Engine
from dlrpolicy.policy._compile import CompiledPolicy
from dlrpolicy.policy._tenants import PolicyStore

NAME = "tenants"
row = functools.partial(result_row, NAME)


def _new_rule_target(policy: CompiledPolicy) -> tuple[str, str, str, int]:
    """An Infobip error code that no id-level rule matches, so a tenant rule on it cannot tie with one."""
    for cand in (policy.candidate(entry) for entry in policy.catalog):
        e = cand.entry
        if (e.provider, e.kind) == ("infobip", "error") and not e.success and \
                all(rule.match.ids is None for rule in cand.matched):
            return e.provider, e.kind, e.product, e.id
    raise RuntimeError("no Infobip error code is free of id-level rules; pick another target for the tenant rule")


def tenant_text(policy: CompiledPolicy, tenant: str, *, defaults: bool = False) -> str:
    """A small override file for ``tenant`` against ``policy`` (the default); ``defaults`` also changes
    ``[defaults] max_attempts``, which reshapes every plan that inherits it."""
    retry_rules = [rule.id for rule in policy.rules if rule.body.verdict == "retry"][:2]
    others = [rule.id for rule in policy.rules if rule.id not in retry_rules]
    provider, kind, product, code = _new_rule_target(policy)
    # A top-level key must come before the first table header, or TOML puts it inside that table.
    lines = [f'disable = ["{others[-1]}"]', ""] if others else []
    if defaults:
        lines += ["[defaults]", "max_attempts = 3", ""]
    lines += ["[windows.office_hours]", 'timezone = "Europe/Berlin"', 'daily = ["08:00-21:00"]', ""]
    for rule_id in retry_rules:
        lines += ["[[patch]]", f'id = "{rule_id}"', 'give_up_after = "24h"', "max_attempts = 3", ""]
    lines += [
        "[[rule]]",
        f'id = "{tenant}.office-hours-retry"',
        f'match = {{ provider = "{provider}", kind = "{kind}", product = "{product}", id = {code} }}',
        'verdict = "retry"',
        'after = "10m"',
        'window = "office_hours"',
        "max_attempts = 3",
        f'escalate = {{ route = "{tenant}-ops", severity = "warning" }}',
        'reason = "Our customers answer during office hours; retry then and tell our ops team."',
        "",
    ]
    return "\n".join(lines)


def write_tenants(directory: Path, policy: CompiledPolicy, count: int, *, prefix: str = "tenant",
                  defaults: bool = False) -> list[str]:
    """Write ``count`` tenant files into ``directory``; return their ids."""
    names = [f"{prefix}-{i:04d}" for i in range(count)]
    for name in names:
        (directory / f"{name}.toml").write_text(tenant_text(policy, name, defaults=defaults), encoding="utf-8")
    return names


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def memory_per_tenant(directory: Path, tenants: list[str], *, traced: int) -> tuple[float, float | None, PolicyStore]:
    """Bytes retained per tenant once all ``tenants`` are loaded through one `PolicyStore`.

    tracemalloc slows compilation about tenfold, so only the last ``traced`` tenants are loaded under it (after
    the others, so the figure is the marginal cost with all of them loaded); every tenant's file has the same
    shape, so that marginal cost is the per-tenant cost.  The second figure is the resident-set growth over the
    whole load divided by the number of tenants (None where /proc is missing), as a cross-check.
    """
    traced = max(1, min(traced, len(tenants) - 1))
    store = PolicyStore(directory)
    store.get(tenants[0])  # the shared default is compiled on first use: keep it out of the per-tenant figure
    gc.collect()
    rss_before = _rss_bytes()
    untraced, last = tenants[: len(tenants) - traced], tenants[len(tenants) - traced:]
    for tenant in untraced:
        store.get(tenant)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for tenant in last:
            store.get(tenant)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    rss_after = _rss_bytes()
    rss = None if rss_before is None or rss_after is None else (rss_after - rss_before) / (len(tenants) - 1)
    return (after - before) / len(last), rss, store


def _evaluation_rows(store: PolicyStore, tenant: str, default: CompiledPolicy, cases: list[Case],
                     rounds: int) -> list[Row]:
    default_engine = Engine(default)
    tenant_engine = Engine(store.get(tenant))
    routed = Engine(default, store=store)

    def run_default(case: Case) -> object:
        return default_engine.evaluate(case[0], now=NOW, history=case[1])

    def run_tenant(case: Case) -> object:
        return tenant_engine.evaluate(case[0], now=NOW, history=case[1])

    def run_routed(case: Case) -> object:
        return routed.for_tenant(tenant).evaluate(case[0], now=NOW, history=case[1])

    best = best_interleaved({"default": (run_default, cases), "tenant": (run_tenant, cases),
                             "routed": (run_routed, cases)}, rounds)
    return [
        row("evaluate through a tenant policy", best["tenant"], "ns/decision",
            baseline="default policy", ratio=best["tenant"] / best["default"], target="<= 1.1x",
            note=f"default {best['default']:.0f} ns/decision; {len(cases)} catalog-wide outcomes, best of {rounds}"),
        row("evaluate via Engine.for_tenant(t) per call", best["routed"], "ns/decision",
            baseline="default policy", ratio=best["routed"] / best["default"],
            note="informational: includes PolicyStore.get (tenant id check + stat of the file) on every call"),
    ]


def run(quick: bool = False) -> list[Row]:
    """Run the tenant benchmark; ``quick`` loads 5 tenants instead of 1,000 and uses few rounds."""
    default = Engine.default().policy
    count = 5 if quick else 1000
    variant_count = 5 if quick else 200
    rounds = 2 if quick else 15
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dlrpolicy-bench-") as tmp:
        directory = Path(tmp)
        tenants = write_tenants(directory, default, count)
        store = PolicyStore(directory)
        compile_ns = best_of(lambda: store.compile(tenants[0]), 1 if quick else 10)
        rows.append(row("compile one tenant", compile_ns / 1e6, "ms",
                        note="read file + default.toml, merge, validate, compile over the shared default"))
        traced = 5 if quick else 50
        per_tenant, rss, loaded = memory_per_tenant(directory, tenants, traced=traced)
        shared = _shared_candidates(loaded.get(tenants[0]), default)
        rows.append(row(f"memory per tenant ({count:,} tenants loaded)", per_tenant / 1024, "KiB",
                        note=f"tracemalloc delta over the last {min(traced, count - 1)} tenants loaded; resident-set "
                             f"growth over all / {count - 1}: {_kib(rss)}; candidates shared with the default: "
                             f"{shared}"))
        variants = write_tenants(directory, default, variant_count, prefix="defaults", defaults=True)
        per_variant, vrss, vstore = memory_per_tenant(directory, variants, traced=min(traced, 20))
        rows.append(row(f"memory per tenant overriding [defaults] ({variant_count:,} loaded)", per_variant / 1024,
                        "KiB",
                        note=f"same file plus [defaults] max_attempts = 3; resident-set growth: {_kib(vrss)}; "
                             "candidates shared with the default: "
                             f"{_shared_candidates(vstore.get(variants[0]), default)}"))
        rows += _evaluation_rows(loaded, tenants[0], default,
                                 catalog_cases(default.catalog, limit=60 if quick else None), rounds)
    return rows


def _kib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1024:.0f} KiB"


def _shared_candidates(policy: CompiledPolicy, default: CompiledPolicy) -> str:
    entries = default.catalog.entries
    shared = sum(policy.candidate(entry) is default.candidate(entry) for entry in entries)
    return f"{shared}/{len(entries)}"


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        value = result["value"]
        print(result["metric"], "nan" if math.isnan(value) else f"{value:.4g}", result["unit"], result.get("ratio"),
              result.get("note"))
