"""Dashboard soak: a dashboard and live monitors served by the poller at 1 s for ``--minutes`` minutes.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--monitors 10] [--json out.json]

Runs the embedded FLARE system, holds jobs on it (they need 3 clients; it has 2, so they stay SUBMITTED and the
monitors stay live), opens a dashboard and monitors on the kernel's shared poller, then samples once a minute:
resident memory (RSS), Python heap (tracemalloc), thread count and poller ticks. Reports the growth from the
first sample (taken after a one-minute warm-up) to the last. Target: memory growth under 10 MB, no thread growth.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil
from _results import save

import flare_jupyter as fj
from flare_jupyter import settings
from flare_jupyter.poller import Poller


def sample(t0: float, poller: Poller) -> dict:
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    return {
        "minute": round((time.monotonic() - t0) / 60, 2),
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
        "heap_mb": current / 2**20,
        "threads": threading.active_count(),
        "ticks": poller.ticks,
        "calls": poller.calls,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--monitors", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings.poll_interval = 1.0
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        fj.poc.start(workspace=Path(tmp) / "poc", progress=None)
        try:
            s = fj.session()
            folder = fj.examples.hello_numpy(Path(tmp) / "jobs", num_rounds=1, min_clients=3, name="held")
            jobs = [s.submit_job(folder) for _ in range(args.monitors)]
            widgets = [fj.dashboard()] + [fj.monitor(j) for j in jobs]
            poller = Poller.shared()
            tracemalloc.start()
            t0 = time.monotonic()
            time.sleep(60)  # warm-up: caches, first renders (this is a soak, not a readiness check)
            samples.append(sample(t0, poller))
            while time.monotonic() - t0 < args.minutes * 60:
                time.sleep(60)
                samples.append(sample(t0, poller))
                print(json.dumps(samples[-1]), flush=True)
            banners = [w.message for w in widgets if w.message]
            for w in widgets:
                w.close()
            for j in jobs:
                s.abort_job(j)
        finally:
            fj.poc.stop()
    first, last = samples[0], samples[-1]
    result = {
        "minutes": last["minute"],
        "monitors": args.monitors,
        "rss_growth_mb": last["rss_mb"] - first["rss_mb"],
        "heap_growth_mb": last["heap_mb"] - first["heap_mb"],
        "thread_growth": last["threads"] - first["threads"],
        "ticks": last["ticks"],
        "calls_per_tick": (last["calls"] - first["calls"]) / max(1, last["ticks"] - first["ticks"]),
        "banners_at_end": banners,
        "samples": samples,
    }
    print({k: v for k, v in result.items() if k != "samples"})
    save(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
