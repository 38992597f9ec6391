"""``dlrpolicy evaluate``: files and stdin, envelopes, error records, exit codes, and never losing a record."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlrpolicy import Engine
from dlrpolicy.adapters._stream import read_records
from dlrpolicy.cli._evaluate import decide_records, decision_line
from dlrpolicy.cli._main import main
from tests.strategies import json_values, mutated_payloads

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"
NOW = "2026-11-24T10:00:00Z"
Cap = pytest.CaptureFixture[str]
Patch = pytest.MonkeyPatch


def run(capsys: Cap, monkeypatch: Patch, *args: str,
        stdin: bytes | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """Run the CLI in process; (exit status, parsed stdout lines, stderr)."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_examples_give_a_decision_per_report(capsys: Cap, monkeypatch: Patch) -> None:
    """The acceptance command: every example report decided, exit 0, a summary on stderr."""
    files = sorted(str(p) for p in PAYLOADS.glob("*.json"))
    status, lines, err = run(capsys, monkeypatch, *files, "--now", NOW)
    assert 0 == status
    assert all("verdict" in line for line in lines)
    assert len(files) == len({line["input"] for line in lines})
    assert len(lines) > len(files)
    assert "0 errors" in err


def test_truncated_stdin_is_one_error_and_exit_1(capsys: Cap, monkeypatch: Patch) -> None:
    """The acceptance check: a truncated document on stdin prints one error record and exits 1."""
    status, lines, _ = run(capsys, monkeypatch, stdin=b'{"results":[{"status":\n')
    assert 1 == status
    assert [1] == [line["input"] for line in lines]
    assert {"type", "message", "path"} == set(lines[0]["error"])


def test_output_keys(capsys: Cap, monkeypatch: Patch) -> None:
    """Each line has the Decision keys plus the outcome it decided, message_id and input."""
    from dlrpolicy.model._decision import DECISION_KEYS

    _, lines, _ = run(capsys, monkeypatch, str(PAYLOADS / "infobip_sms_v1_reports.json"), "--now", NOW)
    assert [*DECISION_KEYS, "outcome", "message_id", "input"] == list(lines[0])
    assert ["provider", "channel", "channel_source", "message_id", "recipient", "sender", "tenant"] \
        == list(lines[0]["outcome"])


def test_every_decision_line_carries_its_outcome(capsys: Cap, monkeypatch: Patch) -> None:
    """Over every shipped example, each decision line names the outcome it decided (null where unknown)."""
    _, lines, _ = run(capsys, monkeypatch, *sorted(str(p) for p in PAYLOADS.glob("*.json")), "--now", NOW)
    decisions = [line for line in lines if "verdict" in line]
    assert decisions
    assert all(line["outcome"]["message_id"] == line["message_id"] for line in decisions)
    assert all(line["outcome"]["provider"] in ("infobip", "nhn_kakao") for line in decisions)


def test_empty_pull_is_a_skipped_line_and_exit_0(capsys: Cap, monkeypatch: Patch) -> None:
    """`{"results": []}` (nothing new) yields one skipped line, no error, exit status 0."""
    status, lines, err = run(capsys, monkeypatch, "--now", NOW, stdin=b'{"results": []}\n')
    assert (0, [{"input": 1, "skipped": {"reason": "empty: the payload holds no report (an empty pull; nothing new)",
                                         "path": "$.results"}}]) == (status, lines)
    assert "1 skipped" in err


def test_bad_result_among_good_ones(capsys: Cap, monkeypatch: Patch) -> None:
    """One bad result gives an error line with its path; its neighbours are still decided; exit 1."""
    good = {"messageId": "a", "status": {"groupId": 3, "id": 5}}
    bad = {"messageId": "b", "status": {"groupId": 3, "id": "five"}}
    data = json.dumps({"results": [good, bad, good]}).encode() + b"\n"
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert 1 == status
    assert ["done", "$.results[1].status.id", "done"] == [
        line.get("verdict") or line["error"]["path"] for line in lines
    ]


def test_envelope_sets_attempt_and_first_attempt(capsys: Cap, monkeypatch: Patch) -> None:
    """attempt and first_attempt_at come from the envelope; without one, attempt is 1."""
    report = {"results": [{"messageId": "m", "status": {"groupId": 1, "id": 7}}]}
    envelope = {"report": report, "attempt": 3, "first_attempt_at": "2026-11-24T09:00:00Z"}
    data = (json.dumps(envelope) + "\n" + json.dumps(report) + "\n").encode()
    _, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=data)
    assert [4, 2] == [line["attempt"] for line in lines]
    assert "2026-11-26T09:00:00Z" == lines[0]["give_up_at"]


def test_envelope_sender_keys_sender_domain_suppression(capsys: Cap, monkeypatch: Patch) -> None:
    """Email reports omit the sender; the envelope's sender becomes the 6016 suppression key."""
    report = {"results": [{"messageId": "e", "to": "a@b.example", "status": {"groupId": 5, "id": 6},
                           "error": {"groupId": 1, "id": 6016, "permanent": True}}]}
    envelope = {"report": report, "channel": "email", "sender": "news@shop.example"}
    _, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=(json.dumps(envelope) + "\n").encode())
    assert {"scope": "sender_domain", "key": "shop.example", "until": "2026-11-25T10:00:00Z"} == lines[0]["suppress"]


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"report": {"results": []}, "tenant": "../x"}, "$.tenant"),
        ({"report": {"results": []}, "attempts": 2}, "$.attempts"),
        ({"report": {"results": []}, "attempt": "2"}, "$.attempt"),
        ({"report": {"results": []}, "channel": "pigeon"}, "$.channel"),
        ({"report": {"results": [{"status": {"id": 5}}]}, "first_attempt_at": "2026-11-24T09:00:00"},
         "$.first_attempt_at"),
        ([{"status": {"id": 5}}], "$"),
    ],
)
def test_bad_envelopes_are_error_records(capsys: Cap, monkeypatch: Patch,
                                         record: object, path: str) -> None:
    """Hostile tenants, unknown fields, wrong types, naive times, arrays: one error record each, no crash."""
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, stdin=json.dumps(record).encode())
    assert (1, [path]) == (status, [line["error"]["path"] for line in lines])


def test_tenant_from_envelope_uses_its_policy(tmp_path: Path, capsys: Cap,
                                              monkeypatch: Patch) -> None:
    """An envelope tenant layers its file from --policy-dir; others keep the default."""
    (tmp_path / "acme.toml").write_text(
        '[[rule]]\nid = "acme.delivered"\nmatch = { provider = "infobip", kind = "status", id = 5 }\n'
        'verdict = "done"\nreason = "Acme says done."\n', encoding="utf-8")
    report = {"results": [{"messageId": "m", "status": {"groupId": 3, "id": 5}}]}
    data = (json.dumps({"report": report, "tenant": "acme"}) + "\n" + json.dumps(report) + "\n").encode()
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, "--policy-dir", str(tmp_path), stdin=data)
    assert 0 == status
    assert ["acme.delivered", "infobip.delivered"] == [line["rule"] for line in lines]


def test_usage_errors_exit_2(capsys: Cap, monkeypatch: Patch) -> None:
    """A missing file, a bad --now and a hostile --tenant are usage errors."""
    assert 2 == run(capsys, monkeypatch, "no/such/file.json")[0]
    assert 2 == run(capsys, monkeypatch, "--now", "2026-11-24T10:00:00", stdin=b"")[0]
    assert 2 == run(capsys, monkeypatch, "--tenant", "../x", "--policy-dir", ".", stdin=b"")[0]


def test_forced_provider_and_channel(capsys: Cap, monkeypatch: Patch) -> None:
    """--channel picks the table (error 6016 on email is the email entry) and shows as the outcome's channel."""
    data = json.dumps({"status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 6016}}).encode()
    _, lines, _ = run(capsys, monkeypatch, "--now", NOW, "--provider", "infobip", "--channel", "email", stdin=data)
    assert ("email", 6016) == (lines[0]["code"]["product"], lines[0]["code"]["id"])
    assert ("email", "caller") == (lines[0]["outcome"]["channel"], lines[0]["outcome"]["channel_source"])


def test_invalid_utf8_and_long_line_records(capsys: Cap, monkeypatch: Patch) -> None:
    """Invalid UTF-8 is an error record; a 10 MB report is decided when --max-record-bytes allows it."""
    big = json.dumps({"messageId": "big", "callbackData": "x" * (10 * 1024 * 1024),
                      "status": {"groupId": 3, "id": 5}}).encode()
    status, lines, _ = run(capsys, monkeypatch, "--now", NOW, "--max-record-bytes", str(16 * 1024 * 1024),
                           stdin=b'{"to": "\xff"}\n' + big + b"\n")
    assert 1 == status
    assert ["PayloadError", "done"] == [line.get("verdict") or line["error"]["type"] for line in lines]


def test_decision_line_matches_to_json() -> None:
    """The fast serialiser writes exactly json.dumps of to_json() plus outcome, message_id and input."""
    from dlrpolicy import parse

    engine = Engine.default()
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    for path in sorted(PAYLOADS.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        for outcome in parse(payload.get("report", payload)):
            decision = engine.evaluate(outcome, now=now)
            # Nobody said the channel: the code's own table decided ("code").
            source = outcome.channel_source or (None if outcome.channel or decision.code.unknown else "code")
            expected = json.dumps({**decision.to_json(), "outcome": {
                "provider": outcome.provider, "channel": outcome.channel, "channel_source": source,
                "message_id": outcome.message_id, "recipient": outcome.recipient, "sender": outcome.sender,
                "tenant": outcome.tenant}, "message_id": outcome.message_id, "input": 7})
            assert expected == decision_line(decision, outcome, 7)


def lines_for(records: list[object]) -> list[dict[str, Any]]:
    """Run the streaming pipeline over ``records`` written as JSON Lines."""
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    out: list[str] = []
    decide_records(read_records(io.BytesIO(data)), out.append, engine=Engine.default(),
                   now=datetime(2026, 11, 24, 10, tzinfo=UTC))
    return [json.loads(line) for line in "".join(out).splitlines()]


def check_nothing_lost(records: list[object]) -> None:
    """Every record yields at least one line, and no line reports an internal error."""
    lines = lines_for(records)
    assert set(range(1, len(records) + 1)) == {line["input"] for line in lines}
    assert len(lines) >= len(records)
    assert [] == [line for line in lines if line.get("error", {}).get("type") == "InternalError"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=5))
def test_arbitrary_json_never_crashes(records: list[object]) -> None:
    """Arbitrary JSON values give at least one line each and never an internal error."""
    check_nothing_lost(records)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_payloads(), min_size=1, max_size=4))
def test_mutated_payloads_never_crash(records: list[object]) -> None:
    """Real payloads with one node replaced or deleted give at least one line each, never an internal error."""
    check_nothing_lost(records)


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Arbitrary bytes on the input never crash the stream or the pipeline."""
    out: list[str] = []
    summary = decide_records(read_records(io.BytesIO(data)), out.append, engine=Engine.default(),
                             now=datetime(2026, 11, 24, 10, tzinfo=UTC))
    lines = "".join(out).splitlines()
    assert summary.decisions + summary.errors == len(lines)
    assert "InternalError" not in "".join(lines)


def test_a_channel_nobody_names_is_said_to_come_from_the_code() -> None:
    """A push 8001 in an SMS-v3-shaped body with no channel anywhere: the push table decides, and the line says the
    channel came from the code (`channel_source: "code"`), not from the report or the caller."""
    result = {"bulkId": "b-1", "messageId": "p-1", "to": "41793026727", "sender": "ACME", "messageCount": 1,
              "sentAt": "2026-11-24T09:58:00.000+0000", "doneAt": "2026-11-24T09:58:30.000+0000",
              "status": {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"},
              "error": {"groupId": 2, "groupName": "USER_ERRORS", "id": 8001, "name": "EC_PUSH_INVALID_TOKEN",
                        "permanent": True}}
    (line,) = lines_for([{"results": [result]}])
    assert ("push", None, "code") == (line["code"]["product"], line["outcome"]["channel"],
                                      line["outcome"]["channel_source"])
