"""Tests for the catalog: completeness against the source documents, identity, validation, queries."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from dlrpolicy import AmbiguousCodeError, Catalog, CatalogError, CodeNotFoundError
from dlrpolicy.model._vocabulary import VOCABULARY
from dlrpolicy.policy._catalog import lookup_chain
from tests.strategies import catalog_entries

# Rows per source table, counted in the two documents (../shared/seeds/).
EXPECTED_ROWS = {
    ("infobip", "status", "general"): 34,
    ("infobip", "status", "voice"): 15,
    ("infobip", "status", "mms"): 2,
    ("infobip", "status", "email"): 4,
    ("infobip", "status", "push"): 2,
    ("infobip", "status", "moments"): 1,
    ("infobip", "error", "general"): 142,
    ("infobip", "error", "voice_legacy"): 24,
    ("infobip", "error", "voice"): 31,
    ("infobip", "error", "push"): 13,
    ("infobip", "error", "mms"): 30,
    ("infobip", "error", "email"): 48,
    ("infobip", "error", "chat"): 43,
    ("infobip", "error", "mobile_identity"): 18,
    ("infobip", "error", "dlt"): 51,
    ("infobip", "error", "live_chat"): 28,
    ("infobip", "error", "moments"): 6,
    ("infobip", "error", "people"): 32,
    ("nhn_kakao", "api", "bizmessage"): 226,
    ("nhn_kakao", "delivery", "bizmessage"): 105,
}

# Rows added after the two documents, each with its own source: Infobip's HTTP statuses (the seed lists 200, 401
# and 404 in prose, not as a code table) and the NHN API codes published after the seed.
ADDED_ROWS = {
    ("infobip", "http", "api"): {200, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504},
    ("nhn_kakao", "api", "bizmessage"): {-3347, -3348, -3349, -4105},
}

CATALOG = Catalog.load()
DOCUMENTED = [e for e in CATALOG if "(seed " in e.source and e.kind != "http"]


def _table(provider: str, kind: str, product: str) -> dict[str, object]:
    """A minimal valid table with one entry, for loader tests."""
    return {
        "provider": provider,
        "kind": kind,
        "product": product,
        "source": "A test table",
        "code": [{"id": 1, "name": "X_ONE", "summary": "One."}],
    }


def test_per_table_counts_match_the_documents() -> None:
    """Every table holds exactly the rows its source table has, each naming the seed document as its source."""
    actual = Counter((e.provider, e.kind, e.product) for e in DOCUMENTED)
    assert EXPECTED_ROWS == dict(actual)


def test_totals() -> None:
    """855 documented codes (524 Infobip rows, 226 NHN API codes, 105 NHN send-result codes) and 15 added ones."""
    by_provider = Counter(e.provider for e in DOCUMENTED)
    assert (855, 524, 331) == (len(DOCUMENTED), by_provider["infobip"], by_provider["nhn_kakao"])
    assert 855 + 15 == len(CATALOG)


def test_added_rows_carry_their_own_source() -> None:
    """Every row beyond the documents is one of the known additions and names where its facts come from."""
    added = [e for e in CATALOG if e not in DOCUMENTED]
    by_table: dict[tuple[str, str, str], set[int]] = {}
    for entry in added:
        by_table.setdefault((entry.provider, entry.kind, entry.product), set()).add(entry.id)
    assert ADDED_ROWS == by_table
    assert all(e.source.strip() for e in added)
    nhn_new = [e for e in added if e.provider == "nhn_kakao"]
    assert all("after the seed document" in e.source for e in nhn_new)


def test_every_entry_carries_a_source() -> None:
    """`source` is set on every row, and the JSON form shows it."""
    assert all(e.source for e in CATALOG)
    assert CATALOG.entries[0].source == CATALOG.entries[0].to_json()["source"]


def test_vocabulary_covers_every_table() -> None:
    """Every (provider, kind, product) of the vocabulary has a table, and nothing else does."""
    declared = {(p, k, x) for p, kinds in VOCABULARY.items() for k, xs in kinds.items() for x in xs}
    assert declared == set(EXPECTED_ROWS) | set(ADDED_ROWS)


def test_status_87_in_group_4_and_5_are_different_entries() -> None:
    """Status 87 resolves by group: EXPIRED (charged) in 4, REJECTED (not charged) in 5."""
    g4 = CATALOG.lookup("infobip", "status", "general", 87, group_id=4)
    g5 = CATALOG.lookup("infobip", "status", "general", 87, group_id=5)
    assert ("EXPIRED", True, "REJECTED", False) == (g4.group_name, g4.hints.charged, g5.group_name, g5.hints.charged)


def test_voice_status_87_is_its_own_code() -> None:
    """Voice status 87 is REJECTED_INVALID_DELIVERY_TIME_WINDOW, unrelated to SIGNALS_BLOCKED."""
    assert "REJECTED_INVALID_DELIVERY_TIME_WINDOW" == CATALOG.lookup("infobip", "status", "voice", 87).name


def test_ambiguous_id_lists_candidates() -> None:
    """Looking up status 87 without a group raises an error listing both candidates."""
    with pytest.raises(AmbiguousCodeError) as info:
        CATALOG.lookup("infobip", "status", "general", 87)
    assert 2 == len(info.value.candidates)
    assert "--group" in str(info.value)


def test_error_4102_under_groups_2_and_3() -> None:
    """Error 4102 appears under USER_ERRORS and OPERATOR_ERRORS."""
    groups = {CATALOG.lookup("infobip", "error", "general", 4102, group_id=g).group_name for g in (2, 3)}
    assert {"USER_ERRORS", "OPERATOR_ERRORS"} == groups


def test_people_40404_twice_under_two_names() -> None:
    """People API 40404 exists twice; the name disambiguates."""
    names = {e.name for e in CATALOG.candidates("infobip", "error", "people", 40404)}
    entry = CATALOG.lookup("infobip", "error", "people", 40404, name="CUSTOM_ATTRIBUTE_DOES_NOT_EXIST")
    assert ({"ADDITIONAL_FIELD_DOES_NOT_EXIST", "CUSTOM_ATTRIBUTE_DOES_NOT_EXIST"}, 404) == (
        names,
        entry.hints.http_status,
    )


def test_nhn_api_and_delivery_3018_are_unrelated() -> None:
    """NHN API -3018 and send-result 3018 are different entries in different tables."""
    api = CATALOG.lookup("nhn_kakao", "api", "bizmessage", -3018)
    delivery = CATALOG.lookup("nhn_kakao", "delivery", "bizmessage", 3018)
    assert api.name != delivery.name
    assert ("template", None) == (api.group_name, delivery.group_name)


def test_translation_artefacts_repaired() -> None:
    """Ids written with a trailing 年 are integers; Japanese names got their English form back."""
    assert "REJECTED_INVALID_NOTIFY_URL" == CATALOG.lookup("infobip", "status", "voice", 56).name
    assert "EC_URL_ATTACHMENT_TOO_LARGE" == CATALOG.lookup("infobip", "error", "mms", 15022).name
    assert "EC_TIME_OUT" == CATALOG.lookup("infobip", "error", "general", 2048).name
    assert "INSUFFICIENT_FUNDS" == CATALOG.lookup("infobip", "error", "voice", 10301).name


def test_nhn_names_derived() -> None:
    """NHN codes got stable UPPER_SNAKE names from their message or meaning."""
    assert "INVALID_APPKEY" == CATALOG.lookup("nhn_kakao", "api", "bizmessage", -1000).name
    assert "NOT_KAKAOTALK_USER" == CATALOG.lookup("nhn_kakao", "delivery", "bizmessage", 3019).name


def test_every_entry_has_summary_and_valid_name() -> None:
    """Summaries are non-empty English; names are ASCII UPPER_SNAKE."""
    bad = [e.label for e in CATALOG if not e.summary.strip() or not re.fullmatch(r"[A-Z][A-Z0-9_]*", e.name)]
    assert [] == bad


def test_names_unique_within_nhn_and_live_chat_tables() -> None:
    """Derived names do not collide within their table."""
    for product in ("bizmessage", "live_chat"):
        for kind in ("api", "delivery", "error"):
            names = [e.name for e in CATALOG if e.product == product and e.kind == kind]
            assert len(names) == len(set(names))


def test_success_flags() -> None:
    """Only DELIVERED statuses, OK-group errors, HTTP 200 and NHN 0/1000 mean success."""
    success = {(e.provider, e.kind, e.group_name if e.provider == "infobip" and e.kind != "http" else e.id)
               for e in CATALOG if e.success}
    assert {
        ("infobip", "status", "DELIVERED"),
        ("infobip", "error", "OK"),
        ("infobip", "http", 200),
        ("nhn_kakao", "api", 0),
        ("nhn_kakao", "delivery", 1000),
    } == success


def test_permanent_column_only_where_documented() -> None:
    """Tables without a permanent column have permanent None; 5000 is flagged permanent as documented."""
    assert all(e.permanent is None for e in CATALOG if e.product in ("dlt", "mobile_identity", "bizmessage"))
    assert CATALOG.lookup("infobip", "error", "voice_legacy", 5000).permanent is True


def test_documented_hints() -> None:
    """The documented timing and handling facts are structured hints with the right values."""
    h = lambda kind, product, code, **kw: CATALOG.lookup("infobip", kind, product, code, **kw).hints  # noqa: E731
    n = lambda kind, code: CATALOG.lookup("nhn_kakao", kind, "bizmessage", code).hints  # noqa: E731
    assert ("24h", "7d") == (h("error", "general", 581).retry_every, h("error", "general", 581).retry_for)
    assert "next_day" == h("error", "general", 542).not_before
    email = h("error", "email", 6016)
    assert ("24h", "sender_domain") == (email.cooling_off, email.cooling_off_scope)
    for kind, code in (("status", 20), ("error", 4103), ("error", 4104)):
        hints = h(kind, "general", code)
        assert (6, 20) == (hints.flood_identical_per_hour, hints.flood_different_per_hour)
    assert "48h" == h("status", "general", 15).validity
    assert ("08:00-20:50", "Asia/Seoul") == (n("delivery", 3022).send_window, n("delivery", 3022).send_window_tz)
    dlt = h("error", "dlt", 4138)
    assert ("10:00-21:00", "Asia/Kolkata") == (dlt.send_window, dlt.send_window_tz)
    assert "10m" == n("api", -1005).idempotency_window
    assert (True, "3d") == (n("delivery", 3005).success_uncertain, n("delivery", 3005).receivable_within)
    assert {-3010, -3011, -3042, -3043, -3046} <= {e.id for e in CATALOG if e.kind == "api" and e.hints.sms_resend}
    assert h("error", "push", 8012).provider_retries is True
    assert h("error", "general", 573).until_opt_in is True
    assert h("error", "general", 603).until_opt_in is True
    assert h("error", "general", 3041).never_resend is True
    assert h("error", "email", 6050).daily_limit is True
    assert h("error", "email", 6051).daily_limit is True
    assert "callback" == h("error", "mobile_identity", 305).response_type
    assert "sync" == h("error", "mobile_identity", 100).response_type
    assert 429 == h("error", "people", 42901).http_status


@given(catalog_entries)
def test_entry_round_trips_through_jsonl(entry: object) -> None:
    """A random entry's jsonl line parses back to the same fields."""
    from dlrpolicy import CodeEntry

    assert isinstance(entry, CodeEntry)
    line = json.dumps(entry.to_json(), ensure_ascii=False)
    data = json.loads(line)
    again = CATALOG.lookup(data["provider"], data["kind"], data["product"], data["id"], data["group_id"], data["name"])
    assert entry == again
    assert entry.hints.to_json() == data["hints"]


def test_lookup_missing_code_names_it() -> None:
    """A missing code raises CodeNotFoundError naming the identity."""
    with pytest.raises(CodeNotFoundError, match="infobip error general 999999"):
        CATALOG.lookup("infobip", "error", "general", 999999)


def test_search_and_filter() -> None:
    """search finds by name and summary; filter narrows by table."""
    assert any(e.id == 581 for e in CATALOG.search("out_of_credit"))
    assert 51 == len(CATALOG.filter(provider="infobip", kind="error", product="dlt"))


def test_lookup_chain_falls_back_to_general() -> None:
    """Product tables fall back to the shared table; voice also to the deprecated table."""
    assert ("email", "general") == lookup_chain("infobip", "status", "email")
    assert ("voice", "voice_legacy", "general") == lookup_chain("infobip", "error", "voice")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.update(provider="twilio"), "provider"),
        (lambda t: t.update(kind="status"), "kind"),
        (lambda t: t["code"][0].update(id="1"), "id"),
        (lambda t: t["code"][0].update(id=True), "id"),
        (lambda t: t["code"][0].update(name="拒否_URL"), "name"),
        (lambda t: t["code"][0].update(summary=""), "summary"),
        (lambda t: t["code"][0].update(permanent="真"), "permanent"),
        (lambda t: t["code"][0].update(colour="red"), "colour"),
        (lambda t: t["code"][0].update(hints={"retry_every": "soon"}), "hints.retry_every"),
        (lambda t: t["code"][0].update(hints={"wobble": True}), "hints.wobble"),
    ],
)
def test_loader_errors_name_file_entry_and_field(mutate: object, field: str) -> None:
    """Corrupt data raises CatalogError naming the file, the entry and the field."""
    table = _table("nhn_kakao", "api", "bizmessage")
    mutate(table)  # type: ignore[operator]
    with pytest.raises(CatalogError) as info:
        Catalog.from_tables([("catalog/bad.toml", table)])
    assert ("catalog/bad.toml", field) == (info.value.file, info.value.field)
    assert "catalog/bad.toml" in str(info.value)


def test_loader_rejects_duplicate_rows() -> None:
    """The same identity twice is an error."""
    table = _table("nhn_kakao", "api", "bizmessage")
    table["code"] = [*table["code"], *table["code"]]  # type: ignore[misc]
    with pytest.raises(CatalogError, match="duplicate"):
        Catalog.from_tables([("catalog/dup.toml", table)])


def test_importing_does_not_parse_the_catalog() -> None:
    """`import dlrpolicy` leaves the catalog unparsed (it loads lazily)."""
    import subprocess
    import sys

    code = "import dlrpolicy, dlrpolicy.policy._catalog as c; print(c._shipped_catalog.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "0" == out.stdout.strip()


@pytest.mark.parametrize(("text", "needle"), [("x = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested"),
                                              ("x = " + "9" * 5_000 + "\n", "digits")])
def test_unreadable_catalog_overlay_is_a_catalog_error(tmp_path: Path, text: str, needle: str) -> None:
    """An overlay nested past the parser's recursion limit, or with a 5,000-digit number, is a CatalogError."""
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=needle):
        Catalog.load([path])
