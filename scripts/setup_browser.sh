#!/usr/bin/env bash
# The browser the viewer's tests drive: Debian's chromium (apt) and the Python Playwright driver
# (pip, into .venv). Playwright's own browser download is never used (it cannot work offline):
# tests launch /usr/bin/chromium through `executable_path`. Idempotent; run after setup.sh.
# Fails (exit 1, one line naming what is missing) when it cannot install the browser: the viewer's
# tests need it, and under CI a missing browser must stop the run, not skip its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "setup_browser: $*" >&2; exit 1; }

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup_browser: installing chromium (headless viewer tests)"
    (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }) \
      || fail "could not install chromium with apt-get (install Debian's chromium package)"
  else
    fail "chromium is not installed and this user cannot apt-get it (install Debian's chromium package)"
  fi
fi

[ -x .venv/bin/python ] || fail "run scripts/setup.sh first (.venv missing)"
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: pip never downloads browsers, but say it for any hook that might.
if ! .venv/bin/python -c "import playwright" 2>/dev/null; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/pip install -q -e ".[view]" \
    || fail "could not pip install the Python playwright driver (the view extra)"
fi
# What the tests check, asked the same way they ask (harness.view.browser.missing).
why=$(.venv/bin/python -c "from harness.view import browser; print(browser.missing() or '')") \
  || fail "could not ask harness.view.browser whether a browser can be driven"
[ -z "$why" ] || fail "$why"
echo "setup_browser: done ($(command -v chromium || command -v chromium-browser))"
