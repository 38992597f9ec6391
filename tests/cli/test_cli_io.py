"""``dlrpolicy`` when the operating system says no: a full output device, a closed stdin, inputs that cannot be
read.  One line on stderr and exit 2 (or exit 1 with the records done so far written), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PAYLOADS = Path(__file__).resolve().parents[2] / "examples" / "payloads"
SMS = str(PAYLOADS / "infobip_sms_v1_reports.json")
NOW = "2026-11-24T10:00:00Z"


def dlrpolicy(*args: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dlrpolicy ARGS`` in a fresh process (stdout captured unless redirected)."""
    return subprocess.run([sys.executable, "-m", "dlrpolicy", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=120, check=False)  # type: ignore[call-overload]


@pytest.mark.parametrize("command", [["evaluate", SMS, "--now", NOW], ["catalog", "list"]])
def test_full_output_device(command: list[str]) -> None:
    """stdout on a full device: one error line naming the problem, exit 2, no traceback."""
    with open("/dev/full", "w") as full:
        result = dlrpolicy(*command, stdout=full)
    assert 2 == result.returncode
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr


@pytest.mark.parametrize("command", [["evaluate", SMS, "--now", NOW], ["policy", "lint"]])
def test_closed_stdout(command: list[str]) -> None:
    """stdout closed (`>&-`): one error line, exit 2, nothing silently dropped and no traceback."""
    args = " ".join(command)
    result = subprocess.run(["bash", "-c", f'exec "{sys.executable}" -m dlrpolicy {args} >&-'],
                            capture_output=False, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert 2 == result.returncode
    assert "stdout is closed" in result.stderr
    assert "Traceback" not in result.stderr


def test_closed_stdin() -> None:
    """evaluate with stdin closed: a usage error (exit 2) that says to pass files."""
    result = subprocess.run(["bash", "-c", f'exec "{sys.executable}" -m dlrpolicy evaluate --now {NOW} <&-'],
                            capture_output=True, text=True, timeout=120, check=False)
    assert 2 == result.returncode
    assert "stdin is closed" in result.stderr
    assert "Traceback" not in result.stderr


def test_directory_as_input(tmp_path: Path) -> None:
    """A directory given as a file is a usage error naming it."""
    result = dlrpolicy("evaluate", str(tmp_path), "--now", NOW)
    assert 2 == result.returncode
    assert "is a directory" in result.stderr


def test_input_that_fails_to_read_is_one_error_record() -> None:
    """An input whose read fails (EIO from /proc/self/mem) is one error record; the files before and after it are
    decided and written; exit 1."""
    result = dlrpolicy("evaluate", SMS, "/proc/self/mem", SMS, "--now", NOW)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [line for line in lines if "error" in line]
    assert 1 == result.returncode
    assert 1 == len(errors)
    assert "Input/output error" in errors[0]["error"]["message"]
    assert [2] == [line["input"] for line in errors]
    assert {1, 3} == {line["input"] for line in lines if "verdict" in line}
    assert "Traceback" not in result.stderr


def test_unopenable_input_is_one_error_record(tmp_path: Path) -> None:
    """A file that exists but cannot be opened gives one error record, and the next file is decided: here a
    write-only /proc entry the kernel refuses to open for reading, even for root."""
    target = Path("/proc/self/clear_refs")
    result = dlrpolicy("evaluate", str(target), SMS, "--now", NOW)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert 1 == result.returncode
    assert "error" in lines[0]
    assert {2} == {line["input"] for line in lines if "verdict" in line}
