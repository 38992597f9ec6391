"""The runnable examples: each runs as a script (offline, in seconds), and again with the test engine injected so
the assertions do not depend on the shipped default policy's judgments."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dlrpolicy import Engine, Recorder, open_store
from tests.integrations.test_tenacity import START, build_engine

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT_TIMEOUT = 60  # seconds; the examples finish in well under one


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The test engine (small catalog and policy from test_tenacity)."""
    return build_engine(tmp_path_factory.mktemp("policy"))


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # as when the script runs: its folder comes first (fake_infobip)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs and dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args: str) -> str:
    """Run examples/<name>.py with this interpreter; return its stdout (failing the test on a non-zero exit)."""
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=SCRIPT_TIMEOUT, check=False)
    assert 0 == done.returncode, done.stderr
    return done.stdout


def message_blocks(output: str) -> dict[str, list[str]]:
    """Split send-loop output into message id -> its indented lines."""
    blocks: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("m-"):
            current = line.split()[0]
            blocks[current] = []
        elif line.startswith("  ") and current:
            blocks[current].append(line.strip())
    return blocks


def test_send_loop_script_prints_attempts_and_finals() -> None:
    """`python examples/send_loop.py` prints, per message, each attempt's decision and the final outcome."""
    blocks = message_blocks(run_script("send_loop"))
    assert ["m-1", "m-2", "m-3", "m-4"] == sorted(blocks)
    for lines in blocks.values():
        attempts = [line for line in lines if " attempt " in line]
        assert attempts
        assert "(rule " in attempts[0]
        assert 1 == sum(line.startswith("final: ") for line in lines)
    assert "EC_ABSENT_SUBSCRIBER" in blocks["m-1"][0]


def test_send_loop_with_test_engine(engine: Engine) -> None:
    """With the test policy: retried then delivered; deferred a day; escalated; suppressed."""
    module = load_example("send_loop")
    out = io.StringIO()
    finals = module.run(engine, out)
    assert {
        "m-1": "delivered (DELIVERED_TO_HANDSET) after 2 attempt(s)",
        "m-2": "delivered (DELIVERED_TO_HANDSET) after 3 attempt(s)",
        "m-3": "escalated to billing: message held",
        "m-4": "suppressed (message): do not resend",
    } == finals
    blocks = message_blocks(out.getvalue())
    assert ["11-24 10:00:00 attempt 1: EC_ABSENT_SUBSCRIBER -> retry at 2026-11-24 10:00:10 (rule absent)",
            "11-24 10:00:10 attempt 2: DELIVERED_TO_HANDSET -> done (rule delivered)"] == [
        line for line in blocks["m-1"] if " attempt " in line]
    assert ["11-24 10:00:00 attempt 1", "11-25 10:00:00 attempt 2", "11-26 10:00:00 attempt 3"] == [
        line.split(":", 3)[0] + ":" + line.split(":", 3)[1] + ":" + line.split(":", 3)[2][:12]
        for line in blocks["m-2"] if " attempt " in line]
    assert 2 == sum(line.startswith("deferred: retry later") for line in blocks["m-2"])


def test_async_send_loop_script_runs() -> None:
    """`python examples/async_send_loop.py` prints every message and respects its concurrency limit."""
    output = run_script("async_send_loop")
    blocks = message_blocks(output)
    assert ["m-1", "m-2", "m-3", "m-4", "m-5", "m-6"] == sorted(blocks)
    assert all(1 == sum(line.startswith("final: ") for line in lines) for lines in blocks.values())
    assert "peak sends in flight: 3 (limit 3)" in output


def test_async_send_loop_matches_sync_example(engine: Engine) -> None:
    """The async example ends every shared message as the sync one does, with sends overlapping."""
    sync_finals = load_example("send_loop").run(engine, io.StringIO())
    module = load_example("async_send_loop")
    out = io.StringIO()
    finals = module.run(engine, out)
    assert sync_finals == {key: finals[key] for key in sync_finals}
    assert "delivered (DELIVERED_TO_HANDSET) after 3 attempt(s)" == finals["m-5"]
    assert "peak sends in flight: 3 (limit 3)" in out.getvalue()


def test_scheduler_script_drains_its_queue() -> None:
    """`python examples/scheduler.py` replays deferred retries until the queue is empty."""
    output = run_script("scheduler")
    assert "queue empty: True" in output
    assert 3 == sum(line.startswith("  final m-") for line in output.splitlines())


def test_scheduler_replays_deferred_retries(engine: Engine) -> None:
    """With the test policy, out-of-credit is deferred twice by 24h and delivered on the third day."""
    module = load_example("scheduler")
    out = io.StringIO()
    finals = module.run(engine, out)
    assert {
        "m-1": "delivered on sms, send #3",
        "m-2": "delivered on sms, send #3",
        "m-3": "delivered on sms, send #2",
    } == finals
    lines = out.getvalue().splitlines()
    deferred = [line for line in lines if line.split()[2] == "m-2:" and "deferred" in line]
    assert 2 == len(deferred)
    assert "(attempts so far 2)" in deferred[1]


class ListLogger:
    """Collects `decision` events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})


def test_webhook_receiver_script_demo() -> None:
    """`python examples/webhook_receiver.py` serves on loopback, posts its samples, prints the journal, stops."""
    output = run_script("webhook_receiver")
    assert ["200", "200", "200", "200", "401", "400"] == [line.split(" -> ")[1][:3] for line in output.splitlines()
                                                          if line.startswith("POST ")]
    journal = [line.strip() for line in output.split("journal:\n", 1)[1].splitlines()]
    assert ["m-1 (sms)", "m-2 (sms)", "m-3 (email)", "m-1 (sms)", "m-2 (sms)", "20261124185959abcdefghij0:1 (kakao)",
            "rejected", "rejected"] == [line.split("): ")[0] + ")" if "): " in line else line.split(":")[0]
                                        for line in journal]
    assert [False, False, False, True, True] == ["(duplicate" in line for line in journal[:5]]
    assert journal[6].startswith("rejected: bad_signature")


def test_webhook_receiver_over_loopback(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-shaped payloads posted over loopback are evaluated and journalled; bad ones are journalled too."""
    module = load_example("webhook_receiver")
    monkeypatch.setattr(module, "MAX_BODY", 64 * 1024)
    journal = tmp_path / "decisions.jsonl"
    logger = ListLogger()
    server = module.make_server(engine, journal, clock=lambda: START, logger=logger)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    try:
        answers = [
            module.post(f"{base}/infobip?channel=sms", json.dumps(module.SMS_REPORTS).encode()),
            module.post(f"{base}/auto?channel=email", json.dumps(module.EMAIL_REPORTS).encode()),
            module.post(f"{base}/infobip", b'{"results": [{"status": '),
            module.post(f"{base}/infobip", json.dumps({"results": [{"messageId": "m-9", "status": "five"}]}).encode()),
            module.post(f"{base}/unknown", b"{}"),
            module.post(f"{base}/infobip", b"[" + b" " * 70 * 1024 + b"]"),
        ]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [200, 200, 400, 422, 404, 413] == [status for status, _ in answers]
    assert {"decisions": [{"message_id": "m-1", "verdict": "retry"}, {"message_id": "m-2", "verdict": "done"}]} == \
        answers[0][1]
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    decided = [r for r in records if "decision" in r]
    assert [("m-1", "sms", "retry", "absent", "2026-11-24T10:00:10Z"), ("m-2", "sms", "done", "delivered", None),
            ("m-3", "email", "suppress", "defaults.unknown_permanent", None)] == [
        (r["message_id"], r["channel"], r["decision"]["verdict"], r["decision"]["rule"], r["decision"]["retry_at"])
        for r in decided]
    rejected = [r["rejected"] for r in records if "rejected" in r]
    assert ["invalid_json", "PayloadError", "body_too_large"] == [r["type"] for r in rejected]
    assert rejected[1]["path"].startswith("$.results[0]")
    assert ["m-1", "m-2", "m-3"] == [event["message_id"] for event in logger.events]


@pytest.mark.parametrize("route", ["nhn_kakao", "auto"])
def test_webhook_receiver_verifies_nhn_signatures(engine: Engine, tmp_path: Path, route: str) -> None:
    """NHN posts need the configured X-Toast-Webhook-Signature: unconfigured and forged requests get 401, on NHN's
    own route and on the auto-detecting one (an unsigned NHN body there was decided before)."""
    module = load_example("webhook_receiver")
    body = json.dumps(module.NHN_HOOKS).encode()
    answers = []
    for configured, headers in ((None, {"X-Toast-Webhook-Signature": "anything"}),
                                ("s3cret", {"X-Toast-Webhook-Signature": "forged"}),
                                ("s3cret", {}),
                                ("s3cret", {"x-toast-webhook-signature": "s3cret"})):
        server = module.make_server(engine, tmp_path / "j.jsonl", clock=lambda: START, logger=ListLogger(),
                                    nhn_signature=configured)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/{route}"
            answers.append(module.post(url, body, headers=headers)[0])
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    assert [401, 401, 401, 200] == answers
    rejected = [json.loads(line)["rejected"]["type"] for line in (tmp_path / "j.jsonl").read_text().splitlines()
                if "rejected" in line]
    assert ["bad_signature"] * 3 == rejected


def test_webhook_receiver_records_through_the_ledger(engine: Engine, tmp_path: Path) -> None:
    """With a recorder, a redelivered body gets the stored decisions back, and the history counts once."""
    module = load_example("webhook_receiver")
    journal = tmp_path / "decisions.jsonl"
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    recorder = Recorder(engine, store)
    server = module.make_server(engine, journal, clock=lambda: START, logger=ListLogger(), recorder=recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    try:
        for _ in range(2):
            assert 200 == module.post(f"{base}/infobip", json.dumps(module.SMS_REPORTS).encode())[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert [(False, 1), (False, 1), (True, 1), (True, 1)] == [
        (r["state"]["duplicate"], r["state"]["attempts"]) for r in records]
    history = recorder.history("m-1")
    assert history is not None
    assert 1 == len(history.reports)
    store.close()
