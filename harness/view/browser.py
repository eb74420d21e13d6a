"""Headless Debian Chromium through Playwright: for the viewer's tests, its benchmark and
``--screenshot``.

Playwright gives real input (clicks, typing), waits on the page's own state and reads the
DevTools performance marks, which is what an interaction test needs; its own browser download
cannot work offline, so it drives the system ``chromium`` through ``executable_path``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

# A closed network: without these Chromium keeps trying to reach update and sync services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETUP_HINT = "run scripts/setup_browser.sh (Debian chromium + Python playwright)"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why a browser cannot be driven here, or None when it can."""
    if chromium_path() is None:
        return f"chromium is not installed; {SETUP_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"the Python playwright driver is not installed; {SETUP_HINT}"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright Browser) with a fresh profile, closed on exit."""
    why = missing()
    if why:
        raise HarnessError(why)
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="harness-view-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=chromium_path(),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_report(context: Any, path: str | Path, timeout_ms: float = 30_000) -> Any:
    """A new page showing the report at ``path``, once its table is built."""
    page = context.new_page()
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_selector("html[data-ready='1']", timeout=timeout_ms)
    return page


def screenshot(report: str | Path, png: str | Path, open_row: int = 0, height: int = 1500) -> Path:
    """A PNG of the top of the report (header, table) with one problem opened below."""
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    with chromium() as context:
        page = open_report(context, report)
        page.set_viewport_size({"width": 1400, "height": height})
        rows = page.locator("tr.row")
        if rows.count() > open_row:
            rows.nth(open_row).click()
            page.wait_for_selector("tr.detail[data-ready='1']")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(out), full_page=False)
    return out
