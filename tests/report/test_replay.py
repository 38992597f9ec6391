"""Tests for replay's machinery: decision log lines, chunking that never changes what is read, and the same
output and summary for any number of workers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlrpolicy import CodeRef, Engine, History, Outcome, PayloadError
from dlrpolicy.adapters._chunks import read_chunks
from dlrpolicy.adapters._stream import read_records
from dlrpolicy.policy._layers import default_policy
from dlrpolicy.report._decision_log import LOG_KEYS, log_line, read_log_entry, used_history
from dlrpolicy.report._replay import ReplayConfig, replay_chunks
from tests.conftest import NOW
from tests.strategies import catalog_outcomes, histories

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "examples" / "policies"
PAYLOADS = sorted(str(p) for p in (ROOT / "examples" / "payloads").glob("*.json"))
ENGINE = Engine.default()


@settings(max_examples=150)
@given(catalog_outcomes(), st.one_of(st.none(), histories(before=NOW)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_a_logged_decision_is_made_again_from_its_log_line(outcome: Outcome, history: History | None,
                                                            later: timedelta) -> None:
    """Outcome, now and history read back from a log line give exactly the logged decision."""
    now = NOW + later
    decision = ENGINE.evaluate(outcome, now=now, history=history)
    line = log_line(number=7, now=now, outcome=outcome, history=history, decision=decision, policy=ENGINE.policy)
    data = json.loads(line)
    assert list(LOG_KEYS) == list(data)
    entry = read_log_entry(data)
    again = ENGINE.evaluate(entry.outcome, now=entry.now, history=entry.history)
    assert decision.to_json() == again.to_json() == entry.decision
    assert (7, ENGINE.policy.version) == (entry.number, entry.policy_version)


def test_used_history_fills_the_first_attempt() -> None:
    """The logged history is the one evaluate used: the first attempt defaults to sent_at, else now."""
    outcome = Outcome(provider="infobip", channel="sms", status=CodeRef(id=5))
    assert History(attempts=1, first_attempt_at=NOW) == used_history(outcome, NOW, None)
    assert History(attempts=3, first_attempt_at=NOW) == used_history(outcome, NOW, History(attempts=3))


@pytest.mark.parametrize(("change", "path"), [
    ({"log_version": 99}, "$.log_version"),
    ({"now": "yesterday"}, "$.now"),
    ({"outcome": {"provider": "infobip"}}, "$.outcome"),
    ({"decision": []}, "$.decision"),
    ({"history": {"attempts": 0}}, "$.history.attempts"),
    ({"history": {"tries": 2}}, "$.history.tries"),
])
def test_bad_log_lines_name_the_field(change: dict[str, object], path: str) -> None:
    """A malformed log line is a PayloadError pointing at the field."""
    outcome = Outcome(provider="infobip", channel="sms", error=CodeRef(id=581))
    decision = ENGINE.evaluate(outcome, now=NOW)
    data = {**json.loads(log_line(number=1, now=NOW, outcome=outcome, history=None, decision=decision,
                                  policy=ENGINE.policy)), **change}
    with pytest.raises(PayloadError) as caught:
        read_log_entry(data)
    assert path == caught.value.path


def _log_of(payloads: list[str], now: datetime) -> list[str]:
    from dlrpolicy.adapters._records import read_record

    lines = []
    for name in payloads:
        with open(name, "rb") as stream:
            records = list(read_records(stream))
        for record in records:
            found = read_record(record.value)
            for item in found.items:
                assert isinstance(item, Outcome)
                decision = ENGINE.evaluate(item, now=now, history=found.history)
                lines.append(log_line(number=record.number, now=now, outcome=item, history=found.history,
                                      decision=decision, policy=ENGINE.policy))
    return lines


@pytest.fixture(scope="module")
def mixed_input(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Log lines, pretty-printed payloads (one with an inner object in column 0, where chunks may be cut), blank
    and garbage lines, truncated documents and an over-long line."""
    log = _log_of(PAYLOADS[:6], NOW)
    pretty = (ROOT / "examples" / "payloads" / "nhn_message_results.json").read_text(encoding="utf-8")
    parts = [log[0], "not json at all", "", pretty.rstrip(), log[1], '{"results": [', '  {"messageId": "x",',
             *log[2:5], "[1, 2", '{"report": {"results": []}, "attempts": 2}', "x" * 9000, *log[5:9],
             pretty.rstrip(), '{"results": [', '{"messageId": "column-0", "status": {"groupId": 3, "id": 5}}', ']}',
             *log[9:10], '{"truncated": [', '  "at the end"']
    path = tmp_path_factory.mktemp("replay") / "mixed.jsonl"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return str(path)


def _replay(files: list[str], *, workers: int, size: int, **config: object) -> tuple[str, dict[str, object]]:
    options: dict[str, object] = {"policy_dir": str(POLICIES), "now": NOW, "tenant": "bank", "max_bytes": 8000,
                                  **config}
    settings_ = ReplayConfig(**options)  # type: ignore[arg-type]
    out: list[bytes] = []
    summary = replay_chunks(read_chunks(files, size=size, max_bytes=8000), settings_, workers=workers,
                            write=out.append)
    return b"".join(out).decode("ascii"), summary.to_json()


def test_chunking_changes_nothing(mixed_input: str) -> None:
    """Cutting the input at every record start gives the output of reading it whole (numbers, lines, errors)."""
    whole = _replay([mixed_input], workers=1, size=10**9)
    assert whole == _replay([mixed_input], workers=1, size=1)
    assert whole == _replay([mixed_input], workers=1, size=64)
    rows = [json.loads(line) for line in whole[0].splitlines()]
    errors = [row for row in rows if "error" in row]
    messages = [row["error"]["message"] for row in errors]
    assert any(f"{mixed_input} line 2: invalid JSON" in m for m in messages)
    assert any("truncated or invalid JSON document: line " in m and "does not continue it" in m for m in messages)
    assert any("the input ended before it was complete" in m for m in messages)
    assert any("longer than the limit of 8000 bytes" in m for m in messages)
    assert any(row.get("message_id") == "column-0" for row in rows)
    numbers = [row["input"] for row in rows]
    assert numbers == sorted(numbers)


def test_two_workers_give_the_same_output_and_summary(mixed_input: str) -> None:
    """Two worker processes produce byte-identical output and the same summary as one."""
    assert _replay([mixed_input], workers=1, size=200) == _replay([mixed_input], workers=2, size=200)


def test_records_are_numbered_across_files(mixed_input: str) -> None:
    """With several inputs, record numbers continue from file to file."""
    out, summary = _replay([PAYLOADS[0], mixed_input], workers=2, size=100)
    single, _ = _replay([mixed_input], workers=1, size=100)
    first = json.loads(out.splitlines()[0])
    assert 1 == first["input"]
    shifted = [json.loads(line)["input"] for line in out.splitlines()][1:]
    assert [n + 1 for n in (json.loads(line)["input"] for line in single.splitlines())] == shifted
    assert summary["records"] == 1 + json.loads(json.dumps(_replay([mixed_input], workers=1, size=100)[1]))["records"]


def test_replaying_a_log_under_its_own_policy_changes_nothing(tmp_path: Path) -> None:
    """Every logged decision is made again, unchanged, under the policy that made it."""
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(_log_of(PAYLOADS, NOW)) + "\n")
    out, summary = _replay([str(path)], workers=1, size=500, tenant=None)
    assert (27, 0, 0) == (summary["decisions"], summary["changed"], summary["errors"])
    assert all(json.loads(line)["changed"] is False for line in out.splitlines())
    assert {default_policy().version: 27} == summary["old_policy_versions"] == summary["new_policy_versions"]


def test_long_lines_are_shortened_before_they_are_held(tmp_path: Path) -> None:
    """A line far over the record limit is cut to just over it while reading, and still reported as too long."""
    from dlrpolicy.adapters._chunks import chunk_records

    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"first": 0}\n' + b"x" * 100_000 + b'\n{"a": 1}\n')
    chunks = list(read_chunks([str(path)], size=4096, max_bytes=1000))
    assert max(len(chunk.loaded().data) for chunk in chunks) < 4096 + 2 * 1000
    records = [record for chunk in chunks for record in chunk_records(chunk, max_bytes=1000)]
    assert [1, 2, 3] == [record.number for record in records]
    assert records[1].error is not None
    assert f"{path} line 2: the record is longer than the limit of 1000 bytes" in records[1].error.message
    assert {"a": 1} == records[2].value
