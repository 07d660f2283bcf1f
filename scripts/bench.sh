#!/usr/bin/env bash
# Every benchmark in benchmarks/, each printing its figures against its baseline and writing
# benchmarks/results/<name>.json (not part of the test suite; about 50 minutes: the soak 10 of them, the two history
# runs 16 and 10).
# SOAK_MINUTES=1 bash scripts/bench.sh for a short soak.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
out=benchmarks/results
mkdir -p "$out"
py=.venv/bin/python
$py benchmarks/conversion.py --json "$out/conversion.json"
$py benchmarks/overhead.py --json "$out/overhead.json"
$py benchmarks/widgets_cost.py --json "$out/widgets_cost.json"
$py benchmarks/history.py --jobs 1000 --json "$out/history_1000.json"
$py benchmarks/history.py --jobs 5000 --json "$out/history_5000.json"
$py benchmarks/metrics_read.py --json "$out/metrics_read.json"
$py benchmarks/poc_start.py --json "$out/poc_start.json"
$py benchmarks/quickstart.py --json "$out/quickstart.json"
$py benchmarks/poc_memory.py --json "$out/poc_memory.json"
$py benchmarks/soak.py --minutes "${SOAK_MINUTES:-10}" --json "$out/soak.json"
echo "figures written to $out/"
