# Sourced by the other scripts: a virtual environment in .venv with flare-jupyter and what it needs.
# Installs Python's venv support from Debian when the machine lacks it. Safe to run again (a no-op when current).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.flare-jupyter-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # an editable install writes flare_jupyter.egg-info into this folder: one such install at a time (scripts/test.sh
  # makes .venv-nvflare25 at the same time)
  flock pyproject.toml .venv/bin/python -m pip install -q -e ".[test,docs]"
  touch "$stamp"
fi
