"""The HTML reports in a real browser (headless Chromium over the DevTools pipe): no console errors, every chart
drew, nothing fetched from the network; screenshots are saved under the test's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlrpolicy.cli._main import main
from tests.report.chromium import CHARTS_DRAWN, INSTALL, Chromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
POLICIES = str(ROOT / "examples" / "policies")
PAYLOADS = sorted(str(p) for p in (ROOT / "examples" / "payloads").glob("*.json"))
POLICY_CHARTS = ["verdict-mix", "timelines-infobip", "timelines-nhn_kakao", "suppressions", "escalations"]
REPLAY_CHARTS = ["transitions", "sends", "suppressions", "escalations", "rules", "by-tenant", "by-provider",
                 "by-channel"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A headless Chromium with a fresh, empty profile."""
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI and is not installed: {INSTALL} (.ci/run does this)")
        pytest.skip(f"Chromium is not installed (browser tests run in CI): {INSTALL}")
    with Chromium(binary, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def _check_page(browser: Chromium, page: Path, charts: list[str], screenshot: Path) -> list[dict[str, object]]:
    browser.open(page.as_uri())
    drawn = browser.evaluate(CHARTS_DRAWN)
    browser.screenshot(screenshot)
    assert [] == browser.console_errors()
    assert charts == [chart["name"] for chart in drawn]
    assert all(chart["drawn"] and chart["traces"] for chart in drawn), drawn
    assert all(chart["marks"] for chart in drawn), drawn  # every chart put marks (or its "none" note) on the page
    foreign = [url for url in browser.requested_urls() if not url.startswith(("file:", "data:"))]
    assert [] == foreign
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    return list(drawn)


def test_policy_report_in_chromium(browser: Chromium, tmp_path: Path) -> None:
    """The bank's policy report: five charts drawn, no console error, no network."""
    page = tmp_path / "policy.html"
    assert 0 == main(["report", "--html", str(page), "--tenant", "bank", "--policy-dir", POLICIES,
                      "--now", "2026-11-24T01:00:00Z"])
    _check_page(browser, page, POLICY_CHARTS, tmp_path / "policy-report.png")
    title = browser.evaluate("document.querySelector('header h1').textContent")
    assert "dlrpolicy policy report: tenant bank" == title


def test_replay_report_in_chromium(browser: Chromium, tmp_path: Path) -> None:
    """The replay of the example payloads with the bank's file against the default: every chart drawn."""
    page = tmp_path / "replay.html"
    assert 0 == main(["replay", *PAYLOADS, "--policy-dir", POLICIES, "--tenant", "bank", "--now",
                      "2026-11-24T13:30:00Z", "--format", "html", "--output", str(page)])
    _check_page(browser, page, REPLAY_CHARTS, tmp_path / "replay-report.png")
    cells = browser.evaluate("Array.from(document.querySelectorAll('table td')).map((td) => td.textContent)")
    assert any("bank-messaging-oncall" in cell for cell in cells)
    heat = browser.evaluate("document.getElementById('chart-transitions').data[0].text")
    assert 27 == sum(sum(row) for row in heat)


def test_page_text_cannot_inject_script(browser: Chromium, tmp_path: Path) -> None:
    """Reasons and message ids with markup are shown as text: none of it runs, every chart still draws."""
    markup = "</script><script>window.injected = 1</script><img src=x onerror=window.injected=2>"
    (tmp_path / "evil.toml").write_text(f'[[patch]]\nid = "sms.user-out-of-credit"\nreason = "{markup}"\n',
                                        encoding="utf-8")
    report = tmp_path / "report.json"
    report.write_text('{"results": [{"messageId": "' + markup.replace('"', "'") + '", "to": "41793026734", '
                      '"status": {"groupId": 2, "id": 9}, "error": {"groupId": 1, "id": 581}}]}', encoding="utf-8")
    page = tmp_path / "evil.html"
    assert 0 == main(["replay", str(report), "--policy-dir", str(tmp_path), "--tenant", "evil", "--now",
                      "2026-11-24T10:00:00Z", "--format", "html", "--output", str(page)])
    _check_page(browser, page, REPLAY_CHARTS, tmp_path / "evil.png")
    assert browser.evaluate("window.injected === undefined")
    assert markup in browser.evaluate("document.querySelector('table').textContent")
