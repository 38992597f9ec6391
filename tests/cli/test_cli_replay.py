"""Tests for ``dlrpolicy evaluate --log`` and ``dlrpolicy replay`` on the shipped example payloads and tenants."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dlrpolicy.cli._main import main
from dlrpolicy.report._decision_log import LOG_KEYS

ROOT = Path(__file__).resolve().parents[2]
POLICIES = str(ROOT / "examples" / "policies")
BROKEN = str(ROOT / "examples" / "policies" / "broken")
PAYLOADS = sorted(str(p) for p in (ROOT / "examples" / "payloads").glob("*.json"))
# 22:30 in Seoul: the bank's night window moves retries to 08:00.
NIGHT = "2026-11-24T13:30:00Z"


@pytest.fixture(autouse=True)
def _no_policy_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLRPOLICY_POLICY_DIR", raising=False)


@pytest.fixture
def decision_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A decision log of the example payloads under the default policy."""
    path = tmp_path / "decisions.jsonl"
    assert 0 == main(["evaluate", *PAYLOADS, "--now", NIGHT, "--log", str(path)])
    capsys.readouterr()
    return path


def test_evaluate_log_has_one_line_per_decision(decision_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--log writes a replayable line per decision, matching the decisions evaluate printed."""
    assert 0 == main(["evaluate", *PAYLOADS, "--now", NIGHT])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logged = [json.loads(line) for line in decision_log.read_text().splitlines()]
    assert 27 == len(logged) == len(printed)
    for entry, line in zip(logged, printed, strict=True):
        assert list(LOG_KEYS) == list(entry)
        assert (entry["input"], entry["decision"]["verdict"]) == (line["input"], line["verdict"])
        assert entry["decision"]["policy_version"] == entry["policy"]["version"] == line["policy_version"]
        assert NIGHT.replace("Z", "") in entry["now"]


def test_evaluate_log_appends(decision_log: Path) -> None:
    """A second run appends to the log instead of replacing it."""
    assert 0 == main(["evaluate", PAYLOADS[0], "--now", NIGHT, "--log", str(decision_log)])
    assert 28 == len(decision_log.read_text().splitlines())


def test_evaluate_log_unwritable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A log that cannot be opened is a usage error naming it."""
    assert 2 == main(["evaluate", PAYLOADS[0], "--log", str(tmp_path / "no" / "such" / "log.jsonl")])
    assert "--log" in capsys.readouterr().err


def test_replay_bank_against_default_jsonl(capsys: pytest.CaptureFixture[str], decision_log: Path) -> None:
    """The bank's file over the logged default decisions: each changed record says what changed, old and new."""
    assert 0 == main(["replay", str(decision_log), "--policy-dir", POLICIES, "--tenant", "bank",
                      "--format", "jsonl"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records, summary = lines[:-1], lines[-1]["summary"]
    assert 27 == len(records)
    changed = [r for r in records if r["changed"]]
    assert {r["tenant"] for r in records if r["tenant"] != "acme"} == {"bank"}
    escalations = {r["new"]["escalate"]["route"] for r in changed if "escalate" in r["fields"]}
    assert {"bank-messaging-oncall", "bank-product-content"} <= escalations
    later = [r for r in changed if "retry_at" in r["fields"] and r["old"]["retry_at"] and r["new"]["retry_at"]]
    assert later
    assert all(r["new"]["retry_at"] > r["old"]["retry_at"] for r in later)
    assert all(r["changed"] is bool(r["fields"]) for r in records)
    assert (len(changed), summary["retries_later"]) == (summary["changed"], len(later))
    assert summary["escalations_added_by_route"]["bank-messaging-oncall"] >= 1
    assert summary["by_tenant"]["bank"]["changed"] == len(changed)


def test_replay_raw_reports_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Raw reports compare the bank with the shipped default; the table shows the matrix and the changes."""
    assert 0 == main(["replay", *PAYLOADS, "--policy-dir", POLICIES, "--tenant", "bank", "--now", NIGHT])
    out = capsys.readouterr().out
    assert out.startswith("replay: 13 records, 27 decisions compared, ")
    assert "verdict transitions (rows: old, columns: new):" in out
    assert "escalations added by route: bank-messaging-oncall" in out
    assert "retried later 9" in out
    assert "escalate -> retry  (kakao.template-unusable -> kakao.template-unusable)" in out
    assert "by tenant:" in out
    assert "by provider:" in out
    assert "by channel:" in out
    assert "biggest changes:" in out
    assert "-> bank-messaging-oncall" in out


def test_replay_same_policy_changes_nothing(capsys: pytest.CaptureFixture[str], decision_log: Path) -> None:
    """Replaying the default's log under the default (no tenant files apply) changes nothing; --fail-on-change
    passes."""
    assert 0 == main(["replay", str(decision_log), "--policy-dir", POLICIES, "--fail-on-change"])
    assert "27 decisions compared, 0 changed" in capsys.readouterr().out


def test_fail_on_change(capsys: pytest.CaptureFixture[str], decision_log: Path) -> None:
    """With --fail-on-change, any change exits 1."""
    assert 1 == main(["replay", str(decision_log), "--policy-dir", POLICIES, "--tenant", "bank",
                      "--fail-on-change"])
    assert "0 errors" in capsys.readouterr().out


def test_baseline_dir(capsys: pytest.CaptureFixture[str]) -> None:
    """--baseline-dir compares two sets of tenant files: the broken bank against the good one."""
    assert 0 == main(["replay", *PAYLOADS, "--policy-dir", BROKEN, "--baseline-dir", POLICIES, "--tenant", "bank",
                      "--now", NIGHT, "--format", "jsonl"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert summary["changed"] > 0
    assert summary["fields_changed"]["retry_at"] > 0


def test_workers_give_the_same_output(capsys: pytest.CaptureFixture[str], decision_log: Path) -> None:
    """--workers 2 writes the same lines as one worker."""
    argv = ["replay", str(decision_log), *PAYLOADS, "--policy-dir", POLICIES, "--tenant", "bank", "--now", NIGHT,
            "--format", "jsonl"]
    assert 0 == main(argv)
    one = capsys.readouterr().out
    assert 0 == main([*argv, "--workers", "2"])
    assert one == capsys.readouterr().out


def test_bad_records_are_errors_and_the_run_goes_on(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    decision_log: Path) -> None:
    """A broken log line becomes an error line with its record number; the rest is replayed; exit 1."""
    lines = decision_log.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["outcome"]["provider"] = "acme"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(broken), "not json", *lines[2:]]) + "\n")
    assert 1 == main(["replay", str(path), "--policy-dir", POLICIES, "--format", "jsonl"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()][:-1]
    assert [1, 2, 3, *range(4, 29)] == [row["input"] for row in rows]
    assert ("$.outcome", "$") == (rows[1]["error"]["path"], rows[2]["error"]["path"])
    assert "Outcome.provider: 'acme' is not known" in rows[1]["error"]["message"]


def test_replay_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path, decision_log: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay leaves the log, the policy directories and the working directory as they were."""
    monkeypatch.chdir(tmp_path)

    def snapshot() -> dict[str, tuple[int, int]]:
        found = {}
        for folder in (tmp_path, Path(POLICIES)):
            for path in folder.rglob("*"):
                stat = path.stat()
                found[str(path)] = (stat.st_mtime_ns, stat.st_size)
        return found

    before = snapshot()
    assert 0 == main(["replay", str(decision_log), "--policy-dir", POLICIES, "--tenant", "bank", "--workers", "2"])
    assert before == snapshot()
    assert capsys.readouterr().out


@pytest.mark.parametrize(("argv", "words"), [
    (["--tenant", "../x"], "--tenant"),
    (["--workers", "0"], "--workers"),
    (["--baseline-dir", "/no/such/dir"], "--baseline-dir /no/such/dir: no such directory"),
])
def test_usage_errors(capsys: pytest.CaptureFixture[str], decision_log: Path, argv: list[str], words: str) -> None:
    """Wrong arguments exit 2 with the fix."""
    assert 2 == main(["replay", str(decision_log), "--policy-dir", POLICIES, *argv])
    assert words in capsys.readouterr().err


def test_policy_dir_is_required(capsys: pytest.CaptureFixture[str], decision_log: Path) -> None:
    """Without --policy-dir (or the environment variable) replay says what it needs."""
    assert "DLRPOLICY_POLICY_DIR" not in os.environ
    assert 2 == main(["replay", str(decision_log)])
    assert "needs --policy-dir" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unreadable_logs_are_one_error_record_each(capsys: pytest.CaptureFixture[str], decision_log: Path,
                                                   workers: str) -> None:
    """A log whose reading fails (EIO) and one that cannot be opened are one error record each; the logs around
    them are replayed (an OSError came out of the command with a traceback before)."""
    argv = ["replay", str(decision_log), "/proc/self/mem", "/proc/self/clear_refs", str(decision_log),
            "--policy-dir", POLICIES, "--format", "jsonl", "--workers", workers]
    assert 1 == main(argv)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()][:-1]
    errors = [line for line in lines if "error" in line]
    assert [28, 29] == [line["input"] for line in errors]
    assert all("reading failed" in line["error"]["message"] for line in errors)
    assert 54 == len(lines) - len(errors)


def test_html_without_the_report_extra_writes_no_file(capsys: pytest.CaptureFixture[str], decision_log: Path,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without plotly, --format html says how to install it and leaves no empty page behind."""
    monkeypatch.setattr("dlrpolicy.report._html.pio", None)
    page = tmp_path / "replay.html"
    code = main(["replay", str(decision_log), "--policy-dir", POLICIES, "--format", "html", "--output", str(page)])
    assert (1, False) == (code, page.exists())
    assert "pip install 'dlrpolicy[report]'" in capsys.readouterr().err
