#!/usr/bin/env bash
# The main job: start the embedded FLARE system, submit and monitor the example job, show the jobs DataFrame.
# Runs notebooks/01_quickstart.ipynb headless; the executed copy lands in notebooks/executed/.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec .venv/bin/python scripts/run_notebook.py notebooks/01_quickstart.ipynb --out notebooks/executed
