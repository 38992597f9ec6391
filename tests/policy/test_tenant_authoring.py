"""Tenant authoring as a bank's engineer tries it: typo'd tenants are errors (unless opted into the default),
`override = true` lets a broad tenant rule outrank the default's specific ones, lint says what each tenant rule
decides, silent no-ops and typos are lint errors, the README's example lints clean, and decisions name the layers
whose [defaults] shaped them."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dlrpolicy import CodeRef, Engine, Outcome, PolicyError, TenantError
from dlrpolicy.cli._main import main
from dlrpolicy.policy._reports import rule_reports
from tests.strategies import outcome_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "policies"
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
KAKAO_TO_SMS = ('[[rule]]\nid = "alerts.kakao-to-sms"\nmatch = { provider = "nhn_kakao", kind = "delivery", '
                'success = false }\nOVERRIDEverdict = "retry"\nchannel = "sms"\n'
                'reason = "Every KakaoTalk delivery failure goes out by SMS."\n')


def kakao_rule(override: str = "", rule_id: str = "alerts.kakao-to-sms") -> str:
    """The tenant rule "every KakaoTalk delivery failure goes out by SMS", with ``override`` lines."""
    return KAKAO_TO_SMS.replace("OVERRIDE", override).replace("alerts.kakao-to-sms", rule_id)
Cap = pytest.CaptureFixture[str]


def _dir(tmp_path: Path, **files: str) -> Path:
    """``tmp_path`` holding the given tenant files."""
    for tenant, text in files.items():
        (tmp_path / f"{tenant}.toml").write_text(text, encoding="utf-8")
    return tmp_path


def _run(capsys: Cap, *argv: str, stdin: bytes | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    """Run the CLI in process; (exit status, stdout, stderr)."""
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- unknown tenants ---------------------------------------------------------------------------------------------

def test_typo_tenant_is_an_error_everywhere_in_the_library() -> None:
    """Engine.for_tenant("bnak") names the tenants that exist; without a policy directory every tenant errors."""
    with pytest.raises(TenantError, match="tenants with a file: bank, marketing"):
        Engine.default(policy_dir=EXAMPLES).for_tenant("bnak")
    with pytest.raises(TenantError, match="no policy directory"):
        Engine.default().for_tenant("bank")


def test_default_for_unknown_tenants_is_an_explicit_opt_in() -> None:
    """default_for_unknown=True gives tenants without a file the default policy (with or without a directory)."""
    engine = Engine.default(policy_dir=EXAMPLES, default_for_unknown=True)
    assert engine.policy is engine.for_tenant("bnak").policy
    assert "tenant:bank" in engine.for_tenant("bank").policy.spec.layers
    plain = Engine.default(default_for_unknown=True)
    assert plain.policy is plain.for_tenant("anyone").policy


def test_evaluate_with_a_typo_tenant_fails(capsys: Cap, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evaluate --tenant bnak` is a usage error, exit 2 (it used to exit 0 with the default); the flag opts in."""
    report = json.dumps({"results": [{"messageId": "m", "status": {"groupId": 3, "id": 5}}]}).encode()
    status, out, err = _run(capsys, "evaluate", "--tenant", "bnak", "--policy-dir", str(EXAMPLES), stdin=report,
                            monkeypatch=monkeypatch)
    assert (2, "") == (status, out)
    assert "unknown tenant" in err
    status, out, _ = _run(capsys, "evaluate", "--tenant", "bnak", "--policy-dir", str(EXAMPLES),
                          "--default-for-unknown-tenants", stdin=report, monkeypatch=monkeypatch)
    assert (0, "done") == (status, json.loads(out)["verdict"])


@pytest.mark.parametrize("with_dir", [True, False])
def test_unknown_envelope_tenant_is_a_record_error(capsys: Cap, monkeypatch: pytest.MonkeyPatch,
                                                   with_dir: bool) -> None:
    """An envelope tenant without a file (or with no --policy-dir at all) is an error for its record only."""
    report = {"results": [{"messageId": "m", "status": {"groupId": 3, "id": 5}}]}
    data = (json.dumps({"report": report, "tenant": "bnak"}) + "\n" + json.dumps(report) + "\n").encode()
    args = ["--policy-dir", str(EXAMPLES)] if with_dir else []
    status, out, _ = _run(capsys, "evaluate", *args, stdin=data, monkeypatch=monkeypatch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert (1, ["$.tenant", "done"]) == (status, [line.get("verdict") or line["error"]["path"] for line in lines])
    status, out, _ = _run(capsys, "evaluate", *args, "--default-for-unknown-tenants", stdin=data,
                          monkeypatch=monkeypatch)
    assert 0 == status


# --- precedence: override = true ---------------------------------------------------------------------------------

def _kakao_failures(engine: Engine) -> list[Any]:
    return [e for e in engine.catalog if e.provider == "nhn_kakao" and e.kind == "delivery" and not e.success]


@pytest.mark.parametrize(("override", "on_sms"), [(False, 44), (True, 104)])
def test_override_lets_a_broad_tenant_rule_win(tmp_path: Path, override: bool, on_sms: int) -> None:
    """"All KakaoTalk failures go to SMS" in one rule: without override 60 of the 104 stay on KakaoTalk (more
    specific default rules win); with override = true all 104 go to SMS."""
    text = kakao_rule("override = true\n" if override else "")
    engine = Engine.default(policy_dir=_dir(tmp_path, alerts=text)).for_tenant("alerts")
    failures = _kakao_failures(engine)
    channels = [engine.evaluate(outcome_for(e, message_id="m", recipient="01012345678"), now=NOW).channel
                for e in failures]
    assert (104, on_sms) == (len(failures), channels.count("sms"))


def test_override_does_not_touch_other_codes(tmp_path: Path) -> None:
    """Delivered KakaoTalk reports stay done under the override rule: it only matches what it says."""
    text = kakao_rule("override = true\n")
    engine = Engine.default(policy_dir=_dir(tmp_path, alerts=text)).for_tenant("alerts")
    delivered = Outcome(provider="nhn_kakao", channel="kakao", status=CodeRef(id=1000), message_id="m")
    assert "done" == engine.evaluate(delivered, now=NOW).verdict


def test_lint_says_what_each_tenant_rule_decides(tmp_path: Path, capsys: Cap) -> None:
    """lint lists, per tenant rule, the codes it decides and the rules it displaced or lost to."""
    folder = _dir(tmp_path, broad=kakao_rule(""), strong=kakao_rule("override = true\n"))
    status, out, _ = _run(capsys, "policy", "lint", "--tenant", "broad", "--policy-dir", str(folder))
    assert 0 == status
    assert re.search(r"rule alerts.kakao-to-sms: decides 33 codes; displaces .*; loses 71 codes to .*add "
                     r"override = true", out)
    status, out, _ = _run(capsys, "policy", "lint", "--tenant", "strong", "--policy-dir", str(folder))
    assert re.search(r"rule alerts.kakao-to-sms \(override\): decides 104 codes; displaces kakao\.", out)
    assert "loses" not in out.split("alerts.kakao-to-sms")[1]
    _, out, _ = _run(capsys, "policy", "coverage", "--tenant", "strong", "--policy-dir", str(folder))
    assert "decides 104 codes" in out.splitlines()[-1]


def test_rule_reports_count_codes(tmp_path: Path) -> None:
    """rule_reports: decides + lost codes cover every code the rule matches."""
    engine = Engine.default(policy_dir=_dir(tmp_path, broad=kakao_rule(""))).for_tenant("broad")
    (report,) = rule_reports(engine.policy)
    assert (33, 71) == (report.decides, sum(n for _, n in report.lost_to))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (kakao_rule('override = "yes"\n'), "not true or false"),
        ('[[patch]]\nid = "sms.handset-transient"\noverride = true\n', "write the rule as a [[rule]]"),
        (kakao_rule("override = true\n") + kakao_rule("override = true\n", "alerts.again"), "equal specificity"),
    ],
)
def test_override_mistakes(tmp_path: Path, text: str, needle: str) -> None:
    """override must be true/false, is refused in patches, and two equal overrides conflict."""
    with pytest.raises(PolicyError, match=re.escape(needle)):
        Engine.default(policy_dir=_dir(tmp_path, acme=text)).for_tenant("acme")


def test_override_in_the_base_policy_is_refused(tmp_path: Path) -> None:
    """A base policy has no layer below it: override there is a mistake."""
    text = (ROOT / "policies" / "default.toml").read_text(encoding="utf-8").replace(
        'id = "sms.handset-transient"\n', 'id = "sms.handset-transient"\noverride = true\n')
    (tmp_path / "base.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="no layer below it"):
        Engine.load([tmp_path / "base.toml"])


# --- silent no-ops and typos --------------------------------------------------------------------------------------

def test_patching_a_channel_onto_an_escalate_rule_is_an_error(tmp_path: Path) -> None:
    """[[patch]] channel = "sms" on an escalate rule would do nothing: an error saying to set verdict too."""
    text = '[[patch]]\nid = "kakao.api-content-invalid"\nchannel = "sms"\n'
    with pytest.raises(PolicyError, match='also set verdict = "retry"') as info:
        Engine.default(policy_dir=_dir(tmp_path, acme=text)).for_tenant("acme")
    assert [("kakao.api-content-invalid", "channel", 2)] == [(p.rule, p.field, p.line) for p in info.value.problems]


def test_unknown_route_is_an_error_listing_the_routes(tmp_path: Path) -> None:
    """routes = { biling = ... } names a route nothing escalates to: an error listing the valid names."""
    text = '[defaults]\nroutes = { biling = "bank-finance" }\n'
    with pytest.raises(PolicyError) as info:
        Engine.default(policy_dir=_dir(tmp_path, acme=text)).for_tenant("acme")
    (problem,) = info.value.problems
    assert ("acme.toml", 2, "defaults.routes.biling") == (Path(problem.file).name, problem.line, problem.field)
    assert "billing, compliance, content, credentials, deliverability, provisioning, support" in problem.fix


def test_readme_lists_every_route_the_default_policy_uses() -> None:
    """The README's Tenants section names each escalation route of the default policy."""
    engine = Engine.default()
    routes = {r.body.escalate.route for r in engine.policy.rules if r.body.escalate is not None}
    tenants = (ROOT / "README.md").read_text(encoding="utf-8").split("## Tenants")[1].split("\n## ")[0]
    assert {r for r in routes if f"`{r}`" in tenants} == routes


def test_misplaced_top_level_key_says_to_move_it(tmp_path: Path) -> None:
    """disable written after a [[patch]] becomes a field of that patch: the message says to move it up."""
    text = ('[[patch]]\nid = "sms.handset-transient"\nwindow = "kakao_friendtalk"\n\n'
            'disable = ["sms.duplicate-message"]\n')
    with pytest.raises(PolicyError, match=r"move `disable = \.\.\.` above the first \[table\]"):
        Engine.default(policy_dir=_dir(tmp_path, acme=text)).for_tenant("acme")


def test_a_patchs_unknown_key_is_one_problem_at_its_own_line(tmp_path: Path) -> None:
    """A key that does not belong in a [[patch]] is reported once, at the key's line (it was reported again as
    part of the merged [[rule]], both times at the id line)."""
    text = ('[[patch]]\nid = "sms.handset-transient"\nwindow = "kakao_friendtalk"\n\n'
            'disable = ["sms.duplicate-message"]\n')
    with pytest.raises(PolicyError) as caught:
        Engine.default(policy_dir=_dir(tmp_path, acme=text)).for_tenant("acme")
    assert [(5, "disable")] == [(p.line, p.field) for p in caught.value.problems]


def test_readme_tenant_example_lints_clean(tmp_path: Path, capsys: Cap) -> None:
    """The TOML example in README's Tenants section is a valid tenant file."""
    tenants = (ROOT / "README.md").read_text(encoding="utf-8").split("## Tenants")[1]
    example = tenants.split("```toml\n")[1].split("```")[0]
    folder = _dir(tmp_path, bank=example)
    status, out, err = _run(capsys, "policy", "lint", "--tenant", "bank", "--policy-dir", str(folder))
    assert (0, "") == (status, err)
    assert "tenant bank: valid" in out
    # Default rules its override rule displaces are reported as displaced, not blamed on "a more specific rule".
    assert [] == [line for line in out.splitlines() if line.startswith("warning:")]
    assert "displaces kakao.content-error" in out


def test_a_tenant_rule_that_never_decides_says_what_beats_it(tmp_path: Path, capsys: Cap) -> None:
    """A tenant rule every code of which a more specific default rule decides is a warning naming the winners."""
    text = ('[[rule]]\nid = "shop.absent"\nmatch = { provider = "infobip", kind = "error", product = "general", '
            'group_id = 1 }\nverdict = "retry"\nafter = "1h"\nreason = "r"\n')
    folder = _dir(tmp_path, shop=text)
    status, out, _ = _run(capsys, "policy", "lint", "--tenant", "shop", "--policy-dir", str(folder))
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert 0 == status
    assert any("'shop.absent' matches codes but never decides one: more specific rules win (" in w for w in warnings)


# --- layers shaped by a tenant's [defaults] ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tenant", "outcome"),
    [
        ("bank", Outcome(provider="infobip", channel="sms", error=CodeRef(id=27, group_id=1), message_id="m")),
        ("bank", Outcome(provider="nhn_kakao", channel="kakao", error=CodeRef(id=-1000), message_id="m")),
        ("marketing", Outcome(provider="infobip", channel="sms", error=CodeRef(id=27, group_id=1), message_id="m")),
    ],
    ids=["window", "routes", "ceiling-and-same-day"],
)
def test_decisions_name_the_layer_whose_defaults_shaped_them(tenant: str, outcome: Outcome) -> None:
    """A default rule the tenant never names, changed by the tenant's [defaults], lists the tenant's layer."""
    decision = Engine.default(policy_dir=EXAMPLES).for_tenant(tenant).evaluate(outcome, now=NOW)
    assert ("default", f"tenant:{tenant}") == decision.layers


def test_unshaped_decisions_keep_only_their_layers() -> None:
    """A decision the tenant's [defaults] did not change names only the default layer."""
    delivered = Outcome(provider="infobip", channel="sms", status=CodeRef(id=5, group_id=3), message_id="m")
    assert ("default",) == Engine.default(policy_dir=EXAMPLES).for_tenant("bank").evaluate(delivered, now=NOW).layers


def test_explain_names_the_override(tmp_path: Path) -> None:
    """explain says the tenant rule decides because of override = true, and the default rules lost to it."""
    engine = Engine.default(policy_dir=_dir(tmp_path, alerts=kakao_rule("override = true\n"))).for_tenant("alerts")
    outcome = Outcome(provider="nhn_kakao", channel="kakao", status=CodeRef(id=3018), message_id="m")
    notes = [m.note for m in engine.explain(outcome, now=NOW).matches]
    assert "decides: override = true outranks the layers below" == notes[0]
    assert {"outranked by a tenant rule with override = true"} == set(notes[1:])


def test_readme_precedence_figures_are_current(tmp_path: Path, capsys: Cap) -> None:
    """The README's counts for a broad tenant rule without override (codes decided and lost) are lint's."""
    text = ('[[rule]]\nid = "bank.broad-fallback"\nmatch = { provider = "nhn_kakao", kind = "delivery", '
            'success = false }\nverdict = "retry"\nchannel = "sms"\nreason = "r"\n')
    _, out, _ = _run(capsys, "policy", "lint", "--tenant", "bank", "--policy-dir", str(_dir(tmp_path, bank=text)))
    found = re.search(r"decides (\d+) codes; displaces kakao.content-error \((\d+)\); loses (\d+) codes", out)
    assert found is not None, out
    decided, _, lost = found.groups()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"decides only {decided} of the 104 delivery failure codes and loses the other {lost}" in readme
    assert f"rule bank.broad-fallback: decides {decided} codes;" in readme
