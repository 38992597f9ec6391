"""Tests for the replay summary as text: how a changed record's fields are shown."""

from __future__ import annotations

from dlrpolicy.report._text import sample_changes

REASON = "NOT_KAKAOTALK_USER: The recipient is not a KakaoTalk user (or their app is too old to receive this)."


def test_a_reason_that_changed_at_its_end_shows_the_difference() -> None:
    """Two long reasons that share their first 60 characters are shown from just before where they differ."""
    sample = {"fields": ["reason"], "old": {"reason": REASON}, "new": {"reason": REASON + " Moved to a window."}}
    assert ("reason ...ld to receive this). -> ...ld to receive this). Moved to a window."
            == sample_changes(sample))


def test_a_long_text_that_differs_early_is_cut_after_sixty_characters() -> None:
    """A difference at the start shows each text's first 57 characters and an ellipsis."""
    old, new = "A" + REASON, "B" + REASON
    shown = sample_changes({"fields": ["reason"], "old": {"reason": old}, "new": {"reason": new}})
    assert f"reason {old[:57]}... -> {new[:57]}..." == shown


def test_short_values_and_effects_are_shown_whole() -> None:
    """Verdicts, channels and effects are shown as they are (an empty value as -)."""
    sample = {"fields": ["verdict", "channel", "escalate"],
              "old": {"verdict": "escalate", "channel": None, "escalate": {"route": "support", "severity": "warning"}},
              "new": {"verdict": "retry", "channel": "sms", "escalate": None}}
    assert "verdict escalate -> retry; channel - -> sms; escalate support (warning) -> -" == sample_changes(sample)
