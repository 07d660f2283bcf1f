#!/usr/bin/env bash
# The whole test suite: unit tests (recorded NVFlare answers), integration tests against the real embedded FLARE
# system, and every notebook executed top to bottom. Then, for a full run (no arguments), the integration tests once
# more against nvflare 2.5.2 in a second virtual environment (scripts/test-nvflare25.sh). Fails if either run fails.
# Extra arguments go to the main pytest run only (and skip the 2.5.2 run: a subset was asked for).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
main=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || main=$?
if [ "$#" -gt 0 ]; then
  exit "$main"
fi
old=0
bash scripts/test-nvflare25.sh || old=$?
if [ "$main" -ne 0 ] || [ "$old" -ne 0 ]; then
  echo "test runs failed: main suite (nvflare from .venv) exit $main, integration tests on nvflare 2.5.2 exit $old"
  exit 1
fi
