"""``dlrpolicy policy test``: run policy test files (cases of a report, a time and what its decision must be)
against the tenant or policy they name; ``--coverage`` reports the rules the cases exercised."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._errors import PolicyError, PolicyProblem, PolicyTestError, TenantError
from ..decide._engine import Engine
from ..policy._compile import CompiledPolicy
from ..policy._layers import default_policy
from ..policy._tenants import PolicyStore
from ..report._policy_tests import CaseResult, TestFile, read_test_files, rule_coverage, run_case, unknown_rules
from ._common import UsageError, add_policy_arguments


def add_parser(inner: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``policy test`` (called from the ``policy`` group's parser)."""
    p = inner.add_parser(
        "test", help="run policy test files against the tenants they name",
        description="Run policy test files (TOML: [[case]] tables with a report, now, optional history and "
        "expect = {verdict, rule, retry_at = \"now+24h±1h\", channel, suppress, escalate, ...}).  Prints ok or "
        "FAIL per case and ends with 'N passed, M failed'.  Exit 0: all passed; 1: a case failed (or coverage "
        "is below --threshold); 2: a test file is wrong (every problem is listed with file, line and fix).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="policy test files (e.g. examples/policies/tests/*.toml)")
    p.add_argument("--coverage", action="store_true", help="report the share of the rules under test that the "
                   "cases exercised, and list the rest")
    p.add_argument("--threshold", type=float, metavar="P", help="fail when that share is below P percent "
                   "(implies --coverage)")
    add_policy_arguments(p)
    p.set_defaults(run=run)


def _policy_for(test: TestFile, args: argparse.Namespace,
                cache: dict[tuple[str, str | None], CompiledPolicy | PolicyError]) -> tuple[
                    str | None, CompiledPolicy | PolicyError]:
    tenant = args.tenant or test.tenant
    if args.policy:
        if tenant is not None:
            raise UsageError(f"{test.path} tests tenant {tenant}; --policy replaces the default, so drop one")
        key: tuple[str, str | None] = ("--policy", None)
        if key not in cache:
            try:
                cache[key] = Engine.load(args.policy).policy
            except PolicyError as exc:
                cache[key] = exc
        return None, cache[key]
    folder = Path(args.policy_dir) if args.policy_dir else test.policy_dir
    key = (str(folder), tenant)
    if key not in cache:
        try:
            cache[key] = PolicyStore(folder).compile(tenant) if tenant is not None else default_policy()
        except PolicyError as exc:
            cache[key] = exc
        except TenantError as exc:
            raise PolicyTestError([PolicyProblem(
                file=test.path, line=1, field="tenant", message=str(exc),
                fix="set policy_dir in the test file (relative to it) or pass --policy-dir DIR")]) from None
    return tenant, cache[key]


def _print_result(result: CaseResult) -> None:
    case = result.case
    where = f"{case.file}:{case.line}"
    if result.passed:
        print(f"ok    {where}  {case.name}")
        return
    print(f"FAIL  {where}  {case.name}: {'; '.join(result.failures)}")
    if result.decision is not None:
        print(f"      decision: {json.dumps(result.decision.to_json(), ensure_ascii=False)}")


def run(args: argparse.Namespace) -> int:
    """Run every case of every file; exit 1 on a failure, 2 on a bad test file."""
    if args.threshold is not None and not 0 <= args.threshold <= 100:
        raise UsageError("--threshold is a percentage from 0 to 100")
    try:
        tests = read_test_files(args.files)
        cache: dict[tuple[str, str | None], CompiledPolicy | PolicyError] = {}
        policies = [_policy_for(test, args, cache) for test in tests]
        typos = [problem for test, (_, policy) in zip(tests, policies, strict=True)
                 if not isinstance(policy, PolicyError) for problem in unknown_rules(test, policy)]
        if typos:
            raise PolicyTestError(typos)
    except PolicyTestError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"dlrpolicy policy test: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} in "
              "the test files; no case was run", file=sys.stderr)
        return 2
    passed = failed = 0
    exercised: dict[tuple[str | None, int], set[str]] = {}
    covered: dict[tuple[str | None, int], tuple[str | None, CompiledPolicy]] = {}
    for test, (tenant, policy) in zip(tests, policies, strict=True):
        label = f"tenant {tenant}" if tenant else "the policy"
        if isinstance(policy, PolicyError):
            print(f"{test.path}: {label} does not load:\n{policy}")
            print(f"FAIL  {test.path}  all {len(test.cases)} cases: the policy under test is invalid")
            failed += len(test.cases)
            continue
        print(f"{test.path}: {label} (policy {policy.version}), {len(test.cases)} case"
              f"{'s' if len(test.cases) != 1 else ''}")
        hits = exercised.setdefault((tenant, id(policy)), set())
        covered[(tenant, id(policy))] = (tenant, policy)
        for case in test.cases:
            result = run_case(case, policy)
            _print_result(result)
            if result.decision is not None:
                hits.add(result.decision.rule)
            passed += result.passed
            failed += not result.passed
    below = False
    if args.coverage or args.threshold is not None:
        for key, (tenant, policy) in covered.items():
            report = rule_coverage(policy, tenant, exercised[key])
            print(f"coverage: {report.label}: {len(report.hit)} of {len(report.rules)} exercised "
                  f"({report.share:.1f}%); whole policy: {report.whole_exercised} of {report.whole} rules")
            if report.missed:
                shown = ", ".join(report.missed[:40])
                more = f" and {len(report.missed) - 40} more" if len(report.missed) > 40 else ""
                print(f"  not exercised: {shown}{more}")
            if args.threshold is not None and report.share < args.threshold:
                below = True
                print(f"  coverage {report.share:.1f}% is below --threshold {args.threshold:g}%")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or below else 0
