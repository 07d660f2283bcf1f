"""Memory of the embedded FLARE system with two clients: does it fit Binder (1 to 2 GB per user)?

Starts the system (``fj.poc.start(n_clients=2)``), samples every process it runs (server, clients, their
``sub_start.sh`` watchdogs, and the job processes each starts) every 0.2 s: idle after start, then while a FedAvg
job runs, and reports the total resident memory (RSS) and the proportional share (PSS: shared libraries counted
once across processes, the better figure for "how much of the machine does it take"), idle and at the peak. The
baseline is this process itself (a kernel with flare_jupyter, NVFlare and pandas imported and connected), measured
in the same run. Always stops the system.

python benchmarks/poc_memory.py [--rounds 5] [--json benchmarks/results/poc_memory.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _results import save

import flare_jupyter as fj

MB = 1024 * 1024


def sample(processes: list[psutil.Process]) -> dict:
    """Total RSS and PSS (MB) of the processes, and how many there are (gone ones are skipped)."""
    rss = pss = 0
    alive = 0
    for p in processes:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        alive += 1
    return {"rss_mb": round(rss / MB, 1), "pss_mb": round(pss / MB, 1), "processes": alive}


def peak(samples: list[dict]) -> dict:
    return max(samples, key=lambda s: s["pss_mb"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    workspace = tempfile.mkdtemp(prefix="fj-memory-")
    system = fj.poc.start(n_clients=2, workspace=workspace, progress=None)
    try:
        kernel = sample([psutil.Process()])
        time.sleep(2)  # let the start-up settle (the watchdogs' first sleep, caches)
        idle = sample(system.processes())
        session = fj.session()
        job = session.submit_job(fj.examples.hello_numpy(os.path.join(workspace, "jobs"), num_rounds=args.rounds))
        running = []
        while not str(session.get_job_status(job)).startswith("FINISHED"):
            running.append(sample(system.processes()))
            time.sleep(0.2)
        status = session.get_job_status(job)
    finally:
        system.stop()
    top = peak(running)
    figures = {
        "kernel_baseline": kernel,
        "system_idle": idle,
        "system_peak_during_job": top,
        "kernel_plus_system_peak_pss_mb": round(kernel["pss_mb"] + top["pss_mb"], 1),
        "job_status": status,
        "samples": len(running),
    }
    print(f"kernel (flare_jupyter + NVFlare imported, connected): RSS {kernel['rss_mb']} MB, PSS {kernel['pss_mb']} MB")
    print(f"embedded system idle ({idle['processes']} processes): RSS {idle['rss_mb']} MB, PSS {idle['pss_mb']} MB")
    print(
        f"embedded system, peak while a {args.rounds}-round FedAvg job ran ({top['processes']} processes): "
        f"RSS {top['rss_mb']} MB, PSS {top['pss_mb']} MB ({status})"
    )
    print(f"kernel + system at the peak (PSS): {figures['kernel_plus_system_peak_pss_mb']} MB")
    save(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
