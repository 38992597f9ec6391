"""The suppression list (contract suite): entries from decisions, normalised keys, check, lift, import/export,
prune."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dlrpolicy import Engine, Outcome, read_envelope
from dlrpolicy.adapters._parse import adapt
from dlrpolicy.policy._layers import compile_layers, default_layer
from dlrpolicy.policy._read import Layer
from dlrpolicy.state._failures import ImportLineError, LiftRefusedError
from dlrpolicy.state._keys import address, domain, phone
from dlrpolicy.state._open import open_store
from dlrpolicy.state._recorder import Recorder
from dlrpolicy.state._store import Store
from tests.state.conftest import fresh_prefix
from tests.state.reports import NOW, outcome
from tests.state.servers import Monitor

KR = """
[suppressions]
region = "KR"
"""


@pytest.fixture
def kr_recorder(store: Store) -> Recorder:
    """The default policy with phone numbers read in Korea (a tenant's [suppressions] region)."""
    layer = Layer.from_text(KR, source="kr.toml", name="tenant:kr")
    return Recorder(Engine(compile_layers([default_layer(), layer])), store)


def test_keys_are_normalised_like_providers_write_them() -> None:
    """National, international-without-plus and E.164 numbers agree; e-mail is case-folded; domains IDNA."""
    assert "+821012345678" == phone("01012345678", "KR") == phone("821012345678", None) == phone("+821012345678",
                                                                                                  None)
    assert "+821012345678" == phone("010-1234-5678", "KR")
    assert phone("not a number", "KR") is None
    assert "kim@xn--bcher-kva.example" == address("Kim@Bücher.Example", None)
    assert "xn--bcher-kva.example" == domain("BÜCHER.example.")


def test_opt_out_becomes_an_unliftable_entry_and_check_finds_it(kr_recorder: Recorder) -> None:
    """An opt-out (error 603) suppresses the recipient until lifted; check matches any spelling of the number."""
    kr_recorder.record(outcome("m-1", "opted-out", to="821012345678"), now=NOW)
    found = kr_recorder.check(now=NOW, recipient="010-1234-5678", channel="sms")
    assert found is not None
    assert ("recipient", "+821012345678", None, False, "sms.recipient-opted-out") == (
        found.scope, found.key, found.until, found.liftable, found.reason["rule"])
    assert kr_recorder.check(now=NOW, recipient="01099999999") is None


def test_lifting_an_opt_out_needs_force(kr_recorder: Recorder) -> None:
    """An opt-out refuses lifting without force; with force and a note it is gone."""
    result = kr_recorder.record(outcome("m-1", "opted-out", to="821012345678"), now=NOW)
    assert result.suppression is not None
    with pytest.raises(LiftRefusedError, match="--force"):
        kr_recorder.lift(result.suppression, actor="kim", note="asked nicely", now=NOW)
    lifted = kr_recorder.lift(result.suppression, actor="kim", note="signed consent form", now=NOW, force=True)
    assert "+821012345678" == lifted.key
    assert kr_recorder.check(now=NOW, recipient="+821012345678") is None


def test_a_softer_rule_keeps_the_reason_that_made_an_entry_unliftable(kr_recorder: Recorder) -> None:
    """An opt-out entry suppressed again by a liftable source keeps the opt-out's reason, so a refused lift
    names the rule that refuses it."""
    result = kr_recorder.record(outcome("m-1", "opted-out", to="821012345678"), now=NOW)
    kr_recorder.import_lines([json.dumps({"scope": "recipient", "key": "+821012345678",
                                          "reason": {"rule": "bounce-cooling", "text": "soft"}})], now=NOW)
    found = kr_recorder.check(now=NOW, recipient="01012345678")
    assert found is not None
    assert (result.suppression, "sms.recipient-opted-out", False, 2) == (
        found.id, found.reason["rule"], found.liftable, found.hits)
    with pytest.raises(LiftRefusedError, match=r"rule sms\.recipient-opted-out\)"):
        kr_recorder.lift(found.id, actor="kim", note="x", now=NOW)


def test_lifting_several_entries_lifts_all_or_none(kr_recorder: Recorder, store: Store) -> None:
    """Entries naming one recipient, one of them an opt-out: without force none is lifted; with force all."""
    kr_recorder.record(outcome("m-1", "opted-out", to="821012345678"), now=NOW)
    kr_recorder.import_lines([json.dumps({"scope": "recipient_channel", "key": "01012345678", "channel": "sms"})],
                             now=NOW)
    ids = [e.id for e in kr_recorder.find_entries(None, recipient="01012345678", channel="sms")]
    assert 2 == len(ids)
    with pytest.raises(LiftRefusedError):
        kr_recorder.lift_all(ids, actor="kim", note="x", now=NOW)
    assert 2 == len(list(store.suppressions()))
    assert 2 == len(kr_recorder.lift_all(ids, actor="kim", note="consent", now=NOW, force=True))
    assert [] == list(store.suppressions())


def test_resuppressing_refreshes_until_and_counts_hits(recorder: Recorder, store: Store) -> None:
    """The same suppression again: until never shortens (a longer one wins), hits count up."""
    lines = [json.dumps({"tenant": "acme", "scope": "recipient", "key": "+821012340001",
                         "until": (NOW + timedelta(days=d)).isoformat(), "reason": {"text": "imported"}})
             for d in (30, 7)]
    recorder.import_lines(lines[:1], now=NOW)
    recorder.import_lines(lines[1:], now=NOW)
    (entry,) = list(store.suppressions(tenant="acme"))
    assert (NOW + timedelta(days=30), 2, "import") == (entry.until, entry.hits, entry.origin)


def test_check_prefers_the_most_specific_entry_and_ignores_expired_ones(recorder: Recorder) -> None:
    """recipient_channel beats recipient beats sender; an expired entry never matches."""
    rows = [{"scope": "sender", "key": "News@Shop.Example"},
            {"scope": "recipient", "key": "kim@example.com", "until": (NOW + timedelta(hours=1)).isoformat()},
            {"scope": "recipient_channel", "key": "kim@example.com", "channel": "email",
             "until": (NOW - timedelta(seconds=1)).isoformat()}]
    recorder.import_lines([json.dumps({"tenant": "acme", **row}) for row in rows], now=NOW)
    found = recorder.check("acme", now=NOW, recipient="KIM@example.com", channel="email", sender="news@shop.example")
    assert found is not None
    assert "recipient" == found.scope
    later = recorder.check("acme", now=NOW + timedelta(hours=2), recipient="kim@example.com", channel="email",
                           sender="news@shop.example")
    assert later is not None
    assert ("sender", "news@shop.example") == (later.scope, later.key)


def test_import_checks_every_line_before_applying_any(recorder: Recorder, store: Store) -> None:
    """A bad line names its number and nothing of the import is applied."""
    lines = [json.dumps({"scope": "recipient", "key": "+821012340001"}), json.dumps({"scope": "nobody", "key": "x"})]
    with pytest.raises(ImportLineError, match="line 2"):
        recorder.import_lines(lines, now=NOW)
    assert [] == list(store.suppressions())


def test_import_reports_every_bad_line(store: Store) -> None:
    """Every bad line is named with its number and what is wrong, a tenant without a policy too; nothing of the
    import is applied."""
    recorder = Recorder(Engine.default(), store)  # no policy for tenants without a file
    lines = [json.dumps({"scope": "recipient", "key": "+821012340001"}), json.dumps({"scope": "nobody", "key": "x"}),
             "{not json", "", json.dumps({"scope": "template", "key": "promo", "tenant": "acme"}),
             json.dumps({"scope": "template", "key": "promo", "until": "tomorrow"})]
    with pytest.raises(ImportLineError) as exc:
        recorder.import_lines(lines, now=NOW)
    starts = {2: "scope 'nobody'", 3: "not JSON", 5: "tenant 'acme'", 6: "until 'tomorrow'"}
    assert starts == {number: problem[:len(starts.get(number, ""))] for number, problem in exc.value.problems}
    assert [] == list(store.suppressions())


def test_import_refuses_text_the_store_cannot_keep(recorder: Recorder, store: Store) -> None:
    """A lone surrogate (a broken \\u escape, or a byte that is not UTF-8 read with surrogateescape) anywhere in a
    line is that line's problem, not a UnicodeEncodeError from the store."""
    good = json.dumps({"scope": "recipient", "key": "+821012340001"})
    lines = [good, '{"scope": "recipient", "key": "+8210\\ud800"}', '{"scope": "sender", "key": "\\udcff"}',
             '{"scope": "recipient", "key": "+821012340002", "reason": {"text": "\\ud800"}}',
             '{"scope": "recipient", "key": "+821012340003"}\udcff', '{"scope": "template", "key": "\\ud83d\\ude00"}']
    with pytest.raises(ImportLineError) as exc:
        recorder.import_lines(lines, now=NOW)
    assert [2, 3, 4, 5] == [number for number, _ in exc.value.problems]
    assert ["lone surrogate"] * 3 + ["not UTF-8"] == [
        "lone surrogate" if "lone surrogate" in p else "not UTF-8" if "not UTF-8" in p else p
        for _, p in exc.value.problems]
    assert [] == list(store.suppressions())


def test_import_names_a_line_nested_too_deeply(recorder: Recorder) -> None:
    """A line of 100,000 nested arrays is that line's problem (the parser's recursion limit), not a RecursionError."""
    with pytest.raises(ImportLineError) as exc:
        recorder.import_lines([json.dumps({"scope": "recipient", "key": "+821012340001"}), "[" * 100_000], now=NOW)
    assert [2] == [number for number, _ in exc.value.problems]
    assert "nested" in exc.value.problems[0][1]


def test_running_the_same_import_again_changes_nothing(recorder: Recorder, store: Store) -> None:
    """An import retried after a failure (or run twice) ends in the state of one run: a line already applied to
    its entry is not counted again; another line for the same entry still is."""
    lines = [json.dumps({"tenant": "acme", "scope": "recipient", "key": f"+8210123400{n:02d}"}) for n in range(5)]
    recorder.import_lines(lines, now=NOW)
    once = sorted(json.dumps(e.to_json(), sort_keys=True) for e in store.suppressions())
    recorder.import_lines(lines, now=NOW + timedelta(hours=1))
    assert once == sorted(json.dumps(e.to_json(), sort_keys=True) for e in store.suppressions())
    recorder.import_lines([json.dumps({"tenant": "acme", "scope": "recipient", "key": "+821012340000",
                                       "reason": "second source"})], now=NOW)
    assert [2, 1, 1, 1, 1] == [e.hits for e in sorted(store.suppressions(), key=lambda e: e.key)]


def test_export_then_import_round_trips(recorder: Recorder, store: Store, tmp_path: object) -> None:
    """Exported lines import back into an empty store as the same entries."""
    recorder.record(outcome("m-1", "opted-out", to="15550100"), now=NOW)
    exported = list(recorder.export())
    for entry in list(store.suppressions()):
        recorder.lift(entry.id, actor="t", note="t", now=NOW, force=True)
    assert 1 == recorder.import_lines(exported, now=NOW)
    (entry,) = list(store.suppressions())
    assert json.loads(exported[0])["key"] == entry.key


def test_export_then_import_keeps_every_field(recorder: Recorder, store: Store) -> None:
    """An entry exported and imported into an emptied store is the same entry: created and updated times, hits,
    origin, liftable, reason and source; liftable must be true or false, not a word."""
    recorder.record(outcome("m-1", "opted-out", to="15550100"), now=NOW)
    recorder.record(outcome("m-2", "opted-out", to="15550100"), now=NOW + timedelta(hours=1))
    (before,) = list(store.suppressions())
    exported = list(recorder.export())
    recorder.lift(before.id, actor="t", note="t", now=NOW, force=True)
    assert 1 == recorder.import_lines(exported, now=NOW + timedelta(days=1))
    (after,) = list(store.suppressions())
    assert (2, "policy", False) == (after.hits, after.origin, after.liftable)
    assert before.to_json() == after.to_json()
    words = [json.dumps({**json.loads(exported[0]), "liftable": "no"}), json.dumps({**json.loads(exported[0]),
                                                                                    "hits": "many"})]
    with pytest.raises(ImportLineError) as exc:
        recorder.import_lines(words, now=NOW)
    assert [(1, "liftable"), (2, "hits")] == [(n, problem.split(" ")[0]) for n, problem in exc.value.problems]


def test_prune_drops_only_expired_entries(recorder: Recorder, store: Store) -> None:
    """prune removes what expired at or before now, keeps the rest."""
    rows = [{"scope": "recipient", "key": f"+8210123400{n:02d}", "until": (NOW + timedelta(hours=n - 2)).isoformat()}
            for n in range(4)] + [{"scope": "template", "key": "promo-1"}]
    recorder.import_lines([json.dumps(row) for row in rows], now=NOW)
    assert 3 == recorder.prune(now=NOW)
    assert ["+821012340003", "promo-1"] == sorted(e.key for e in store.suppressions())


def test_account_hold_is_reported_by_check(recorder: Recorder) -> None:
    """While an account-wide incident is open, every send of that tenant is held."""
    recorder.record(outcome("m-1", "credits", tenant="acme"), now=NOW)
    found = recorder.check("acme", now=NOW, recipient="+821099990000")
    assert found is not None
    assert ("account", "incident") == (found.scope, found.origin)
    assert recorder.check("other", now=NOW, recipient="+821099990000") is None


def _nhn_opt_out() -> Outcome:
    """An NHN send response whose one recipient got -3301 (unsubscribed: an 080 opt-out), sent as @acme-shop."""
    envelope = read_envelope({"report": {
        "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
        "message": {"requestId": "20261124190000abcdefghij0", "senderGroupingKey": None, "sendResults": [
            {"recipientSeq": 1, "recipientNo": "01012345678", "resultCode": -3301, "resultMessage": "x"}]}},
        "sender": "@acme-shop"})
    (report,) = envelope.apply(adapt(envelope.report, root=envelope.root))
    assert isinstance(report, Outcome)
    return report


def test_advertising_opt_out_blocks_only_that_senders_kakaotalk_advertising(recorder: Recorder) -> None:
    """NHN -3301 blocks advertising from that sender to the recipient on KakaoTalk; the sender's informational
    messages, its SMS, and other senders still go."""
    result = recorder.record(_nhn_opt_out(), now=NOW)
    assert result.suppression is not None
    found = recorder.check(now=NOW, recipient="01012345678", channel="kakao", sender="@acme-shop", advertising=True)
    assert found is not None
    assert ("recipient_sender_advertising", "kakao:@acme-shop:01012345678", "kakao") == (
        found.scope, found.key, found.channel)
    allowed = [recorder.check(now=NOW, recipient="01012345678", channel="kakao", sender="@acme-shop"),
               recorder.check(now=NOW, recipient="01012345678", channel="sms", sender="@acme-shop", advertising=True),
               recorder.check(now=NOW, recipient="01012345678", channel="kakao", sender="@other", advertising=True)]
    assert [None, None, None] == allowed
    assert [found.id] == [entry.id for entry in recorder.find_entries(
        None, recipient="01012345678", channel="kakao", sender="@acme-shop", advertising=True)]


def test_advertising_entry_survives_export_and_import(recorder: Recorder) -> None:
    """An exported advertising line ("<channel>:<sender>:<recipient>") imports to the same entry id."""
    recorder.record(_nhn_opt_out(), now=NOW)
    (exported,) = [json.loads(text) for text in recorder.export()]
    recorder.lift(exported["id"], actor="ops", note="re-import", now=NOW, force=True)
    line = json.dumps({k: exported[k] for k in ("scope", "key")})
    assert 1 == recorder.import_lines([line], now=NOW)
    found = recorder.check(now=NOW, recipient="01012345678", channel="kakao", sender="@acme-shop", advertising=True)
    assert found is not None
    assert (exported["id"], "kakao:@acme-shop:01012345678") == (found.id, found.key)
    with pytest.raises(ImportLineError, match="need a channel and a sender"):
        recorder.import_lines([json.dumps({"scope": "recipient_sender_advertising", "key": "01012345678"})], now=NOW)


def test_dlt_preference_mismatch_blocks_advertising_sms_not_otps(recorder: Recorder) -> None:
    """DLT 4137 (the number's DND preference refuses this category): promotional SMS to the number is paused;
    OTPs and service messages (a check without advertising) still go."""
    result = recorder.record(outcome("m-dlt", "dlt-preference", to="919812345678"), now=NOW)
    assert result.suppression is not None
    found = recorder.check(now=NOW, recipient="+919812345678", channel="sms", advertising=True)
    assert found is not None
    assert ("recipient_channel_advertising", "sms:+919812345678") == (found.scope, found.key)
    assert recorder.check(now=NOW, recipient="+919812345678", channel="sms") is None


def test_recipient_sender_entry_survives_export_and_import(recorder: Recorder, store: Store) -> None:
    """An exported recipient_sender line ("<sender>:<recipient>") imports to the same entry id."""
    line = json.dumps({"scope": "recipient_sender", "key": "@acme-shop:01012345678", "reason": "080 opt-out"})
    assert 1 == recorder.import_lines([line], now=NOW)
    (exported,) = [json.loads(text) for text in recorder.export()]
    recorder.prune(now=NOW)
    found = recorder.check(now=NOW, recipient="01012345678", sender="@acme-shop")
    assert found is not None
    assert (exported["id"], "@acme-shop:01012345678") == (found.id, found.key)
    with pytest.raises(ImportLineError, match="need a sender"):
        recorder.import_lines([json.dumps({"scope": "recipient_sender", "key": "01012345678"})], now=NOW)


def test_check_is_one_round_trip_on_redis(redis_url: str) -> None:
    """`check` sends one command to Redis (one script: the candidate entries and the tenant's account holds),
    however many scopes it asks about."""
    recorder = Recorder(Engine.default(default_for_unknown=True), open_store(f"{redis_url}?prefix={fresh_prefix()}"))
    recorder.record(outcome("m-1", "opted-out", to="821012345678", tenant="acme"), now=NOW)
    recorder.check("acme", now=NOW, recipient="+821099999999")  # the script is loaded by now
    with Monitor(redis_url) as monitor:
        found = recorder.check("acme", now=NOW, recipient="+821012345678", channel="sms", sender="@acme-shop",
                               template="promo", advertising=True)
    assert (True, ["EVALSHA"]) == (found is not None, monitor.names())
