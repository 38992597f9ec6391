"""Tests for ``dlrpolicy policy test``: the shipped tenant test files, the broken tenant, bad test files,
coverage and thresholds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlrpolicy.cli._main import main

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "examples" / "policies" / "tests"
BANK = str(TESTS / "bank.test.toml")
MARKETING = str(TESTS / "marketing.test.toml")
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


@pytest.fixture(autouse=True)
def _no_policy_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLRPOLICY_POLICY_DIR", raising=False)


def _closing(out: str) -> tuple[int, int]:
    found = CLOSING.match(out.rstrip().splitlines()[-1])
    assert found is not None, out
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize(("path", "cases"), [(BANK, 15), (MARKETING, 5)])
def test_shipped_tenant_tests_pass(capsys: pytest.CaptureFixture[str], path: str, cases: int) -> None:
    """Each example tenant's test file passes against its tenant file; every case prints ok."""
    assert 0 == main(["policy", "test", path])
    out = capsys.readouterr().out
    assert (cases, 0) == _closing(out)
    assert cases == len(re.findall(r"^ok    ", out, re.MULTILINE))


def test_broken_tenant_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """The deliberately broken bank fails the bank's tests: exit 1, FAIL lines with why and the decision."""
    assert 1 == main(["policy", "test", BANK, "--policy-dir", str(ROOT / "examples" / "policies" / "broken")])
    out = capsys.readouterr().out
    passed, failed = _closing(out)
    assert (15, True) == (passed + failed, failed >= 3)
    fail = next(line for line in out.splitlines() if "bank.test.toml:10 " in line)
    assert fail.startswith("FAIL  ")
    assert "channel is 'none', expected 'sms'" in fail
    assert "escalate.route is 'compliance', expected 'bank-compliance'" in out
    assert '      decision: {"verdict": ' in out


def test_tenant_option_overrides_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    """--tenant tests another tenant against the file's cases (marketing fails the bank's expectations)."""
    assert 1 == main(["policy", "test", BANK, "--tenant", "marketing"])
    out = capsys.readouterr().out
    assert "tenant marketing" in out.splitlines()[0]
    assert 0 < _closing(out)[1]


def test_coverage_lists_rules_not_exercised(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--coverage gives the share of the tenant's rules exercised and lists the rest; --threshold fails below it."""
    text = (TESTS / "bank.test.toml").read_text(encoding="utf-8")
    first_cases = text.split('\n[[case]]\nname = "customer refused')[0]
    (tmp_path / "tests").mkdir()
    path = tmp_path / "tests" / "few.test.toml"
    path.write_text(first_cases, encoding="utf-8")
    (tmp_path / "bank.toml").write_text((ROOT / "examples" / "policies" / "bank.toml").read_text())
    assert 0 == main(["policy", "test", str(path), "--coverage"])
    out = capsys.readouterr().out
    assert "rules its file adds, replaces or patches: 1 of 10 exercised (10.0%)" in out
    missed = next(line for line in out.splitlines() if "not exercised: " in line).split(": ", 1)[1]
    assert {"kakao.provider-transient", "kakao.api-transient", "kakao.notice-refused"} < set(missed.split(", "))
    assert "kakao.send-quota" not in missed
    assert 1 == main(["policy", "test", str(path), "--threshold", "50"])
    out = capsys.readouterr().out
    assert "coverage 10.0% is below --threshold 50%" in out
    assert (3, 0) == _closing(out)


def test_full_coverage_meets_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped files exercise every rule their tenants change."""
    assert 0 == main(["policy", "test", BANK, MARKETING, "--threshold", "100"])
    out = capsys.readouterr().out
    assert 2 == out.count("(100.0%)")
    assert (20, 0) == _closing(out)


BAD_FILE = '''tenant = "bank"
policy_dir = "{dir}"
now = "2026-11-24T10:00:00"
colour = "blue"

[[case]]
name = "bad verdict"
expect = {{ verdict = "retyr" }}
[case.report]
header = {{ resultCode = -1000, resultMessage = "x", isSuccessful = false }}

[[case]]
name = "no report"
now = "2026-11-24T10:00:00Z"
expect.retry_at = "tomorrow"

[[case]]
name = "two outcomes"
now = "2026-11-24T10:00:00Z"
report_file = "{payload}"
expect = {{ verdict = "done" }}
'''


def test_bad_test_file_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A bad file: exit 2, every problem with file, line and fix, and no case is run."""
    path = tmp_path / "bad.test.toml"
    path.write_text(BAD_FILE.format(dir=ROOT / "examples" / "policies",
                                    payload=ROOT / "examples" / "payloads" / "nhn_send_response.json"))
    assert 2 == main(["policy", "test", str(path)])
    captured = capsys.readouterr()
    assert "" == captured.out
    err = captured.err
    expected = [
        (3, "has no UTC offset"), (4, "unknown key 'colour'"), (8, "'retyr' is not allowed"),
        (15, "expect.retry_at"), (12, "give exactly one of report and report_file"),
        (20, "the report holds 2 outcomes"),
    ]
    for line, words in expected:
        found = [row for row in err.splitlines() if row.startswith(f"error: {path}:{line}:") and words in row]
        assert found, (line, words, err)
        assert "(fix: " in found[0]
    assert "6 problems in the test files; no case was run" in err


def test_an_expected_rule_the_policy_lacks_is_a_bad_test_file(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    """expect.rule naming no rule of the policy (a typo) is exit 2 with the case's line, not a case that can only
    fail."""
    path = tmp_path / "marketing.test.toml"
    text = Path(MARKETING).read_text(encoding="utf-8")
    path.write_text(text.replace('policy_dir = ".."', f'policy_dir = "{TESTS.parent}"')
                    .replace('rule = "sms.carrier-daily-quota"', 'rule = "sms.carrier-daily-qouta"'), encoding="utf-8")
    assert 2 == main(["policy", "test", str(path)])
    captured = capsys.readouterr()
    assert "" == captured.out
    line = 1 + text.splitlines().index("[[case]]")
    assert f"error: {path}:{line}: " in captured.err
    assert "'sms.carrier-daily-qouta' is no rule of the policy under test" in captured.err


def test_invalid_toml_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A TOML syntax error is a bad test file with its line."""
    path = tmp_path / "t.test.toml"
    path.write_text('now = "2026-11-24T10:00:00Z"\n[[case]\nname = 1\n')
    assert 2 == main(["policy", "test", str(path)])
    assert f"error: {path}:2: not valid TOML" in capsys.readouterr().err


def test_missing_tenant_file_is_a_bad_test_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A test file naming a tenant with no file in its policy dir: exit 2 with the fix."""
    path = tmp_path / "t.test.toml"
    path.write_text((TESTS / "marketing.test.toml").read_text().replace('policy_dir = ".."', 'policy_dir = "."'))
    assert 2 == main(["policy", "test", str(path)])
    err = capsys.readouterr().err
    assert "there is no " in err
    assert "marketing.toml" in err
    assert "pass --policy-dir DIR" in err


def test_invalid_tenant_policy_fails_every_case(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A tenant file that does not load fails each of its cases (exit 1), with the policy's problems."""
    (tmp_path / "marketing.toml").write_text('[defaults]\nattempts_ceiling = "two"\n')
    assert 1 == main(["policy", "test", MARKETING, "--policy-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "tenant marketing does not load" in out
    assert (0, 5) == _closing(out)


def test_default_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A file without a tenant tests the shipped default; coverage is over all its rules."""
    path = tmp_path / "default.test.toml"
    path.write_text('now = "2026-11-24T10:00:00Z"\n\n[[case]]\nname = "delivered"\n'
                    'expect = { verdict = "done" }\n[case.report]\n[[case.report.results]]\nmessageId = "m"\n'
                    'status = { groupId = 3, id = 5, name = "DELIVERED_TO_HANDSET" }\n')
    assert 0 == main(["policy", "test", str(path), "--coverage"])
    out = capsys.readouterr().out
    assert "the policy (policy " in out
    assert re.search(r"policy: all rules: 1 of \d+ exercised", out)


def test_policy_option_tests_a_whole_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--policy FILE tests a policy that replaces the default; a file naming a tenant cannot use it."""
    from tests.conftest import SMALL_POLICY

    policy = tmp_path / "small.toml"
    policy.write_text(SMALL_POLICY, encoding="utf-8")
    path = tmp_path / "small.test.toml"
    path.write_text('now = "2026-11-24T10:00:00Z"\n\n[[case]]\nname = "out of credit: every 24h"\n'
                    'expect = { verdict = "retry", rule = "out-of-credit", retry_at = "now+24h" }\n[case.report]\n'
                    '[[case.report.results]]\nmessageId = "m"\nerror = { groupId = 1, id = 581 }\n'
                    'status = { groupId = 2, id = 9 }\n', encoding="utf-8")
    assert 0 == main(["policy", "test", str(path), "--policy", str(policy)])
    assert (1, 0) == _closing(capsys.readouterr().out)
    assert 2 == main(["policy", "test", MARKETING, "--policy", str(policy)])
    assert "--policy replaces the default" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "needle"), [("x = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested"),
                                              ("x = " + "9" * 5_000 + "\n", "digits")])
def test_unreadable_toml_is_a_bad_test_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str,
                                            needle: str) -> None:
    """Arrays nested past the parser's recursion limit and a 5,000-digit number are a bad test file (exit 2)
    with the fix, as in policy files, not a traceback."""
    path = tmp_path / "t.test.toml"
    path.write_text(text)
    assert 2 == main(["policy", "test", str(path)])
    assert needle in capsys.readouterr().err


def test_report_file_nested_too_deeply_is_a_bad_test_file(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    """A report_file of 100,000 nested arrays is a problem of its case, not a RecursionError."""
    (tmp_path / "deep.json").write_text("[" * 100_000)
    path = tmp_path / "t.test.toml"
    path.write_text('now = "2026-11-24T10:00:00Z"\n[[case]]\nname = "deep"\nreport_file = "deep.json"\n'
                    'expect = "done"\n')
    assert 2 == main(["policy", "test", str(path)])
    assert "cannot read report_file" in capsys.readouterr().err
