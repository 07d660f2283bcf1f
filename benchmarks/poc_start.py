"""Embedded system start: ``fj.poc.start()`` time-to-ready against NVFlare's own CLI run by hand.

    .venv/bin/python benchmarks/poc_start.py [--runs 2] [--json out.json]

Time-to-ready is the time until the server answers and every client is connected. The baseline is what a user
does by hand: ``nvflare poc prepare -n 2`` then ``nvflare poc start -ex admin@nvidia.com`` in a terminal, with
readiness polled through an admin session. Runs alternate (ours, by hand, ours, ...) in fresh workspaces.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _results import save

import flare_jupyter as fj
from flare_jupyter import compat


def ours(tmp: Path) -> float:
    t0 = time.perf_counter()
    fj.poc.start(workspace=tmp / "ours", progress=None, connect=False)
    elapsed = time.perf_counter() - t0
    fj.poc.stop()
    return elapsed


def by_hand(tmp: Path) -> float:
    env = dict(os.environ, NVFLARE_POC_WORKSPACE=str(tmp / "hand"), HOME=str(tmp))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    cli = [sys.executable, "-m", "nvflare.cli", "poc"]
    t0 = time.perf_counter()
    subprocess.run([*cli, "prepare", "-n", "2"], env=env, input="y\n", text=True, check=True, capture_output=True)
    starter = subprocess.Popen(
        [*cli, "start", "-ex", "admin@nvidia.com"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kit = next(Path(tmp / "hand").rglob("admin@nvidia.com/startup")).parent
    deadline = time.monotonic() + 180
    elapsed = None
    while time.monotonic() < deadline:
        try:
            raw = compat.open_session("admin@nvidia.com", str(kit), True, 2.0)
            try:
                if len(raw.get_connected_client_list()) == 2:
                    elapsed = time.perf_counter() - t0
                    break
            finally:
                raw.close()
        except Exception:
            pass
        time.sleep(0.25)
    subprocess.run([*cli, "stop"], env=env, capture_output=True, timeout=120)
    for p in fj.poc.processes_under(tmp / "hand"):
        try:
            p.kill()
        except psutil.Error:
            pass
    try:
        os.killpg(starter.pid, signal.SIGKILL)
    except OSError:
        pass
    if elapsed is None:
        raise TimeoutError("the system started by hand was not ready in 180 s")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    times = {"ours": [], "by_hand": []}
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            times["ours"].append(ours(Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            times["by_hand"].append(by_hand(Path(tmp)))
        print(f"run {i + 1}: ours {times['ours'][-1]:.1f} s, by hand {times['by_hand'][-1]:.1f} s", flush=True)
    result = {k: statistics.median(v) for k, v in times.items()}
    result["ratio"] = result["ours"] / result["by_hand"]
    result["runs"] = times
    print(
        f"time-to-ready: fj.poc.start() {result['ours']:.1f} s, nvflare poc prepare + start by hand "
        f"{result['by_hand']:.1f} s, ratio {result['ratio']:.2f}x"
    )
    save(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
