#!/usr/bin/env bash
# The whole test suite: unit tests (recorded NVFlare answers), integration tests against the real embedded FLARE
# system, and every notebook executed top to bottom. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
