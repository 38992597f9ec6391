"""``dlrpolicy evaluate`` against hostile records: each outcome is decided or errors on its own, dates that
would overflow are labelled errors, deep and huge records are error records, and the run goes on."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy.cli._main import main

NOW = "2026-11-24T10:00:00Z"
Cap = pytest.CaptureFixture[str]
Patch = pytest.MonkeyPatch
GOOD = {"messageId": "ok", "status": {"groupId": 3, "id": 5}}


def run(capsys: Cap, monkeypatch: Patch, *args: str, stdin: bytes) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``dlrpolicy evaluate`` in process on ``stdin``; (exit status, parsed stdout lines, stderr)."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def summary(lines: list[dict[str, Any]]) -> list[str]:
    """Each line as its verdict, or ``type path`` for an error line."""
    return [line.get("verdict") or f"{line['error']['type']} {line['error']['path']}" for line in lines]


def test_lone_surrogate_message_id_keeps_its_siblings(capsys: Cap, monkeypatch: Patch) -> None:
    """A message id "\\ud800" (a JSON escape) on a retry code is decided, and so is the report next to it."""
    hostile = {"messageId": "\ud800", "status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 27}}
    data = json.dumps({"results": [hostile, GOOD]}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert (0, ["retry", "done"]) == (status, summary(lines))
    assert "\ud800" == lines[0]["message_id"]


@pytest.mark.parametrize("sent_at", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z"])
def test_timestamps_near_the_ends_of_time_are_labelled_errors(capsys: Cap, monkeypatch: Patch, sent_at: str) -> None:
    """sentAt near year 9999 or 0001 is an error for that report only, not an internal error for the record."""
    hostile = {"messageId": "a", "sentAt": sent_at, "status": {"groupId": 1, "id": 7},
               "error": {"groupId": 1, "id": 27}}
    data = json.dumps({"results": [hostile, GOOD]}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert (1, ["PayloadError $.results[0]", "done"]) == (status, summary(lines))
    assert "1970-01-01T00:00:00Z" in lines[0]["error"]["message"]


def test_nhn_dates_near_year_one_are_labelled_errors(capsys: Cap, monkeypatch: Patch) -> None:
    """An NHN requestDate of 0001-01-01 (read as KST) is an error for that row; the next row is decided."""
    rows = [{"requestId": "r", "recipientSeq": 1, "resultCode": "3018", "requestDate": "0001-01-01 00:00:00"},
            {"requestId": "r", "recipientSeq": 2, "resultCode": "1000", "requestDate": "2026-11-24 10:00:00"}]
    data = json.dumps({"messages": rows}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert (1, ["PayloadError $.messages[0]", "done"]) == (status, summary(lines))


def test_envelope_first_attempt_near_year_9999(capsys: Cap, monkeypatch: Patch) -> None:
    """An envelope first_attempt_at of 9999-12-31 is a labelled error for its record; the next record is decided."""
    envelope = {"report": {"results": [GOOD]}, "first_attempt_at": "9999-12-31T23:59:59Z"}
    data = (json.dumps(envelope) + "\n" + json.dumps(GOOD) + "\n").encode()
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert 1 == status
    assert ["InvalidOutcomeError", "done"] == [line.get("verdict") or line["error"]["type"] for line in lines]


@pytest.mark.parametrize("now", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"])
def test_now_out_of_range_is_a_usage_error(capsys: Cap, monkeypatch: Patch, now: str) -> None:
    """--now 9999-12-31T23:00:00Z is refused up front (exit 2) with the supported range."""
    status, lines, err = run(capsys, monkeypatch, "--now", now, stdin=json.dumps(GOOD).encode())
    assert (2, []) == (status, lines)
    assert "1970-01-01T00:00:00Z" in err


def test_huge_code_id_is_an_error_for_its_report(capsys: Cap, monkeypatch: Patch) -> None:
    """A code id past 64 bits is an error for that report only."""
    hostile = {"messageId": "a", "status": {"groupId": 3, "id": 2**70}}
    data = json.dumps({"results": [hostile, GOOD]}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert (1, ["PayloadError $.results[0]", "done"]) == (status, summary(lines))


def test_deep_record_is_one_error_and_the_run_goes_on(capsys: Cap, monkeypatch: Patch) -> None:
    """A 2 KB line nested 1,000 deep is one error record naming the nesting limit; records before and after it
    are decided (nothing buffered is lost)."""
    good = json.dumps(GOOD).encode()
    data = good + b"\n" + b"[" * 1000 + b"]" * 1000 + b"\n" + good + b"\n"
    status, lines, err = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert (1, ["done", "PayloadError $", "done"]) == (status, summary(lines))
    assert "nested deeper than 64 levels" in lines[1]["error"]["message"]
    assert "Traceback" not in err


def test_record_over_the_size_limit(capsys: Cap, monkeypatch: Patch) -> None:
    """A record over the 1 MiB default is an error naming the limit and --max-record-bytes; the flag raises it."""
    big = json.dumps({**GOOD, "callbackData": "x" * (2 * 1024 * 1024)}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=big + json.dumps(GOOD).encode())
    assert (1, ["PayloadError $", "done"]) == (status, summary(lines))
    assert "1048576 bytes" in lines[0]["error"]["message"]
    assert "--max-record-bytes" in lines[0]["error"]["message"]
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, "--max-record-bytes", "4000000", stdin=big)
    assert (0, ["done"]) == (status, summary(lines))


@pytest.mark.parametrize("value", ["0", "-1", "lots", str(2**40)])
def test_max_record_bytes_is_checked(capsys: Cap, value: str) -> None:
    """--max-record-bytes takes a whole number of bytes from 1 KiB to 1 GiB (a usage error, exit 2, otherwise)."""
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--now", NOW, "--max-record-bytes", value])
    assert 2 == info.value.code
    assert "from 1024 to 1073741824" in capsys.readouterr().err


def test_lone_surrogate_message_id_is_logged(capsys: Cap, monkeypatch: Patch, tmp_path: Path) -> None:
    """--log with a message id "\\ud800" (a JSON escape): the log line is written, as that escape, and reads back
    (it raised UnicodeEncodeError with a traceback before, and the log was lost)."""
    hostile = {"messageId": "\ud800", "status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 27}}
    data = json.dumps({"results": [hostile, GOOD]}).encode() + b"\n"
    log = tmp_path / "decisions.jsonl"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, "--log", str(log), stdin=data)
    assert (0, ["retry", "done"]) == (status, summary(lines))
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert ["\ud800", "ok"] == [entry["outcome"]["message_id"] for entry in logged]
