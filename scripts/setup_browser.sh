#!/usr/bin/env bash
# The browser the viewer's tests drive: Debian's chromium (apt) and the Python Playwright driver
# (pip, into .venv). Playwright's own browser download is never used (it cannot work offline):
# tests launch /usr/bin/chromium through `executable_path`. Idempotent; run after setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup_browser: installing chromium (headless viewer tests)"
    (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }) \
      || echo "setup_browser: WARNING could not install chromium; the viewer's browser tests will skip"
  else
    echo "setup_browser: WARNING chromium not found and apt-get unavailable; browser tests will skip"
  fi
fi

[ -x .venv/bin/python ] || { echo "setup_browser: run scripts/setup.sh first (.venv missing)" >&2; exit 2; }
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: pip never downloads browsers, but say it for any hook that might.
if ! .venv/bin/python -c "import playwright" 2>/dev/null; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/pip install -q -e ".[view]"
fi
echo "setup_browser: done ($(command -v chromium || echo 'no chromium'))"
