"""The promise "every record yields its line and the run goes on", as Hypothesis properties of the whole
``dlrpolicy evaluate`` command: random bytes, and JSON Lines with hostile records mixed in."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlrpolicy.cli._main import main
from tests.strategies import hostile_lines

NOW = "2026-11-24T10:00:00Z"


def evaluate(data: bytes) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``dlrpolicy evaluate`` in process with ``data`` on stdin (records up to 2 KiB)."""
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.stdin, sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO(data)), out, err
    try:
        status = main(["evaluate", "--now", NOW, "--max-record-bytes", "2048"])
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def check_run(status: int, lines: list[dict[str, Any]], err: str) -> Counter[int]:
    """The properties every run has; returns the number of output lines per input record."""
    assert "Traceback" not in err
    inputs = [line["input"] for line in lines]
    assert inputs == sorted(inputs)
    counts = Counter(inputs)
    assert list(range(1, len(counts) + 1)) == sorted(counts)  # consecutive, none skipped
    assert f"evaluate: {len(counts)} records" in err
    errored = [line for line in lines if "error" in line]
    assert (1 if errored else 0) == status
    assert [] == [line for line in errored if line["error"]["type"] == "InternalError"]
    return counts


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    """Arbitrary bytes: every record has its lines, numbered consecutively; exit 1 exactly when one errored."""
    check_run(*evaluate(data))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(hostile_lines(), min_size=1, max_size=12))
def test_hostile_json_lines(records: list[tuple[bytes, int]]) -> None:
    """Deep, huge, truncated, mis-encoded records, lone surrogates, dates at the ends of time: each line is one
    record with exactly one output line per outcome (or one error), whatever its neighbours."""
    counts = check_run(*evaluate(b"".join(line for line, _ in records)))
    assert [expected for _, expected in records] == [counts[n] for n in range(1, len(records) + 1)]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(hostile_lines().map(lambda r: r[0]), st.binary(max_size=60)), min_size=1, max_size=10))
def test_hostile_lines_mixed_with_random_bytes(chunks: list[bytes]) -> None:
    """Hostile records and random bytes together: still one line or more per record, numbered consecutively."""
    check_run(*evaluate(b"".join(chunks)))
