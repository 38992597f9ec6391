"""``dlrpolicy replay`` benchmark (issue 16): a decision log of the example payloads' reports (each with its own
message id, decided under the default policy), replayed under the bank tenant with per-record JSON output.

Rows (both timings in the same run, interleaved round by round, best round kept):

- ``replay, 1 worker`` records/s: read, decode, re-decide, compare and serialise every log line in this process.
- ``replay, 2 workers``: the same input on 2 worker processes; the ratio is the 1-worker time over the 2-worker
  time (the speed-up).  Target >= 1.8x on 2 cores.
- peak memory (max RSS) of a fresh interpreter replaying the whole log and a tenth of it: flat memory means the
  ratio stays near 1 however long the log is.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dlrpolicy import Engine
from dlrpolicy.adapters._chunks import largest_for, read_chunks
from dlrpolicy.adapters._records import read_record
from dlrpolicy.report._decision_log import log_line
from dlrpolicy.report._replay import ReplayConfig, replay_chunks

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
from _rows import Row, result_row
from bench_pipeline import shapes

NAME = "replay"
NOW = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
POLICIES = Path(__file__).resolve().parent.parent / "examples" / "policies"

row = functools.partial(result_row, NAME)


def write_log(path: Path, count: int) -> None:
    """``count`` decision log lines cycling through the example reports, each with its own message id."""
    engine = Engine.default()
    templates = [json.dumps(shape) for shape in shapes()]
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < count:
            for index, text in enumerate(templates):
                record = json.loads(text.replace('"messageId": "', f'"messageId": "{written}-{index}-', 1))
                found = read_record(record)
                for item in found.items:
                    if written >= count:
                        break
                    if isinstance(item, Exception):
                        continue
                    decision = engine.evaluate(item, now=NOW, history=found.history)
                    out.write(log_line(number=written + 1, now=NOW, outcome=item, history=found.history,
                                       decision=decision, policy=engine.policy) + "\n")
                    written += 1


def _cpu() -> float:
    # This process and its finished children (the pool's workers are joined when replay_chunks returns).
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _replay(path: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every process involved) for one replay of ``path``."""
    config = ReplayConfig(policy_dir=str(POLICIES), now=NOW, tenant="bank")
    cpu = _cpu()
    started = time.perf_counter()
    chunks = read_chunks([str(path)], largest=largest_for(workers))
    summary = replay_chunks(chunks, config, workers=workers, write=lambda text: None)
    elapsed = time.perf_counter() - started
    if summary.errors:
        raise RuntimeError(f"{summary.errors} benchmark records failed to replay")
    return elapsed, _cpu() - cpu


_RSS_SCRIPT = """
import sys
from dlrpolicy.adapters._chunks import read_chunks
from dlrpolicy.report._replay import ReplayConfig, replay_chunks
config = ReplayConfig(policy_dir=sys.argv[2], tenant="bank")
replay_chunks(read_chunks([sys.argv[1]]), config, workers=1, write=lambda text: None)
with open("/proc/self/status") as status:
    print(next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")))
"""


def _peak_rss_kib(path: Path) -> float:
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path), str(POLICIES)], capture_output=True,
                            text=True, check=True)
    return float(result.stdout.strip())


def run(quick: bool = False) -> list[Row]:
    """Run the replay benchmark; ``quick`` uses 4,000 log lines and one round."""
    count = 4_000 if quick else 60_000
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.jsonl"
        write_log(path, count)
        load_before = os.getloadavg()
        tenth = Path(folder) / "tenth.jsonl"
        with open(path, encoding="utf-8") as whole, open(tenth, "w", encoding="utf-8") as part:
            part.writelines(line for n, line in enumerate(whole) if n < count // 10)
        size = path.stat().st_size
        one = two = one_cpu = two_cpu = float("inf")
        for _ in range(rounds):
            wall, cpu = _replay(path, 1)
            one, one_cpu = min(one, wall), min(one_cpu, cpu)
            wall, cpu = _replay(path, 2)
            two, two_cpu = min(two, wall), min(two_cpu, cpu)
        load = ", ".join(f"{value:.1f}" for value in load_before)
        rows = [
            row("replay, 1 worker", count / one, "records/s",
                note=f"{count:,} log lines ({size / 1e6:.0f} MB), bank tenant over logged default decisions, "
                     f"JSON Lines out, best of {rounds}; {os.cpu_count()} CPUs"),
            row("replay, 2 workers", count / two, "records/s", baseline="replay, 1 worker", ratio=one / two,
                target=">= 1.8x", note="ratio = 1-worker time / 2-worker time, measured in the same run; "
                f"load average before the run {load} (the cores are shared: other processes' load lowers it)"),
            row("CPU time, 2 workers over 1", two_cpu, "s", baseline=f"1 worker: {one_cpu:.2f} s CPU",
                ratio=two_cpu / one_cpu, target="<= 1.1x",
                note="all processes' CPU seconds: the work the split adds, whatever else runs on the machine"),
        ]
        if sys.platform.startswith("linux"):
            peak, small = _peak_rss_kib(path), _peak_rss_kib(tenth)
            rows.append(row("peak memory (max RSS), whole log vs a tenth", peak / 1024, "MiB",
                            baseline=f"a tenth of the log ({count // 10:,} lines)", ratio=peak / small,
                            target="<= 1.1x", note=f"a tenth: {small / 1024:.1f} MiB"))
    return rows


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
