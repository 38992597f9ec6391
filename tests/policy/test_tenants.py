"""Tests for tenant override files: layering operations, validation, hostile ids, hot reload, sharing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dlrpolicy import CodeRef, Engine, Outcome, PolicyError, PolicyStore, TenantError, validate_tenant
from dlrpolicy.policy._reports import diff
from tests.conftest import NOW, small_layer


def _store(tmp_path: Path, **files: str) -> PolicyStore:
    """A store over ``tmp_path`` holding the given tenant files, layered on the small test policy."""
    for tenant, text in files.items():
        (tmp_path / f"{tenant}.toml").write_text(text, encoding="utf-8")
    return PolicyStore(tmp_path, base=[small_layer()], check_interval=0)


def _sms(code: int, group: int | None = None) -> Outcome:
    """An SMS outcome with error ``code``."""
    return Outcome(provider="infobip", channel="sms", error=CodeRef(id=code, group_id=group), message_id="m",
                   recipient="+1555")


def _decide(store: PolicyStore, tenant: str, outcome: Outcome) -> tuple[str, str, tuple[str, ...]]:
    """(verdict, rule, layers) for ``outcome`` under ``tenant``."""
    d = Engine(store.get(tenant)).evaluate(outcome, now=NOW)
    return d.verdict, d.rule, d.layers


def test_replace_rule_by_id(tmp_path: Path) -> None:
    """A [[rule]] with an existing id replaces it wholesale; layers name only the tenant."""
    store = _store(tmp_path, acme='[[rule]]\nid = "out-of-credit"\nmatch = { provider = "infobip", kind = "error", '
                   'product = "general", id = 581 }\nverdict = "suppress"\nreason = "We do not chase credit."\n')
    assert ("suppress", "out-of-credit", ("tenant:acme",)) == _decide(store, "acme", _sms(581))


def test_patch_changes_named_fields_only(tmp_path: Path) -> None:
    """[[patch]] keeps the rule's match and reason and changes only the named fields."""
    store = _store(tmp_path, acme='[[patch]]\nid = "out-of-credit"\ngive_up_after = "2d"\n')
    decision = Engine(store.get("acme")).evaluate(_sms(581), now=NOW)
    assert ("retry", ("small", "tenant:acme")) == (decision.verdict, decision.layers)
    assert "Every 24h" in decision.reason
    assert 2 == (decision.give_up_at - NOW).days  # type: ignore[operator]


def test_disable_removes_rule(tmp_path: Path) -> None:
    """disable drops a rule so the next most specific one decides."""
    store = _store(tmp_path, acme='disable = ["handset-permanent"]\n')
    assert ("retry", "handset") == _decide(store, "acme", _sms(1, 1))[:2]


def test_new_rule_added(tmp_path: Path) -> None:
    """A new id adds a rule."""
    store = _store(tmp_path, acme='[[rule]]\nid = "acme.absent"\nmatch = { provider = "infobip", kind = "error", '
                   'product = "general", id = 27 }\nverdict = "escalate"\nescalate = { route = "acme-noc" }\n'
                   'reason = "Our NOC looks at absent subscribers."\n')
    assert ("escalate", "acme.absent", ("tenant:acme",)) == _decide(store, "acme", _sms(27, 1))


def test_defaults_and_windows_override_key_by_key(tmp_path: Path) -> None:
    """[defaults] and [windows.*] keys override one by one."""
    store = _store(tmp_path, acme='[defaults]\nmax_attempts = 2\n\n[windows.seoul_day]\ndaily = ["09:00-18:00"]\n')
    policy = store.get("acme")
    window = policy.spec.windows["seoul_day"]
    assert (2, "Asia/Seoul") == (policy.spec.defaults.max_attempts, window.zone.key)
    assert ((540, 1080),) == window.ranges[0]


def test_other_tenants_unaffected(tmp_path: Path) -> None:
    """One tenant's file never changes another's decisions."""
    store = _store(tmp_path, acme='disable = ["handset-permanent"]\n', beta='[defaults]\nmax_attempts = 9\n')
    assert "handset-permanent" == _decide(store, "beta", _sms(1, 1))[1]


def test_tenant_without_file_is_an_error(tmp_path: Path) -> None:
    """A tenant with no file (a typo, say) is a TenantError naming the known tenants and the opt-in."""
    store = _store(tmp_path, bank="[defaults]\nmax_attempts = 2\n")
    with pytest.raises(TenantError, match="unknown tenant") as info:
        store.get("bnak")
    assert "tenants with a file: bank" in str(info.value)
    assert "default_for_unknown=True" in str(info.value)


def test_tenant_without_file_gets_the_default_when_opted_in(tmp_path: Path) -> None:
    """default_for_unknown=True gives tenants without a file the base policy."""
    store = PolicyStore(tmp_path, base=[small_layer()], check_interval=0, default_for_unknown=True)
    assert store.get("nobody") is store.default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[patch]]\nid = "no-such-rule"\nverdict = "done"\n', ("no-such-rule", "id")),
        ('disable = ["ghost"]\n', ("ghost", "disable")),
        ('[[patch]]\nid = "out-of-credit"\ncolour = "red"\n', ("out-of-credit", "colour")),
        ('[defaults]\nmax_attemps = 3\n', (None, "defaults.max_attemps")),
        ('[defaults]\ntimezone = "Atlantis/Capital"\n', (None, "defaults.timezone")),
        ('[[patch]]\nid = "out-of-credit"\nevery = "daily"\n', ("out-of-credit", "every")),
        ('[[rule]]\nid = "t.typo"\nmatch = { provider = "infobip", name = "EC_ABSENT_SUBSCRIBR" }\nverdict = "done"\n'
         'reason = "x"\n', ("t.typo", "match")),
        ('[[rule]]\nid = "t.clash"\nmatch = { provider = "infobip", kind = "error", product = "general", id = 581 }\n'
         'verdict = "done"\nreason = "x"\n', ("t.clash", "match")),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, expected: tuple[str | None, str]) -> None:
    """Unknown ids, unknown keys, bad durations and zones, dead matches and conflicts are errors naming the file."""
    store = _store(tmp_path, acme=text)
    with pytest.raises(PolicyError) as info:
        store.compile("acme")
    problems = info.value.problems
    assert expected in [(p.rule, p.field) for p in problems]
    assert any(p.file.endswith("acme.toml") for p in problems)


def test_all_errors_of_a_file_with_lines(tmp_path: Path) -> None:
    """Every problem in a file is reported at once, each with its line."""
    text = 'disable = ["ghost"]\n\n[[patch]]\nid = "out-of-credit"\nevery = "daily"\n\n[[patch]]\nid = "nope"\n'
    store = _store(tmp_path, acme=text)
    with pytest.raises(PolicyError) as info:
        store.compile("acme")
    assert {("ghost", 1), ("out-of-credit", 4), ("nope", 8)} == {(p.rule, p.line) for p in info.value.problems}


@pytest.mark.parametrize(
    "tenant", ["../x", "/etc/passwd", "a\x00b", "", "Acme", "a" * 65, "-lead", "x/y", "..", "a b", "ü", None, 7],
)
def test_hostile_tenant_ids_rejected_before_touching_files(tmp_path: Path, tenant: object) -> None:
    """Unsafe ids raise TenantError and never become paths."""
    store = _store(tmp_path)
    with pytest.raises(TenantError, match="tenant id"):
        store.get(tenant)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        validate_tenant(tenant)


def test_hot_reload_good_broken_fixed(tmp_path: Path) -> None:
    """A good file compiles; a broken edit keeps the last good policy and records the error; a fix applies."""
    path = tmp_path / "acme.toml"
    store = _store(tmp_path, acme='[defaults]\nmax_attempts = 2\n')
    good = store.get("acme")
    assert 2 == good.spec.defaults.max_attempts
    path.write_text('[defaults]\nmax_attempts = "two"\n', encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert good is store.get("acme")
    assert "acme" in store.errors
    path.write_text('[defaults]\nmax_attempts = 3\n', encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert 3 == store.get("acme").spec.defaults.max_attempts
    assert "acme" not in store.errors


def test_first_load_of_broken_file_raises(tmp_path: Path) -> None:
    """With no good policy yet, a broken file raises instead of silently using the default."""
    store = _store(tmp_path, acme='[defaults]\nmax_attempts = "two"\n')
    with pytest.raises(PolicyError):
        store.get("acme")


def test_reload_is_thread_safe(tmp_path: Path) -> None:
    """Readers racing a reload only ever see a complete old or new policy."""
    path = tmp_path / "acme.toml"
    store = _store(tmp_path, acme='[defaults]\nmax_attempts = 2\n')
    seen: set[int] = set()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(200):
                seen.add(store.get("acme").spec.defaults.max_attempts)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    # Replace atomically, as the README asks: a half-written file would be a different, valid policy.
    staged = tmp_path / "acme.toml.tmp"
    staged.write_text('[defaults]\nmax_attempts = 3\n', encoding="utf-8")
    os.utime(staged, ns=(5, 5))
    os.replace(staged, path)
    for thread in threads:
        thread.join()
    assert [] == errors
    assert seen <= {2, 3}
    assert 3 == store.get("acme").spec.defaults.max_attempts


def test_tenants_share_unchanged_compiled_parts(tmp_path: Path) -> None:
    """Codes the tenant does not touch reuse the default's compiled candidates (same objects)."""
    store = _store(tmp_path, acme='[[patch]]\nid = "out-of-credit"\ngive_up_after = "2d"\n')
    base, tenant = store.default, store.get("acme")
    entry = base.catalog.lookup("infobip", "error", "general", 27, group_id=1)
    touched = base.catalog.lookup("infobip", "error", "general", 581)
    assert base.candidate(entry) is tenant.candidate(entry)
    assert base.candidate(touched) is not tenant.candidate(touched)


def test_diff_lists_changed_codes(tmp_path: Path) -> None:
    """diff reports exactly the codes whose decision changed, with both rule ids."""
    store = _store(tmp_path, acme='disable = ["handset-permanent"]\n')
    rows = list(diff(store.default, store.get("acme")))
    assert rows
    assert {("handset-permanent", "handset")} == {(d.before.rule, d.after.rule) for d in rows}


def test_for_tenant_without_directory_is_a_clear_error() -> None:
    """Engine.for_tenant without a policy directory says how to configure one."""
    with pytest.raises(TenantError, match="policy_dir"):
        Engine.default().for_tenant("acme")


def test_check_interval_limits_file_checks(tmp_path: Path) -> None:
    """Within check_interval the cached policy is returned without looking at the file."""
    (tmp_path / "acme.toml").write_text("[defaults]\nmax_attempts = 2\n", encoding="utf-8")
    store = PolicyStore(tmp_path, base=[small_layer()], check_interval=3600)
    first = store.get("acme")
    (tmp_path / "acme.toml").write_text("[defaults]\nmax_attempts = 3\n", encoding="utf-8")
    assert first is store.get("acme")


def test_negative_check_interval_rejected(tmp_path: Path) -> None:
    """A negative interval is a usage error."""
    with pytest.raises(ValueError, match="check_interval"):
        PolicyStore(tmp_path, check_interval=-1)
