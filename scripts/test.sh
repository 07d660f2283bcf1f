#!/usr/bin/env bash
# The whole test suite: unit tests (recorded NVFlare answers), integration tests against the real embedded FLARE
# system, the browser tests and every notebook executed top to bottom, on parallel workers (their share is set in
# tests/conftest.py); alongside it, the integration tests once more against nvflare 2.5.2 in a second virtual
# environment (scripts/test-nvflare25.sh), installed at the same time as .venv (vmstat: the set-up minute is a third
# idle) and run once both are. Both runs spend about half their time waiting on NVFlare (vmstat: about 50% idle
# each, alone), so side by side they fill the two cores: clean clones took 12.8 and 13.0 min where one after the
# other took 19.7. Both print their 15 slowest tests; each test's start and end are in test-artifacts/timeline-*.jsonl
# (scripts/timeline.py). Then the documentation site is built from the notebooks this run executed (scripts/docs.sh).
# Fails if any of the three fails.
# Extra arguments run that subset of the main suite only (e.g. bash scripts/test.sh tests/unit), without the 2.5.2 run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# NVFlare signals processes by pid after they may have ended: 2.9's server, after every abort, kills the process
# group of the job's pid although it has already reaped that process (ProcessAdapter.terminate: killpg(getpgid(pid)));
# the kits' sub_start.sh kill -9 the pid in pid.fl 5 s after reading it. A pid taken again in between by another
# process (or thread) takes that one down. With Linux's default of 32768 pids, this suite (tens of new pids a
# second) comes round to the same pids every few minutes; systemd machines run with 4194304, which makes it
# practically impossible. Where we may (root, a writable /proc/sys), run with that.
pid_max=/proc/sys/kernel/pid_max
if [ -w "$pid_max" ] && [ "$(cat "$pid_max")" -lt 4194304 ]; then
  echo "raising kernel.pid_max from $(cat "$pid_max") to 4194304 (as systemd sets it), so that no pid is reused during the run"
  echo 4194304 >"$pid_max" || true
fi
if [ "$#" -gt 0 ]; then
  source scripts/setup.sh
  exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
started=$SECONDS
mkdir -p test-artifacts
old_log=test-artifacts/nvflare25.log
# Where Python lacks venv support, setup.sh installs it from Debian first, so that the two installs below never both
# call apt-get.
"${PYTHON:-python3}" -c "import venv, ensurepip" 2>/dev/null || source scripts/setup.sh
# The 2.5.2 environment is made (a no-op when current) while .venv is; its tests run while the main suite does, and
# only once .venv is made (if that fails, this script ends and so does the wait).
set_up=test-artifacts/.venv-made
rm -f "$set_up"
( FLARE_JUPYTER_INSTALL_ONLY=1 bash scripts/test-nvflare25.sh \
    && until [ -e "$set_up" ] || ! kill -0 $$ 2>/dev/null; do sleep 1; done \
    && [ -e "$set_up" ] && bash scripts/test-nvflare25.sh -n 3 --dist loadgroup --durations=15 ) >"$old_log" 2>&1 &
old_pid=$!
source scripts/setup.sh
touch "$set_up"
echo "set-up done after $(( SECONDS - started )) s"
main=0
.venv/bin/python -m pytest -q -p no:cacheprovider -n 3 --dist loadgroup --durations=15 || main=$?
echo "main suite done after $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s (set-up included)"
# the documentation site, from the notebooks and screenshots this run made (a broken or stale page fails the run)
docs=0
if [ "$main" -eq 0 ]; then
  bash scripts/docs.sh || docs=$?
  docs_said="docs exit $docs"
else
  docs=1
  docs_said="docs not built (they need the main suite's notebooks)"
fi
old=0
wait "$old_pid" || old=$?
echo
echo "== integration tests on nvflare 2.5.2 (scripts/test-nvflare25.sh, run alongside the main suite) =="
cat "$old_log"
echo
echo "whole run: $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
if [ "$main" -ne 0 ] || [ "$old" -ne 0 ] || [ "$docs" -ne 0 ]; then
  echo "failed: main suite (nvflare from .venv) exit $main, integration tests on nvflare 2.5.2 exit $old, $docs_said"
  exit 1
fi
