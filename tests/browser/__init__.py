"""Driving Debian's Chromium with Playwright's Python API, for tests/test_browser*.py.

Playwright's own browser download needs the internet, which no machine here
has; Debian's chromium package is installed instead (.ci/run does it) and
launched by path.
"""

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core's impact levels worth failing a test for.
SERIOUS = ("serious", "critical")


def chromium_path():
    """The browser to drive; a missing one fails the test run rather than skipping it."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        raise RuntimeError(
            "Debian's chromium is not installed: apt-get install -y chromium (the browser tests need it)."
        )
    return path


def screenshots_dir():
    """Where screenshots go: $MONITOR_SCREENSHOTS when it is set (to keep them), else the run's
    temporary folder, removed with it at the end of the run (the suite leaves nothing behind)."""
    return Path(os.environ.get("MONITOR_SCREENSHOTS") or Path(tempfile.gettempdir()) / "screenshots")


def screenshot(page, name, *, full_page=True):
    """Save a screenshot of the page and return its path (see `screenshots_dir`)."""
    directory = screenshots_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def serious_violations(results):
    """axe violations of serious or critical impact, as readable lines."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n.get("target", [""])[0] if isinstance(n.get("target", [""])[0], str) else str(n.get("target"))
                    for n in v.get("nodes", [])[:5])
        for v in results.response.get("violations", [])
        if v.get("impact") in SERIOUS
    ]
