"""The state commands: ``evaluate --state``, ``suppressions``, ``history``, ``due``/``ack``, ``incidents`` (on
SQLite and Redis, through the contract suite's stores)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dlrpolicy import Engine
from dlrpolicy.cli._main import main
from dlrpolicy.cli._state import state_text
from dlrpolicy.decide._evaluate import evaluate
from dlrpolicy.model._outcome import History
from dlrpolicy.state._records import Recorded, ScheduleEntry
from tests.state.conftest import redis_url, state_url  # noqa: F401  (the contract suite's store fixtures)
from tests.state.reports import NOW as NOW_TIME
from tests.state.reports import outcome, report

NOW = "2026-11-24T10:00:00Z"
#: The reports name tenant "acme", which has no policy file: it gets the default policy only when asked to.
ANY_TENANT = ("--default-for-unknown-tenants",)
_DECISION = evaluate(Engine.default(default_for_unknown=True).policy, outcome("m-1", "absent"), now=NOW_TIME)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def _envelopes(path: Path, rows: list[tuple[str, str, str]]) -> str:
    path.write_text("".join(json.dumps({"report": {"results": [report(m, code)]}, "tenant": "acme", "key": key})
                            + "\n" for m, code, key in rows), encoding="utf-8")
    return str(path)


def test_evaluate_with_state_adds_state_and_dedupes_reruns(state_url: str, tmp_path: Path,  # noqa: F811
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Each line gains a state object; a rerun of the same input is all duplicates with the same decisions."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "absent", "order-1"), ("p-2", "absent", "order-1"),
                                              ("p-3", "credits", "order-2")])
    code, first, err = _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", NOW, "--batch", "2")
    assert 0 == code, err
    states = [json.loads(line)["state"] for line in first]
    assert [("order-1", 1), ("order-1", 2), ("order-2", 1)] == [(s["key"], s["attempts"]) for s in states]
    assert {"key", "attempts", "first_attempt_at", "duplicate"} <= set(states[0])
    code, again, _ = _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", NOW)
    assert [True] * 3 == [json.loads(line)["state"]["duplicate"] for line in again]
    assert [json.loads(line)["verdict"] for line in first] == [json.loads(line)["verdict"] for line in again]


def test_decision_log_skips_duplicates_so_replay_sees_no_change(state_url: str, tmp_path: Path,  # noqa: F811
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A rerun an hour later is all duplicates: the log keeps only the decisions made, and replay finds none moved."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "absent", "order-1"), ("p-3", "opted-out", "order-2")])
    log = tmp_path / "decisions.jsonl"
    for now in (NOW, "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z"):
        code, _, err = _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", now,
                            "--log", str(log))
        assert 0 == code, err
    assert 2 == len(log.read_text(encoding="utf-8").splitlines())
    code, lines, err = _run(capsys, "replay", str(log), "--policy-dir", str(tmp_path), *ANY_TENANT,
                            "--format", "jsonl")
    assert 0 == code, err
    rows = [json.loads(line) for line in lines]
    assert [False, False] == [row["changed"] for row in rows if "summary" not in row]


def test_evaluate_reads_the_state_url_from_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """$DLRPOLICY_STATE stands in for --state."""
    monkeypatch.setenv("DLRPOLICY_STATE", f"sqlite:///{tmp_path / 'env.db'}")
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "absent", "k")])
    code, lines, _ = _run(capsys, "evaluate", path, "--now", NOW, *ANY_TENANT)
    assert (0, "k") == (code, json.loads(lines[0])["state"]["key"])


def test_suppressions_commands(state_url: str, tmp_path: Path,  # noqa: F811
                               capsys: pytest.CaptureFixture[str]) -> None:
    """check exits 1 with the entry, 0 when allowed; lift refuses an opt-out without --force; export, import
    and prune work on the same store."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "opted-out", "k-1")])
    assert 0 == _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", NOW)[0]
    base = ["--state", state_url, *ANY_TENANT, "--now", NOW, "--tenant", "acme"]
    code, lines, _ = _run(capsys, "suppressions", "check", "--recipient", "+821012340001", *base)
    entry = json.loads(lines[0])
    assert (1, "recipient", False) == (code, entry["scope"], entry["liftable"])
    assert 0 == _run(capsys, "suppressions", "check", "--recipient", "+821099999999", *base)[0]
    code, _, err = _run(capsys, "suppressions", "lift", entry["id"], "--actor", "kim", "--note", "x", *base)
    assert (1, True) == (code, "--force" in err)
    code, exported, _ = _run(capsys, "suppressions", "export", *base)
    assert 1 == len(exported)
    code, lines, _ = _run(capsys, "suppressions", "lift", "--recipient", "821012340001", "--force", "--actor", "kim",
                          "--note", "consent", *base)
    assert (0, "kim") == (code, json.loads(lines[0])["by"])
    assert 0 == _run(capsys, "suppressions", "check", "--recipient", "+821012340001", *base)[0]
    dump = tmp_path / "export.jsonl"
    dump.write_text("\n".join([*exported, json.dumps({"tenant": "acme", "scope": "template", "key": "promo",
                                                       "until": "2026-11-24T09:00:00Z"})]) + "\n", encoding="utf-8")
    assert 0 == _run(capsys, "suppressions", "import", str(dump), "--state", state_url, *ANY_TENANT, "--now", NOW)[0]
    assert 2 == len(_run(capsys, "suppressions", "list", "--all", *base)[1])
    assert 1 == len(_run(capsys, "suppressions", "list", *base)[1])
    assert 0 == _run(capsys, "suppressions", "prune", "--state", state_url, *ANY_TENANT, "--now", NOW)[0]
    assert 1 == len(_run(capsys, "suppressions", "list", "--all", *base)[1])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"scope": "recipient", "key": "+821012340009"}\n{"scope": 7}\n{"scope": "x", "key": "y"}\n',
                   encoding="utf-8")
    code, _, err = _run(capsys, "suppressions", "import", str(bad), "--state", state_url, *ANY_TENANT, "--now", NOW)
    problems = err.strip().splitlines()
    assert (1, 3) == (code, len(problems))
    assert [True, True, True] == [line.startswith(f"dlrpolicy: error: {start}") for line, start in zip(
        problems, ("import line 2: scope 7", "import line 3: scope 'x'", "2 bad lines of 3: nothing was imported"),
        strict=True)]


def test_import_names_a_line_that_is_not_utf8(state_url: str, tmp_path: Path,  # noqa: F811
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A file with a byte that is not UTF-8 names that line; nothing is imported and no traceback is printed."""
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"scope": "recipient", "key": "+821012340009"}\n{"scope": "template", "key": "caf\xe9"}\n')
    code, _, err = _run(capsys, "suppressions", "import", str(bad), "--state", state_url, *ANY_TENANT, "--now", NOW)
    problems = err.strip().splitlines()
    assert (1, 2) == (code, len(problems))
    assert (True, True) == (problems[0].startswith("dlrpolicy: error: import line 2: "), "not UTF-8" in problems[0])


@pytest.mark.parametrize(("argv", "needle"), [(["due", "--limit", str(10**20)], "--limit"),
                                              (["incidents", "show", "i-\udcff"], "incident_id")])
def test_extreme_arguments_are_one_line(state_url: str, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                        argv: list[str], needle: str) -> None:
    """A limit beyond any store's integers and an id with bytes that are not UTF-8 are one line, no traceback."""
    _run(capsys, "evaluate", "/dev/null", "--state", state_url)  # creates the store
    code, _, err = _run(capsys, *argv, "--state", state_url, "--now", NOW)
    assert (True, 1, True) == (code in (1, 2), len(err.strip().splitlines()), needle in err)


def test_history_due_ack_and_incidents(state_url: str, tmp_path: Path,  # noqa: F811
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """history prints the message; due --claim prints tokens, ack completes; incidents list/show/resolve."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "absent", "k-1"), ("p-2", "credits", "k-2"),
                                              ("p-3", "credits", "k-3")])
    assert 0 == _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", NOW)[0]
    state = ["--state", state_url, *ANY_TENANT]
    code, lines, _ = _run(capsys, "history", "k-1", "--tenant", "acme", *state)
    assert (0, "k-1", 1) == (code, json.loads("\n".join(lines))["key"], json.loads("\n".join(lines))["attempts"])
    assert 1 == _run(capsys, "history", "nope", *state)[0]
    code, lines, _ = _run(capsys, "due", "--now", "2026-11-24T12:00:00Z", "--claim", "--lease", "60s", *state)
    (entry,) = [json.loads(line) for line in lines]
    assert {"key", "tenant", "due_at", "deadline", "channel", "attempt", "token"} <= set(entry)
    assert ("k-1", "acme") == (entry["key"], entry["tenant"])
    assert 0 == _run(capsys, "ack", entry["token"], *state)[0]
    assert 1 == _run(capsys, "ack", entry["token"], *state)[0]
    code, lines, _ = _run(capsys, "incidents", "list", "--format", "jsonl", "--now", NOW, *state)
    (incident,) = [json.loads(line) for line in lines]
    assert {"id", "tenant", "route", "cause", "count", "first_seen", "last_seen", "state"} <= set(incident)
    assert ("billing", 2, "open") == (incident["route"], incident["count"], incident["state"])
    assert 0 == _run(capsys, "incidents", "show", incident["id"], *state)[0]
    code, lines, _ = _run(capsys, "incidents", "resolve", incident["id"], "--rate", "1/s", "--now", NOW,
                          "--format", "jsonl", *state)
    assert (0, 2, "2026-11-24T10:00:01Z") == (code, json.loads(lines[0])["count"], json.loads(lines[0])["last_due"])
    code, lines, _ = _run(capsys, "due", "--now", "2026-11-24T10:00:01Z", *state)
    assert ["k-2", "k-3"] == sorted(json.loads(line)["key"] for line in lines)


def test_state_commands_need_a_store(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --state (or $DLRPOLICY_STATE) the command says how to name one; a bad URL is one line."""
    monkeypatch.delenv("DLRPOLICY_STATE", raising=False)
    code, _, err = _run(capsys, "suppressions", "check", "--recipient", "x")
    assert (2, True) == (code, "--state URL is required" in err)
    code, _, err = _run(capsys, "due", "--state", "ftp://x")
    assert (1, 1) == (code, len(err.strip().splitlines()))


@pytest.mark.parametrize("command", [["due"], ["suppressions", "check", "--recipient", "+821012340001"],
                                     ["history", "k-1"], ["incidents", "list"], ["suppressions", "list"]])
def test_read_only_commands_never_create_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 command: list[str]) -> None:
    """A read-only command naming an SQLite file that does not exist says so in one line and creates neither
    the file nor its directory."""
    folder = tmp_path / "nonexistent"
    code, _, err = _run(capsys, *command, "--state", f"sqlite:///{folder / 'x.db'}", "--now", NOW)
    # `suppressions check` exits 1 for "suppressed": a check that could not be made is 2, so that a send loop
    # tells "do not send to this recipient" from "ask again later".
    expected = 2 if command[0] == "suppressions" and command[1] == "check" else 1
    assert (expected, 1, False) == (code, len(err.strip().splitlines()), folder.exists())
    assert "no store at" in err


def test_check_that_cannot_be_made_exits_2(state_url: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """A recipient the store cannot hold (bytes that are not UTF-8 in argv) is one line and exit 2, not 1."""
    _run(capsys, "evaluate", "/dev/null", "--state", state_url)  # creates the store
    code, out, err = _run(capsys, "suppressions", "check", "--recipient", "+8210\udcff", "--state", state_url,
                          "--now", NOW)
    assert (2, [], 1) == (code, out, len(err.strip().splitlines()))
    assert "recipient '+8210\\udcff'" in err


def test_due_prints_no_entry_past_its_deadline(state_url: str, tmp_path: Path,  # noqa: F811
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`due` without --claim leaves out what a claim would end as exhausted, as its help says."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-1", "absent", "k-1")])
    assert 0 == _run(capsys, "evaluate", path, "--state", state_url, *ANY_TENANT, "--now", NOW)[0]
    state = ["--state", state_url, *ANY_TENANT]
    code, lines, _ = _run(capsys, "due", "--now", "2026-11-24T12:00:00Z", *state)
    assert (0, ["k-1"]) == (code, [json.loads(line)["key"] for line in lines])
    assert (0, []) == _run(capsys, "due", "--now", "2026-12-24T12:00:00Z", *state)[:2]


def test_explain_shows_flood_control_and_a_tenants_override(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """explain names the retry budget and the breaker (text and --format json flood_control), and whether the code
    counts as a flood failure; a tenant file's [budgets]/[breakers] keys change what it shows."""
    code_argv = ["explain", "infobip", "error", "chat", "7017", "--group", "1", "--now", NOW]
    code, lines, _ = _run(capsys, *code_argv)
    (flood,) = [line for line in lines if line.startswith("flood")]
    assert (0, True) == (code, flood.endswith("(this code counts as a flood failure)"))
    assert "retry budget 20% of reports over 1m (at least 10); circuit breaker opens at 50% flood failures over " \
           ">= 100 reports in 1m, for 30s doubling to 10m" in flood
    (tmp_path / "bank.toml").write_text('[budgets]\nratio = 0.05\nfloor = 3\n\n[breakers]\nenabled = false\n',
                                        encoding="utf-8")
    tenant = ["--policy-dir", str(tmp_path), "--tenant", "bank"]
    code, lines, _ = _run(capsys, *code_argv, *tenant)
    (flood,) = [line for line in lines if line.startswith("flood")]
    assert "retry budget 5% of reports over 1m (at least 3); circuit breaker off" in flood
    code, lines, _ = _run(capsys, *code_argv, *tenant, "--format", "json")
    shown = json.loads("\n".join(lines))["flood_control"]
    assert ({"enabled": True, "ratio": 0.05, "window": "1m", "floor": 3}, False, True) == (
        shown["budget"], shown["breaker"]["enabled"], shown["flood_code"])
    code, lines, _ = _run(capsys, "explain", "infobip", "status", "general", "5", "--group", "3", "--now", NOW,
                          "--format", "json")
    assert (False, True) == (json.loads("\n".join(lines))["flood_control"]["flood_code"],
                             json.loads("\n".join(lines))["flood_control"]["breaker"]["enabled"])


def _api_errors(path: Path, keys: range, status: int = 429) -> str:
    """Infobip API error responses as a send loop's envelopes: the body, its HTTP status, the channel and key."""
    body = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}}
    path.write_text("".join(json.dumps({"report": body, "provider": "infobip", "http_status": status, "channel": "sms",
                                        "tenant": "acme", "key": f"k-{n:03d}"}) + "\n" for n in keys), encoding="utf-8")
    return str(path)


def test_a_429_storm_opens_the_breaker_of_the_default_policy_and_a_probe_closes_it(
        state_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """120 HTTP 429 API errors under the shipped default policy (http.rate-limited is a flood code): the 100th
    opens infobip:sms's breaker and the retries after it wait for its end; a delivered report after the break is
    the probe that closes it; a 429 after that meets a closed breaker."""
    state = ["--state", state_url, *ANY_TENANT]
    code, lines, err = _run(capsys, "evaluate", _api_errors(tmp_path / "storm.jsonl", range(120)), *state,
                            "--now", NOW)
    rows = [json.loads(line) for line in lines]
    assert (0, ["http.rate-limited"]) == (code, sorted({row["rule"] for row in rows})), err
    opened = [n for n, row in enumerate(rows) if any("opened" in note for note in row["state"]["flood"])]
    assert [99] == opened
    assert all(row["retry_at"] >= "2026-11-24T10:00:30Z" for row in rows[99:])
    probe = tmp_path / "probe.jsonl"
    probe.write_text(json.dumps({"report": {"results": [report("p-1", "delivered")]}, "tenant": "acme"}) + "\n",
                     encoding="utf-8")
    code, lines, _ = _run(capsys, "evaluate", str(probe), *state, "--now", "2026-11-24T10:00:40Z")
    assert ["circuit breaker infobip:sms closed after a successful probe"] == json.loads(lines[0])["state"]["flood"]
    code, lines, _ = _run(capsys, "evaluate", _api_errors(tmp_path / "after.jsonl", range(200, 201)), *state,
                          "--now", "2026-11-24T10:00:41Z")
    assert [] == [note for note in json.loads(lines[0])["state"]["flood"] if "breaker" in note]


def test_incident_show_formats_drop_needs_a_note_and_check_names_the_provider(
        state_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """incidents show --format table|jsonl; resolve --release drop without --note is a usage error; check
    --provider reports an account hold only for sends on that provider."""
    path = _envelopes(tmp_path / "in.jsonl", [("p-2", "credits", "k-2")])
    state = ["--state", state_url, *ANY_TENANT, "--now", NOW]
    assert 0 == _run(capsys, "evaluate", path, *state)[0]
    code, lines, _ = _run(capsys, "incidents", "list", "--format", "jsonl", *state)
    incident = json.loads(lines[0])
    code, lines, _ = _run(capsys, "incidents", "show", incident["id"], "--format", "jsonl", *state)
    assert (0, incident) == (code, json.loads(lines[0]))
    code, lines, _ = _run(capsys, "incidents", "show", incident["id"], *state)
    assert (0, f"id           {incident['id']}", "route        billing") == (code, lines[0], lines[2])
    code, _, err = _run(capsys, "incidents", "resolve", incident["id"], "--release", "drop", *state)
    assert (2, True) == (code, "--release drop needs --note" in err)
    check = ["suppressions", "check", "--recipient", "+821099990000", "--tenant", "acme", *state]
    assert [1, 0, 1] == [_run(capsys, *check, *extra)[0] for extra in (["--provider", "infobip"],
                                                                      ["--provider", "nhn"], [])]


def test_a_record_that_cannot_be_stored_costs_only_itself(state_url: str, tmp_path: Path,  # noqa: F811
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A lone-surrogate message id (a JSON escape) under --state is one error line; the rest of its batch is
    decided and recorded (the whole batch became internal errors before)."""
    path = tmp_path / "in.jsonl"
    good = json.dumps({"report": {"results": [report("p-1", "absent")]}, "tenant": "acme"})
    bad = good.replace('"p-1"', '"p-\\ud800"')
    path.write_text(f"{good}\n{bad}\n{good.replace('p-1', 'p-2')}\n", encoding="utf-8")
    code, lines, _ = _run(capsys, "evaluate", str(path), "--state", state_url, *ANY_TENANT, "--now", NOW)
    rows = [json.loads(line) for line in lines]
    assert (1, ["retry", "InvalidOutcomeError", "retry"]) == (
        code, [row.get("verdict") or row["error"]["type"] for row in rows])


@pytest.mark.parametrize("recorded", [
    Recorded(decision=_DECISION, tenant="acme", key="order-1", report="0123456789abcdef",
             history=History(attempts=3, first_attempt_at=datetime(2026, 11, 24, 9, 58, tzinfo=UTC),
                             channels=("sms",))),
    Recorded(decision=_DECISION, tenant=None, key="주문-\u00e9\"\\\n", report="r", history=History(),
             duplicate=True, superseded=True, suppression="s-1-acme", incident="i-2-acme", incident_count=4,
             held=True, flood=("retry budget of infobip:sms spent", "circuit breaker \u00e9 open"),
             schedule=ScheduleEntry(tenant=None, key="k", kind="retry",
                                    due_at=datetime(2026, 11, 24, 19, 0, 0, 5, tzinfo=timezone(timedelta(hours=9))),
                                    deadline=None, channel="sms", attempt=2, rule="r")),
])
def test_state_text_is_the_json_of_to_json(recorded: Recorded) -> None:
    """The state object of a line is exactly json.dumps of Recorded.to_json, whatever its fields hold."""
    assert json.dumps(recorded.to_json()) == state_text(recorded)
