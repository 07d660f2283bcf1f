#!/usr/bin/env bash
# Every benchmark in benchmarks/, each printing its figures against its baseline and writing
# benchmarks/results/<name>.json (not part of the test suite; about 20 minutes, the soak being 10 of them).
# SOAK_MINUTES=1 bash scripts/bench.sh for a short soak.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
out=benchmarks/results
mkdir -p "$out"
py=.venv/bin/python
$py benchmarks/conversion.py --json "$out/conversion.json"
$py benchmarks/overhead.py --json "$out/overhead.json"
$py benchmarks/widgets_cost.py --json "$out/widgets_cost.json"
$py benchmarks/poc_start.py --json "$out/poc_start.json"
$py benchmarks/quickstart.py --json "$out/quickstart.json"
$py benchmarks/soak.py --minutes "${SOAK_MINUTES:-10}" --json "$out/soak.json"
echo "figures written to $out/"
