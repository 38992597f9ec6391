"""The shipped default policy as a whole: every code decided, departures from the flag, status vs error, the doc."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from dlrpolicy import Catalog, CodeRef, Decision, Engine, History, Outcome
from dlrpolicy.policy._reports import coverage, lint
from tests.strategies import outcome_for

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
FALLBACK_RULES = ("defaults", "defaults.unknown", "defaults.unknown_permanent")


def decide(provider: str, kind: str, product: str, code: int, *, group_id: int | None = None,
           history: History | None = None, **fields: object) -> Decision:
    """The default policy's decision for one catalog code reported alone at NOW."""
    entry = Catalog.load().lookup(provider, kind, product, code, group_id=group_id)
    fields.setdefault("message_id", "msg-1")
    fields.setdefault("recipient", "+14155550100")
    return Engine.default().evaluate(outcome_for(entry, **fields), now=NOW, history=history)


def load_doc_script() -> ModuleType:
    """scripts/generate_policy_doc.py as a module."""
    spec = importlib.util.spec_from_file_location("generate_policy_doc", ROOT / "scripts" / "generate_policy_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the whole catalog ------------------------------------------------------------------------------------------


def test_every_catalog_code_is_decided_by_a_rule() -> None:
    """Each of the catalog's codes resolves to its own entry and a real rule with a reason."""
    engine = Engine.default()
    undecided = []
    for entry in Catalog.load():
        outcome = outcome_for(entry, message_id="m", recipient="+14155550100", sender="S", tenant="t",
                              template="tpl")
        decision = engine.evaluate(outcome, now=NOW)
        if decision.code.unknown or decision.rule in FALLBACK_RULES or not decision.reason.strip():
            undecided.append(entry.label)
        assert (entry.id, entry.name) == (decision.code.id, decision.code.name)
    assert [] == undecided


def test_every_rule_reason_is_written_out() -> None:
    """Every winning plan has a reason sentence of its own (not just the code's label)."""
    short = [row.entry.label for row in coverage(Engine.default().policy) if len(row.plan.reason.strip()) < 20]
    assert [] == short


def test_lint_is_clean() -> None:
    """No code falls back to [defaults] and no rule is shadowed by a more specific one."""
    report = lint(Engine.default().policy)
    assert ((), ()) == (report.shadowed, tuple(e.label for e in report.fallback_codes))


def test_catalog_is_fully_covered() -> None:
    """The coverage report has one row per catalog entry."""
    assert len(Catalog.load()) == len(list(coverage(Engine.default().policy)))


def test_documented_rule_ids_exist() -> None:
    """The rule ids that documents and tenants refer to are kept."""
    ids = {rule.id for rule in Engine.default().policy.rules}
    expected = {"sms.user-out-of-credit", "sms.carrier-daily-quota", "email.domain-cooling-off",
                "kakao.friendtalk-night"}
    assert expected == expected & ids


def test_every_retry_is_bounded() -> None:
    """No retry rule runs without a deadline."""
    unbounded = [row.plan.rule for row in coverage(Engine.default().policy)
                 if row.plan.verdict == "retry" and row.plan.give_up_after is None]
    assert [] == unbounded


def test_escalations_name_a_known_route() -> None:
    """Every escalation goes to one of the documented routes."""
    routes = {"credentials", "billing", "provisioning", "content", "compliance", "deliverability", "support"}
    used = {row.plan.escalate.route for row in coverage(Engine.default().policy) if row.plan.escalate is not None}
    assert set() == used - routes


# --- departures from the provider's `permanent` flag ------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "code", "verdict"),
    [
        ("general", 628, "retry"),
        ("general", 51, "retry"),
        ("general", 630, "retry"),
        ("general", 4103, "retry"),
        ("chat", 7082, "retry"),
        ("chat", 7080, "retry"),
        ("push", 8012, "wait"),
        ("push", 8009, "retry"),
        ("voice_legacy", 5002, "retry"),
        ("voice_legacy", 5003, "retry"),
        ("voice_legacy", 5503, "retry"),
        ("voice", 10200, "retry"),
        ("voice", 10307, "retry"),
        ("voice", 10312, "retry"),
    ],
)
def test_transient_causes_flagged_permanent_are_retried(product: str, code: int, verdict: str) -> None:
    """Plainly transient causes flagged permanent are retried (or waited for), and the reason says why."""
    decision = decide("infobip", "error", product, code)
    assert verdict == decision.verdict
    assert "flagged permanent" in decision.reason.lower()


def test_temporary_handset_failure_is_retried_but_not_looped() -> None:
    """628: retry an hour later, at most three attempts in all."""
    decision = decide("infobip", "error", "general", 628)
    assert NOW + timedelta(hours=1) == decision.retry_at
    assert "suppress" == decide("infobip", "error", "general", 628, history=History(attempts=3)).verdict


def test_push_cloud_unavailable_waits_for_the_platform() -> None:
    """8012: Infobip already retries, so we wait instead of sending a duplicate."""
    decision = decide("infobip", "error", "push", 8012)
    assert ("wait", None, NOW + timedelta(hours=1)) == (decision.verdict, decision.retry_at, decision.check_at)


@pytest.mark.parametrize(("product", "code"), [("voice_legacy", 5000), ("voice", 10001), ("voice", 10004)])
def test_answered_calls_flagged_permanent_are_done(product: str, code: int) -> None:
    """Voice OK codes are flagged permanent but mean the call happened."""
    decision = decide("infobip", "error", product, code)
    assert "done" == decision.verdict
    assert "flagged permanent" in decision.reason.lower()


@pytest.mark.parametrize(
    ("product", "code", "verdict"),
    [
        ("general", 71, "escalate"),
        ("general", 258, "suppress"),
        ("general", 608, "escalate"),
        ("general", 571, "escalate"),
        ("email", 6017, "escalate"),
        ("email", 6056, "escalate"),
        ("voice_legacy", 5404, "suppress"),
        ("voice_legacy", 5400, "escalate"),
    ],
)
def test_codes_flagged_temporary_that_cannot_succeed_are_not_retried(product: str, code: int, verdict: str) -> None:
    """Codes flagged temporary whose cause a retry cannot change are not retried, and the reason says so."""
    decision = decide("infobip", "error", product, code)
    assert verdict == decision.verdict
    assert "temporary" in decision.reason.lower()


# --- status vs error --------------------------------------------------------------------------------------------


def report(status: tuple[int, int], error: tuple[int, int], *, provider: str = "infobip",
           channel: str = "sms") -> Decision:
    """Decide a report carrying both a status (id, group) and an error (id, group)."""
    outcome = Outcome(provider=provider, channel=channel, message_id="m", recipient="+14155550100",
                      status=CodeRef(id=status[0], group_id=status[1]), error=CodeRef(id=error[0], group_id=error[1]))
    return Engine.default().evaluate(outcome, now=NOW)


def test_no_error_with_delivered_status_is_done() -> None:
    """Error 0 (NO_ERROR) defers to the status: DELIVERED_TO_HANDSET is done."""
    decision = report((5, 3), (0, 0))
    assert ("done", "infobip.delivered") == (decision.verdict, decision.rule)


def test_no_error_with_pending_status_waits() -> None:
    """Error 0 with PENDING_ENROUTE waits for the final report."""
    decision = report((7, 1), (0, 0))
    assert ("wait", "status.pending") == (decision.verdict, decision.rule)


def test_no_error_with_flooding_status_decides_by_status() -> None:
    """Error 0 with REJECTED_FLOODING_FILTER follows the status rule: wait out the hour."""
    decision = report((20, 5), (0, 0))
    assert ("retry", NOW + timedelta(hours=1)) == (decision.verdict, decision.retry_at)


def test_delivered_status_decides_over_a_stray_error() -> None:
    """A delivered status is final: a stray error (unknown subscriber) on it is noted, not acted on."""
    decision = report((5, 3), (1, 1))
    assert ("done", "infobip.delivered") == (decision.verdict, decision.rule)


def test_error_decides_over_an_undeliverable_status() -> None:
    """UNDELIVERABLE with EC_USER_OUT_OF_CREDIT follows the 581 rule, not the generic status rule."""
    decision = report((9, 2), (581, 1))
    assert ("retry", "sms.user-out-of-credit") == (decision.verdict, decision.rule)


def test_kakao_api_success_defers_to_the_send_result() -> None:
    """NHN resultCode 0 with send result 3019 falls back to SMS."""
    decision = report((3019, None), (0, None), provider="nhn_kakao", channel="kakao")  # type: ignore[arg-type]
    assert ("retry", "sms") == (decision.verdict, decision.channel)


# --- docs/default-policy.md -------------------------------------------------------------------------------------


def test_policy_doc_is_current() -> None:
    """docs/default-policy.md matches what the generator produces from the current policy and catalog."""
    script = load_doc_script()
    expected = script.render(script.coverage_rows())
    actual = (ROOT / "docs" / "default-policy.md").read_text(encoding="utf-8")
    assert expected == actual, f"docs/default-policy.md is stale; regenerate it with `{script.REGENERATE}`"


def test_policy_doc_lists_every_code() -> None:
    """The generated document has one table row per catalog entry."""
    script = load_doc_script()
    text = script.render(script.coverage_rows())
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| code ")]
    assert len(Catalog.load()) == len(rows)


def test_policy_doc_renders_from_coverage_jsonl() -> None:
    """The generator accepts `policy coverage --format jsonl` lines and renders the same document."""
    import json

    script = load_doc_script()
    rows = script.coverage_rows()
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    assert script.render(rows) == script.render(script.read_jsonl(lines))
