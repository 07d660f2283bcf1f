#!/usr/bin/env bash
# The integration tests (real embedded FLARE system; not the browser or notebook tests) against nvflare 2.5.2, a
# release that still has the service-provider methods (list_sp, get_active_sp, promote_sp), lacks get_job_logs and
# submit_token, and answers abort_job/delete_job with None: every difference that flare_jupyter/compat.py handles.
# Runs in its own virtual environment, .venv-nvflare25, created or updated here (a no-op when current).
# Extra arguments go to pytest. FLARE_JUPYTER_INSTALL_ONLY=1 makes (or updates) the environment and runs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
NVFLARE_OLD=2.5.2
VENV=.venv-nvflare25
if ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# the stamp holds the nvflare version installed; pip is told the exact version each time so it never upgrades it
stamp=$VENV/.flare-jupyter-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$(cat "$stamp")" != "$NVFLARE_OLD" ]; then
  echo "installing nvflare $NVFLARE_OLD and flare-jupyter into $VENV ..."
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "nvflare==$NVFLARE_OLD"
  # the editable install writes flare_jupyter.egg-info into this folder: one at a time (scripts/setup.sh may be
  # making .venv at the same time)
  flock pyproject.toml "$VENV/bin/python" -m pip install -q -e ".[test]" "nvflare==$NVFLARE_OLD"
  "$VENV/bin/python" -m pip check
  echo "$NVFLARE_OLD" >"$stamp"
fi
if [ -n "${FLARE_JUPYTER_INSTALL_ONLY:-}" ]; then exit 0; fi
echo "integration tests against nvflare $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("nvflare"))') ..."
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/integration "$@"
