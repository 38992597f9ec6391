"""Tests for the policy report's data (timelines, window closed hours, effects) and the page it makes, without a
browser: self-contained, no network, every section present."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dlrpolicy import Catalog, PolicyStore
from dlrpolicy.cli._main import main
from dlrpolicy.model._time_rules import Window
from dlrpolicy.policy._layers import default_policy
from dlrpolicy.report import _html
from dlrpolicy.report._policy_html import policy_page
from dlrpolicy.report._policy_report import build_policy_report, closed_hours

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "examples" / "policies"
SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 10:00 in Seoul


def test_closed_hours_of_a_daily_window() -> None:
    """08:00-21:00 Seoul, from 10:00 for two days: closed 21:00-08:00 each night."""
    window = Window("day", SEOUL, tuple(((480, 1260),) for _ in range(7)))
    closed = closed_hours(window, START, START + timedelta(days=2))
    night = datetime(2026, 11, 24, 21, 0, tzinfo=SEOUL)
    assert [(night, night + timedelta(hours=11)),
            (night + timedelta(days=1), night + timedelta(days=1, hours=11))] == closed


def test_closed_hours_overnight_range_and_start_inside_closure() -> None:
    """A range past midnight (22:00-02:00) and a start while closed."""
    window = Window("night", SEOUL, tuple(((1320, 120),) for _ in range(7)))
    start = datetime(2026, 11, 24, 12, 0, tzinfo=SEOUL)
    closed = closed_hours(window, start, start + timedelta(hours=24))
    assert [(start, datetime(2026, 11, 24, 22, 0, tzinfo=SEOUL)),
            (datetime(2026, 11, 25, 2, 0, tzinfo=SEOUL), start + timedelta(hours=24))] == closed


def test_every_retry_rule_has_a_timeline() -> None:
    """Each rule that retries some code gets one timeline; 581 retries every 24h until its 7-day deadline."""
    policy = default_policy()
    report = build_policy_report(policy, tenant=None, start=START)
    rules = [t.rule for t in report.timelines]
    assert len(rules) == len(set(rules))
    assert "sms.user-out-of-credit" in rules
    credit = next(t for t in report.timelines if t.rule == "sms.user-out-of-credit")
    assert [timedelta(hours=24 * n) for n in range(1, 8)] == [a.after for a in credit.attempts]
    assert (timedelta(days=7), "suppress") == (credit.deadline, credit.final)
    assert len(Catalog.load()) == sum(sum(mix.values()) for mix in report.verdict_mix.values())


def test_tenant_window_shows_in_its_timelines() -> None:
    """The bank's timelines carry its daytime window's closed hours; its SMS fallbacks go out at once."""
    report = build_policy_report(PolicyStore(POLICIES).compile("bank"), tenant="bank", start=START)
    quota = next(t for t in report.timelines if t.rule == "kakao.send-quota")
    assert ("bank-daytime", "sms", timedelta(0)) == (quota.window, quota.attempts[0].channel, quota.attempts[0].after)
    assert quota.closed[0] == (timedelta(hours=11), timedelta(hours=22))
    routes = {row.kind for row in report.escalations}
    assert {"bank-security", "bank-compliance"} <= routes
    assert "support" not in routes


def test_policy_page_is_self_contained() -> None:
    """One file: CSP forbids every fetch, plotly.js is inline, no external src or href, all charts present."""
    text = policy_page(default_policy(), tenant=None, start=START)
    assert _html.CSP in text
    from plotly.offline import get_plotlyjs

    assert 1 == text.count(get_plotlyjs())
    ours = text.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "<link" not in ours
    assert re.findall(r'data-chart="([^"]+)"', text) == ["verdict-mix", "timelines-infobip", "timelines-nhn_kakao",
                                                         "suppressions", "escalations"]


def test_report_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``dlrpolicy report --html`` writes the page and says where."""
    target = tmp_path / "bank.html"
    assert 0 == main(["report", "--html", str(target), "--tenant", "bank", "--policy-dir", str(POLICIES)])
    assert "dlrpolicy policy report: tenant bank" in target.read_text(encoding="utf-8")
    assert f"wrote {target}" in capsys.readouterr().err


def test_report_without_plotly_says_how_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the report extra the command fails with the install command, not a traceback."""
    monkeypatch.setattr(_html, "pio", None)
    assert 1 == main(["report", "--html", str(tmp_path / "x.html")])
    assert "pip install 'dlrpolicy[report]'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_report_into_a_missing_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A target folder that does not exist: exit 2."""
    assert 2 == main(["report", "--html", str(tmp_path / "no" / "x.html")])
    assert "does not exist" in capsys.readouterr().err
