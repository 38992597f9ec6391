"""End-to-end ``dlrpolicy evaluate`` benchmark (issue 5): one million JSON Lines reports drawn from the shapes in
examples/payloads/, generated into a temporary file at run time (never committed).

Rows (the ratio is measured in the same run, interleaved round by round, best round kept):

- ``pipeline`` reports/s: read, decode, adapt, evaluate and serialise every line, output discarded.
- ``vs json.loads + json.dumps``: the pipeline's time over plain ``json.dumps(json.loads(line))`` of the same
  lines.  Target <= 3x.
- peak memory (max RSS) of a fresh interpreter running the pipeline over the whole file, and of one that only
  imports dlrpolicy and loads the policy: flat memory means the difference does not grow with the input.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dlrpolicy import Engine
from dlrpolicy.adapters._stream import read_records
from dlrpolicy.cli._evaluate import decide_records

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
from _rows import Row, result_row

NAME = "pipeline"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PAYLOADS = Path(__file__).resolve().parent.parent / "examples" / "payloads"


row = functools.partial(result_row, NAME)


def shapes() -> list[object]:
    """One record per report in the examples: each Infobip result on its own, NHN payloads and envelopes whole."""
    records: list[object] = []
    for path in sorted(PAYLOADS.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        report = payload.get("report", payload)
        if "results" in report and report is payload:
            records.extend({"results": [result]} for result in report["results"])
        else:
            records.append(payload)
    return records


def write_lines(path: Path, count: int) -> int:
    """Write ``count`` JSON Lines cycling through the shapes, each with its own message id; returns bytes."""
    templates = [json.dumps(r) for r in shapes()]
    size = 0
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            text = templates[i % len(templates)]
            # A distinct message id per line keeps jitter and suppression keys realistic.
            line = text.replace('"messageId": "', f'"messageId": "{i}-', 1) + "\n"
            size += out.write(line)
    return size


def _pipeline(data: bytes, engine: Engine) -> float:
    started = time.perf_counter()
    summary = decide_records(read_records(io.BytesIO(data)), lambda text: None, engine=engine, now=NOW)
    elapsed = time.perf_counter() - started
    if summary.errors:
        raise RuntimeError(f"{summary.errors} benchmark records failed to decide")
    return elapsed


def _baseline(data: bytes) -> float:
    loads, dumps = json.loads, json.dumps
    started = time.perf_counter()
    for line in io.BytesIO(data):
        dumps(loads(line))
    return time.perf_counter() - started


_RSS_SCRIPT = """
import resource, sys
from datetime import UTC, datetime
from dlrpolicy import Engine
from dlrpolicy.cli._evaluate import decide_records
from dlrpolicy.adapters._stream import read_records
engine = Engine.default()
if sys.argv[1] != "-":
    with open(sys.argv[1], "rb") as stream:
        decide_records(read_records(stream), lambda text: None, engine=engine,
                       now=datetime(2026, 11, 24, 10, tzinfo=UTC))
try:  # VmHWM belongs to this process image; ru_maxrss survives exec and may be the parent's peak
    with open("/proc/self/status") as status:
        print(next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")))
except (OSError, StopIteration):
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kib(path: str) -> float:
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, path], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def run(quick: bool = False) -> list[Row]:
    """Run the pipeline benchmark; ``quick`` uses 20,000 lines and measures memory over those."""
    count = 20_000 if quick else 1_000_000
    chunk = 20_000 if quick else 100_000  # timed in chunks held in memory; memory is measured on the file
    rounds = 3
    engine = Engine.default()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reports.jsonl"
        size = write_lines(path, count)
        pipeline_total = baseline_total = 0.0
        with open(path, "rb") as stream:
            while True:
                lines = stream.readlines(chunk * 700)
                if not lines:
                    break
                data = b"".join(lines)
                best_pipeline = best_baseline = float("inf")
                for _ in range(rounds):
                    best_baseline = min(best_baseline, _baseline(data))
                    best_pipeline = min(best_pipeline, _pipeline(data, engine))
                pipeline_total += best_pipeline
                baseline_total += best_baseline
                if quick:
                    break
        peak = _peak_rss_kib(str(path))
        idle = _peak_rss_kib("-")
    ratio = pipeline_total / baseline_total
    note = f"{count:,} lines ({size / 1e6:.0f} MB) from {len(shapes())} example shapes, best of {rounds} per chunk"
    return [
        row("evaluate pipeline", count / pipeline_total, "reports/s", note=note),
        row("vs json.loads + json.dumps", ratio, "x slower", baseline="json.loads + json.dumps per line",
            ratio=ratio, target="<= 3x", note=f"baseline {count / baseline_total:,.0f} lines/s"),
        row("peak memory (max RSS) over the whole file", peak / 1024, "MiB",
            note=f"{count:,} lines streamed from disk; {os.path.basename(str(path))}"),
        row("memory growth over an idle engine", (peak - idle) / 1024, "MiB", baseline="import + default policy",
            note=f"idle engine {idle / 1024:.1f} MiB; flat memory means this does not grow with the line count"),
    ]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
