"""Tests for the Recorder's arguments, on both stores: a value the store cannot keep or a setting out of range is a
`DlrpolicyError` naming the argument and the fix, never a UnicodeEncodeError, TypeError or bare ValueError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlrpolicy import ArgumentError, DlrpolicyError, NaiveDatetimeError, SettingError
from dlrpolicy.state._recorder import Recorder
from tests.strategies import any_texts

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
#: What a non-UTF-8 byte in a command-line argument becomes (Python decodes argv with surrogateescape), and what
#: a broken \u escape in a JSON file becomes.
BROKEN = ("+8210\udcff", "\ud800")

CALLS: dict[str, Callable[[Recorder, str], object]] = {
    "check recipient": lambda r, t: r.check(now=NOW, recipient=t),
    "check channel": lambda r, t: r.check(now=NOW, recipient="+821012345678", channel=t),
    "check sender": lambda r, t: r.check(now=NOW, recipient="+821012345678", sender=t),
    "check template": lambda r, t: r.check(now=NOW, recipient="+821012345678", template=t),
    "check key": lambda r, t: r.check(now=NOW, key=t),
    "check provider": lambda r, t: r.check(now=NOW, recipient="+821012345678", provider=t),
    "find_entries recipient": lambda r, t: r.find_entries(None, recipient=t),
    "sent key": lambda r, t: r.sent(key=t, provider="infobip", channel="sms", at=NOW),
    "sent message_id": lambda r, t: r.sent(key="k", provider="infobip", channel="sms", at=NOW, message_id=t),
    "history key": lambda r, t: r.history(t),
    "history tenant": lambda r, t: r.history("k", tenant=t),
    "lift entry_id": lambda r, t: r.lift(t, actor="ops", note="n", now=NOW),
    "lift_all entry_ids": lambda r, t: r.lift_all(["x", t], actor="ops", note="n", now=NOW),
    "resolve incident_id": lambda r, t: r.resolve(t, now=NOW, actor="ops"),
    "incidents state": lambda r, t: r.incidents(now=NOW, state=t),
    "export tenant": lambda r, t: list(r.export(tenant=t)),
    "ack token": lambda r, t: r.ack(t),
    "extend token": lambda r, t: r.extend(t, now=NOW),
}


@pytest.mark.parametrize("text", BROKEN)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_text_the_store_cannot_keep_is_an_argument_error(recorder: Recorder, call: str, text: str) -> None:
    """A lone surrogate in any text argument is refused before the store sees it, naming the argument."""
    with pytest.raises(ArgumentError) as info:
        CALLS[call](recorder, text)
    assert call.split()[1] == info.value.argument
    assert "UTF-8" in str(info.value)


@pytest.mark.parametrize(("kwargs", "setting"), [({"limit": 0}, "limit"), ({"limit": -1}, "limit"),
                                                 ({"lease": "0s"}, "lease")])
def test_claim_settings_out_of_range(recorder: Recorder, kwargs: dict[str, object], setting: str) -> None:
    """claim(limit=0) and a zero lease are SettingErrors naming the setting."""
    with pytest.raises(SettingError) as info:
        recorder.claim(now=NOW, **kwargs)  # type: ignore[arg-type]
    assert setting == info.value.setting


@pytest.mark.parametrize(("kwargs", "setting"), [({"release": "keep"}, "release"), ({"release": "drop"}, "note"),
                                                 ({"rate": 0.0}, "rate")])
def test_resolve_settings_out_of_range(recorder: Recorder, kwargs: dict[str, object], setting: str) -> None:
    """resolve(release="keep"), a drop without a note and a zero rate are SettingErrors naming the setting."""
    with pytest.raises(SettingError) as info:
        recorder.resolve("i-none", now=NOW, actor="ops", **kwargs)  # type: ignore[arg-type]
    assert setting == info.value.setting


@pytest.mark.parametrize("call", ["prune", "due", "expire_holds", "claim"])
def test_naive_now_is_refused(recorder: Recorder, call: str) -> None:
    """Every schedule and maintenance call refuses a naive ``now`` with the fix, as check and record do."""
    with pytest.raises(NaiveDatetimeError):
        getattr(recorder, call)(now=datetime(2026, 11, 24, 10, 0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(any_texts, min_size=7, max_size=7))
def test_any_text_in_a_check_is_an_answer_or_a_dlrpolicy_error(recorder: Recorder, texts: list[str]) -> None:
    """Whatever text a send loop passes to check and sent, the answer is an entry, None or a DlrpolicyError."""
    recipient, channel, sender, template, key, provider, message_id = texts
    try:
        recorder.check(now=NOW, recipient=recipient, channel=channel, sender=sender, template=template, key=key,
                       provider=provider)
        recorder.sent(key=key or "k", provider=provider, channel=channel, at=NOW, message_id=message_id)
        recorder.history(key or "k")
    except DlrpolicyError:
        pass
