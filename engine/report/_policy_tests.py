"""Policy test files: cases of a report, a time, an optional history and what its decision must be, read from
TOML (every problem in every file reported at once, each with its file, line and fix) and checked against a
compiled policy.

    tenant = "bank"                 # the tenant under test (none: the policy itself)
    policy_dir = ".."               # where <tenant>.toml lives, relative to this file (default: this file's folder)
    now = "2026-11-24T10:00:00+09:00"

    [[case]]
    name = "KakaoTalk quota used up: SMS at once"
    report_file = "../../payloads/nhn_webhook_result_update.json"   # or a [case.report] table (payload or envelope)
    message_id = "..."              # which outcome, when the report holds several
    history = { attempts = 2, first_attempt_at = "...", channels = ["kakao"] }
    expect = { verdict = "retry", rule = "kakao.send-quota", retry_at = "now", channel = "sms" }
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs

from .._errors import DlrpolicyError, PayloadError, PolicyProblem, PolicyTestError
from ..adapters._records import read_record
from ..decide._evaluate import evaluate
from ..model._decision import Decision
from ..model._outcome import History, Outcome
from ..model._vocabulary import CHANNELS, PROVIDERS, validate_tenant
from ..policy._compile import CompiledPolicy
from ._decision_log import history_from_json
from ._expect import ExpectationError, check, read_expectations

TOP_KEYS: Final = ("tenant", "policy_dir", "now", "case")
CASE_KEYS: Final = ("name", "now", "report", "report_file", "message_id", "history", "provider", "channel", "expect")
_CASE_HEADER: Final = re.compile(r"^\s*\[\[\s*case\s*\]\]")


@attrs.frozen
class Case:
    """One test case: where it is written, the outcome it decides, when, with which history, what must hold."""

    name: str
    file: str
    line: int
    now: datetime
    outcome: Outcome
    history: History | None
    expect: Mapping[str, Any]


@attrs.frozen
class TestFile:
    """A policy test file: the tenant it tests (None: the policy itself), the folder its tenant file is in, and
    its cases."""

    __test__ = False  # not a pytest test class, whatever its name

    path: str
    tenant: str | None
    policy_dir: Path
    cases: tuple[Case, ...]


@attrs.frozen
class CaseResult:
    """A case and how it came out: the decision, and every reason it failed (empty: passed)."""

    case: Case
    decision: Decision | None
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures


class _Lines:
    """Line numbers in a test file: of each ``[[case]]`` header and of keys inside a case."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.cases = [n for n, line in enumerate(self.lines, start=1) if _CASE_HEADER.match(line)]

    def case(self, index: int) -> int:
        return self.cases[index] if index < len(self.cases) else 1

    def key(self, index: int, key: str) -> int:
        """The first line of case ``index`` that sets ``key`` (the last part of a dotted name), else its header."""
        start = self.case(index)
        end = self.cases[index + 1] if index + 1 < len(self.cases) else len(self.lines) + 1
        name = re.escape(key.rsplit(".", 1)[-1])
        pattern = re.compile(rf"(^|[\s{{,.\[])\"?{name}\"?\s*=|^\s*\[\s*case\.{name}\s*\]")
        for number in range(start, end):
            if pattern.search(self.lines[number - 1]):
                return number
        return start

    def top(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        first_case = self.cases[0] if self.cases else len(self.lines) + 1
        for number in range(1, first_case):
            if pattern.match(self.lines[number - 1]):
                return number
        return None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.file = str(path)
        self.lines = _Lines(text)
        self.problems: list[PolicyProblem] = []

    def fail(self, message: str, fix: str, *, line: int | None, field: str | None = None) -> None:
        self.problems.append(PolicyProblem(file=self.file, message=message, fix=fix, field=field, line=line))

    def instant(self, value: object, field: str, line: int | None) -> datetime | None:
        if isinstance(value, datetime):  # TOML has datetimes of its own
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time", "write e.g. 2026-11-24T10:00:00+09:00", line=line,
                          field=field)
                return None
        else:
            self.fail(f"expected a time, got {value!r}", "write e.g. now = \"2026-11-24T10:00:00Z\"", line=line,
                      field=field)
            return None
        if moment.utcoffset() is None:
            self.fail(f"{value!r} has no UTC offset", "add the offset, e.g. +09:00 or Z", line=line, field=field)
            return None
        return moment


def load_test_file(path: str | Path) -> TestFile:
    """Read and validate a test file (reports are read into outcomes here); raise `PolicyTestError` listing every
    problem."""
    found = read_test_files([path])
    return found[0]


def read_test_files(paths: Sequence[str | Path]) -> list[TestFile]:
    """Read every file; raise one `PolicyTestError` with the problems of all of them."""
    files: list[TestFile] = []
    problems: list[PolicyProblem] = []
    for path in paths:
        reader, loaded = _read_file(Path(path))
        problems += reader.problems
        if loaded is not None:
            files.append(loaded)
    if problems:
        raise PolicyTestError(problems)
    return files


def _read_file(path: Path) -> tuple[_Reader, TestFile | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reader = _Reader(path, "")
        reader.fail(f"cannot read the file: {exc}", "check the path and that the file is UTF-8 text", line=None)
        return reader, None
    reader = _Reader(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        reader.fail(f"not valid TOML: {exc}", "correct the TOML syntax at that line",
                    line=int(line.group(1)) if line else None)
        return reader, None
    except RecursionError:
        reader.fail("arrays or tables nested too deeply to read", "a test file is [[case]] tables of a few levels",
                    line=None)
        return reader, None
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        reader.fail(f"a number is thousands of digits long ({str(exc)[:60]})", "write numbers of at most 18 digits",
                    line=None)
        return reader, None
    for key in sorted(set(data) - set(TOP_KEYS)):
        reader.fail(f"unknown key {key!r}", f"use only: {', '.join(TOP_KEYS)} (cases go in [[case]] tables)",
                    line=reader.lines.top(key), field=key)
    tenant = data.get("tenant")
    if tenant is not None:
        try:
            validate_tenant(tenant)
        except DlrpolicyError as exc:
            reader.fail(str(exc), "name the tenant whose <tenant>.toml this file tests",
                        line=reader.lines.top("tenant"), field="tenant")
            tenant = None
    folder = data.get("policy_dir", ".")
    if not isinstance(folder, str):
        reader.fail(f"expected a folder path, got {folder!r}", 'write policy_dir = "path/relative/to/this/file"',
                    line=reader.lines.top("policy_dir"), field="policy_dir")
        folder = "."
    default_now = None
    if "now" in data:
        default_now = reader.instant(data["now"], "now", reader.lines.top("now"))
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list) or not raw_cases:
        reader.fail("the file has no cases", "add [[case]] tables with name, report, now and expect", line=None,
                    field="case")
        raw_cases = []
    cases = [case for index, raw in enumerate(raw_cases)
             if (case := _read_case(reader, index, raw, default_now, tenant, "now" in data)) is not None]
    return reader, TestFile(str(path), tenant, (path.parent / folder).resolve(), tuple(cases))


def _read_case(reader: _Reader, index: int, raw: object, default_now: datetime | None, tenant: str | None,
               file_has_now: bool) -> Case | None:
    lines = reader.lines
    header = lines.case(index)
    label = f"case {index + 1}"
    if not isinstance(raw, dict):
        reader.fail(f"{label} is not a table", "write each case as a [[case]] table", line=header)
        return None
    before = len(reader.problems)
    for key in sorted(set(raw) - set(CASE_KEYS)):
        reader.fail(f"{label}: unknown key {key!r}", f"use only: {', '.join(CASE_KEYS)}", line=lines.key(index, key),
                    field=key)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        reader.fail(f"{label} has no name", 'add name = "what the case shows"', line=header, field="name")
        name = label
    now = reader.instant(raw["now"], "now", lines.key(index, "now")) if "now" in raw else default_now
    if now is None and "now" not in raw and not file_has_now:
        reader.fail(f"{label}: no time to decide at", "add now = \"2026-11-24T10:00:00Z\" to the case or the file",
                    line=header, field="now")
    expect: dict[str, Any] = {}
    raw_expect = raw.get("expect")
    if not isinstance(raw_expect, dict):
        reader.fail(f"{label}: no expectations", "add expect = { verdict = \"retry\", ... } (or a [case.expect] "
                    "table)", line=header, field="expect")
    else:
        try:
            expect = read_expectations(raw_expect)
        except ExpectationError as exc:
            for problem in exc.problems:
                reader.fail(f"{label}: {problem}", problem.fix, line=lines.key(index, problem.field),
                            field=problem.field)
    history = None
    if "history" in raw:
        try:
            history = history_from_json(_jsonable(raw["history"]), "history")
        except PayloadError as exc:
            reader.fail(f"{label}: {exc.message}", "write history = { attempts = 2, first_attempt_at = \"...\", "
                        "channels = [\"kakao\"] }", line=lines.key(index, "history"), field=exc.path)
    found = _outcome(reader, index, raw, label, tenant)
    if len(reader.problems) > before or found is None or now is None:
        return None
    outcome, from_envelope = found
    return Case(name.strip(), reader.file, header, now, outcome, history or from_envelope, expect)


def _jsonable(value: object) -> object:
    """TOML data as JSON would give it (TOML datetimes become ISO strings, as in a provider's JSON)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def _outcome(reader: _Reader, index: int, raw: Mapping[str, Any], label: str,
             tenant: str | None) -> tuple[Outcome, History | None] | None:
    """The one outcome the case's report holds, and the history its envelope gives."""
    lines = reader.lines
    if ("report" in raw) == ("report_file" in raw):
        reader.fail(f"{label}: give exactly one of report and report_file",
                    "write the payload (or an envelope) as a [case.report] table, or name a JSON file with "
                    "report_file = \"path/relative/to/this/file\"", line=lines.case(index), field="report")
        return None
    if "report" in raw:
        report, field = _jsonable(raw["report"]), "report"
    else:
        field = "report_file"
        target = reader.path.parent / str(raw["report_file"])
        try:
            report = json.loads(target.read_text(encoding="utf-8"))
        except RecursionError:
            reader.fail(f"{label}: cannot read report_file {target}: arrays or objects nested too deeply",
                        "name a provider payload (a few levels deep)", line=lines.key(index, field), field=field)
            return None
        except (OSError, ValueError) as exc:
            reader.fail(f"{label}: cannot read report_file {target}: {exc}",
                        "name a JSON payload file, relative to this test file", line=lines.key(index, field),
                        field=field)
            return None
    provider, channel = raw.get("provider"), raw.get("channel")
    for key, value, choices in (("provider", provider, PROVIDERS), ("channel", channel, CHANNELS)):
        if value is not None and value not in choices:
            reader.fail(f"{label}: unknown {key} {value!r}", f"use one of: {', '.join(choices)}",
                        line=lines.key(index, key), field=key)
            return None
    try:
        found = read_record(report, provider=provider, channel=channel, tenant=tenant)
    except PayloadError as exc:
        reader.fail(f"{label}: {exc}", "fix the envelope (see `dlrpolicy evaluate --help`)",
                    line=lines.key(index, field), field=field)
        return None
    outcomes = []
    for item in found.items:
        if isinstance(item, PayloadError):
            reader.fail(f"{label}: the report cannot be read: {item}", "write a payload the provider sends",
                        line=lines.key(index, field), field=field)
            return None
        if isinstance(item, Outcome):  # Skipped parts (an empty pull, an inbound message) have nothing to test
            outcomes.append(item)
    wanted = raw.get("message_id")
    if wanted is not None:
        outcomes = [o for o in outcomes if o.message_id == wanted]
        if not outcomes:
            reader.fail(f"{label}: no outcome in the report has message_id {wanted!r}",
                        "use a message id the report holds", line=lines.key(index, "message_id"), field="message_id")
            return None
    if len(outcomes) != 1:
        ids = ", ".join(repr(o.message_id) for o in outcomes[:5])
        reader.fail(f"{label}: the report holds {len(outcomes)} outcomes ({ids})",
                    "add message_id = \"...\" to pick the one the case is about", line=lines.key(index, field),
                    field="message_id")
        return None
    if found.history is not None and "history" in raw:
        reader.fail(f"{label}: both the envelope and history give the history", "keep one of them",
                    line=lines.key(index, "history"), field="history")
        return None
    return outcomes[0], found.history


def rule_ids(policy: CompiledPolicy) -> frozenset[str]:
    """Every rule id a decision under ``policy`` can carry: its rules, the unknown-code plans, the event plans."""
    plans = (policy.unknown, policy.unknown_permanent, *policy.events.values())
    return frozenset(rule.id for rule in policy.rules) | {plan.rule for plan in plans}


def unknown_rules(test: TestFile, policy: CompiledPolicy) -> list[PolicyProblem]:
    """A problem for each case whose ``expect.rule`` names no rule of ``policy`` (a typo would only ever fail)."""
    known = rule_ids(policy)
    return [PolicyProblem(file=test.path, line=case.line, field="expect.rule",
                          message=f"case {case.name!r}: expect.rule {case.expect['rule']!r} is no rule of the "
                                  "policy under test",
                          fix="use a rule id the policy has (`dlrpolicy policy lint` or `dlrpolicy explain` show "
                              "them)")
            for case in test.cases if "rule" in case.expect and case.expect["rule"] not in known]


def run_case(case: Case, policy: CompiledPolicy) -> CaseResult:
    """Decide the case under ``policy`` and check every expectation."""
    try:
        decision = evaluate(policy, case.outcome, now=case.now, history=case.history)
    except DlrpolicyError as exc:
        return CaseResult(case, None, (f"the case cannot be decided: {exc}",))
    return CaseResult(case, decision, tuple(check(case.expect, decision, case.now)))


@attrs.frozen
class RuleCoverage:
    """Which rules the cases exercised (decided by): of the rules under test — those a tenant's file adds,
    replaces or patches, or every rule when the policy itself is tested — and of the whole policy."""

    label: str
    rules: tuple[str, ...]
    exercised: frozenset[str]
    whole: int
    whole_exercised: int

    @property
    def share(self) -> float:
        """Percentage of the rules under test that were exercised (100 when there are none)."""
        return 100.0 * len(self.hit) / len(self.rules) if self.rules else 100.0

    @property
    def hit(self) -> tuple[str, ...]:
        """Rules under test that decided at least one case."""
        return tuple(rule for rule in self.rules if rule in self.exercised)

    @property
    def missed(self) -> tuple[str, ...]:
        """Rules under test that decided no case."""
        return tuple(rule for rule in self.rules if rule not in self.exercised)


def rule_coverage(policy: CompiledPolicy, tenant: str | None, exercised: set[str]) -> RuleCoverage:
    """Coverage of ``policy``'s rules by the rule ids of the decisions in ``exercised``."""
    every = tuple(rule.id for rule in policy.rules)
    if tenant is not None:
        layer = f"tenant:{tenant}"
        scope = tuple(rule.id for rule in policy.rules if layer in rule.layers)
        label = f"tenant {tenant}: rules its file adds, replaces or patches"
    else:
        scope, label = every, "policy: all rules"
    return RuleCoverage(label, scope, frozenset(exercised), len(every), len(set(every) & exercised))
