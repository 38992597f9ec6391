"""Regenerate the report screenshots in docs/ (the README shows them) with headless Chromium.

    python scripts/screenshots.py        (needs the report extra and the chromium package)

Renders the bank tenant's policy report and the replay of the example payloads with the bank's file against the
default, exactly as the README's commands do, and saves the top of each page as PNG."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlrpolicy.cli._main import main as dlrpolicy  # noqa: E402 (after the path is set)
from tests.report.chromium import CHARTS_DRAWN, INSTALL, Chromium, find_chromium  # noqa: E402

# Relative, as a reader types them (the pages show the paths they were given); main() runs from ROOT.
POLICIES = "examples/policies"
PAYLOADS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples" / "payloads").glob("*.json"))
PAGES = {
    "report-policy.png": (["report", "--tenant", "bank", "--policy-dir", POLICIES, "--now", "2026-11-24T01:00:00Z",
                           "--html"], 2150),
    "report-replay.png": (["replay", *PAYLOADS, "--policy-dir", POLICIES, "--tenant", "bank", "--now",
                           "2026-11-24T13:30:00Z", "--format", "html", "--output"], 2250),
}


def main() -> int:
    """Write docs/report-policy.png and docs/report-replay.png; 1 when Chromium is missing or a page is wrong."""
    os.chdir(ROOT)
    binary = find_chromium()
    if binary is None:
        print(f"screenshots: Chromium is not installed: {INSTALL}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder, Chromium(binary, Path(folder) / "profile") as browser:
        for name, (argv, height) in PAGES.items():
            page = Path(folder) / name.replace(".png", ".html")
            if dlrpolicy([*argv, str(page)]) != 0:
                return 1
            browser.open(page.as_uri())
            drawn = browser.evaluate(CHARTS_DRAWN)
            errors = browser.console_errors()
            if errors or not all(chart["drawn"] for chart in drawn):
                print(f"screenshots: {name}: {errors or drawn}", file=sys.stderr)
                return 1
            target = browser.screenshot(ROOT / "docs" / name, height=height)
            print(f"wrote {target.relative_to(ROOT)} ({len(drawn)} charts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
