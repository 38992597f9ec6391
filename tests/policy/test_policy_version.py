"""Tests for policy_version: the content hash of the compiled layers that every decision carries."""

from __future__ import annotations

from pathlib import Path

from dlrpolicy import CodeRef, Engine, Outcome, PolicyStore
from dlrpolicy.policy._layers import compile_layers, default_layer, default_policy
from dlrpolicy.policy._read import Layer
from tests.conftest import NOW, SMALL_POLICY, small_layer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def test_version_is_16_hex_digits_and_on_decisions() -> None:
    """The default policy has a version, and its decisions carry it (also in to_json)."""
    version = default_policy().version
    assert 16 == len(version)
    int(version, 16)
    decision = Engine.default().evaluate(Outcome(provider="infobip", channel="sms", error=CodeRef(id=581)), now=NOW)
    assert (version, version) == (decision.policy_version, decision.to_json()["policy_version"])


def test_same_content_same_version() -> None:
    """Comments, layout and file paths do not change the version; the content decides."""
    reformatted = "# a comment\n" + SMALL_POLICY.replace(" = ", "=")
    one = compile_layers([small_layer()]).version
    other = compile_layers([small_layer(reformatted, source="elsewhere/small.toml")]).version
    assert one == other


def test_changed_rule_changes_version() -> None:
    """A changed reason (or any other field) gives another version."""
    changed = SMALL_POLICY.replace('reason = "Delivered."', 'reason = "Delivered!"')
    assert compile_layers([small_layer()]).version != compile_layers([small_layer(changed)]).version


def test_layer_name_is_part_of_the_identity() -> None:
    """The same file under another layer name is another policy (decisions report layer names)."""
    assert compile_layers([small_layer()]).version != compile_layers([small_layer(name="other")]).version


def test_tenants_have_their_own_versions() -> None:
    """Each tenant's layered policy has its own version, stable across stores."""
    bank = PolicyStore(EXAMPLES).compile("bank").version
    marketing = PolicyStore(EXAMPLES).compile("marketing").version
    assert len({bank, marketing, default_policy().version}) == 3
    assert bank == PolicyStore(EXAMPLES).get("bank").version


def test_tenant_version_follows_its_file(tmp_path: Path) -> None:
    """Editing a tenant file gives a new version; restoring it gives the old one back."""
    text = (EXAMPLES / "marketing.toml").read_text(encoding="utf-8")
    (tmp_path / "marketing.toml").write_text(text, encoding="utf-8")
    before = PolicyStore(tmp_path).compile("marketing").version
    (tmp_path / "marketing.toml").write_text(text.replace("attempts_ceiling = 2", "attempts_ceiling = 3"))
    changed = PolicyStore(tmp_path).compile("marketing").version
    (tmp_path / "marketing.toml").write_text(text, encoding="utf-8")
    assert (before, before) == (PolicyStore(EXAMPLES).compile("marketing").version,
                                PolicyStore(tmp_path).compile("marketing").version)
    assert before != changed


def test_layer_without_text_still_hashes_its_data() -> None:
    """A layer built from data alone (no text) is hashed from its data."""
    layer = default_layer()
    bare = Layer(name=layer.name, source=layer.source, data=layer.data)
    assert default_policy().version == compile_layers([bare]).version
