#!/usr/bin/env bash
# The whole test suite: unit tests (recorded NVFlare answers), integration tests against the real embedded FLARE
# system, and every notebook executed top to bottom. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
