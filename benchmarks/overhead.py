"""Magic overhead and poller cost, against raw NVFlare on the same embedded system.

    .venv/bin/python benchmarks/overhead.py [--repeat 100] [--json out.json]

1. Magic overhead: ``%flare list_jobs`` (a DataFrame) and ``%flare get_job_meta JOB`` through IPython, against the
   raw ``nvflare.fuel.flare_api.Session`` calls (a second, plain NVFlare session), with 0, 50 and 200 jobs on the
   server; calls alternate, and the median ratio is reported (target <= 1.05x).
2. Poller cost: NVFlare calls per tick with 1, 10 and 50 live monitors and a dashboard, counted at the NVFlare
   boundary (a counting wrapper around the raw session under our KernelSession), against NVFlare's own
   ``monitor_job`` (one ``get_job_meta`` per job per poll, the kernel blocked, one job at a time). Status calls are
   the ``list_jobs`` and ``get_job_meta`` calls (the held jobs never run: no detail calls); the poller takes one
   listing or one ``get_job_meta`` per watched job, whichever this server's timings make cheaper
   (benchmarks/history.py measures what each costs with thousands of jobs on the server).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from _results import save
from IPython.core.interactiveshell import InteractiveShell

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.poller import Poller
from flare_jupyter.widgets import Dashboard, JobMonitor


class Counting:
    """Counts every call that reaches NVFlare's Session (the boundary), by method."""

    def __init__(self, raw):
        self._raw, self.counts = raw, Counter()

    def __getattr__(self, name):
        attr = getattr(self._raw, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.counts[name] += 1
            return attr(*args, **kwargs)

        return call


def held_jobs(s, dest: Path, n: int) -> list[str]:
    """``n`` jobs that stay SUBMITTED (they need 3 clients; the system has 2), so they cost the server nothing."""
    folder = fj.examples.hello_numpy(dest, num_rounds=1, min_clients=3, name="held")
    return [s.submit_job(folder) for _ in range(n)]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def magic_overhead(ip, raw, job: str, repeat: int) -> dict:
    pairs = {
        "list_jobs": (
            lambda: ip.run_line_magic("flare", "list_jobs"),
            lambda: raw.list_jobs(),
            lambda: pd.DataFrame(raw.list_jobs()),
        ),
        "get_job_meta": (lambda: ip.run_line_magic("flare", f"get_job_meta {job}"), lambda: raw.get_job_meta(job)),
    }
    out = {}
    for name, (ours, base, *frame) in pairs.items():
        calls = [ours, base, *frame]
        times: list[list[float]] = [[] for _ in calls]
        for fn in calls:  # warm
            fn()
        for _ in range(repeat):
            for fn, t in zip(calls, times, strict=True):
                t.append(timed(fn))
        magic, raw_ms = statistics.median(times[0]), statistics.median(times[1])
        out[name] = {"magic_ms": magic * 1000, "raw_ms": raw_ms * 1000, "ratio": magic / raw_ms}
        if frame:
            out[name]["raw_and_pandas_frame_ms"] = statistics.median(times[2]) * 1000
    return out


def poller_cost(ks, counting: Counting, jobs: list[str], n_monitors: int, ticks: int) -> dict:
    poller = Poller(session_fn=lambda: ks, autostart=False)
    widgets = [JobMonitor(jobs[i % len(jobs)], poller=poller) for i in range(n_monitors)]
    widgets.append(Dashboard(ks, poller=poller))
    poller.tick()  # first tick fetches metas once
    before = Counter(counting.counts)
    for _ in range(ticks):
        poller.tick()
    used = counting.counts - before
    for wdg in widgets:
        wdg.close()
    return {
        "calls_per_tick": sum(used.values()) / ticks,
        "status_calls_per_tick": (used["list_jobs"] + used["get_job_meta"]) / ticks,
        "by_method_per_tick": {k: v / ticks for k, v in sorted(used.items())},
    }


def nvflare_monitor_cost(raw, jobs: list[str], polls: int) -> dict:
    """NVFlare's own monitor_job, one blocking loop per job (the kernel can watch one job at a time): count the
    calls that reach the server per poll; its callback ends each loop after ``polls`` polls."""
    counting = Counting(raw)
    seen = []

    def stop_after(_session, job_id, _meta):
        seen.append(job_id)
        return seen.count(job_id) < polls

    for job in jobs:
        compat.monitor_job(counting, job, 0, 1.0, stop_after)  # NVFlare's own loop, with the counter as its self
    return {"calls_per_poll_all_jobs": sum(counting.counts.values()) / polls, "jobs": len(jobs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict = {"magic_overhead": {}, "poller": {}, "nvflare_monitor_job": {}}
    with tempfile.TemporaryDirectory() as tmp:
        system = fj.poc.start(workspace=Path(tmp) / "poc", progress=None)
        try:
            fj.session()
            raw = compat.open_session(system.username, system.kit, True, 10.0)
            InteractiveShell.clear_instance()
            ip = InteractiveShell.instance(history_manager=None)
            ip.run_line_magic("load_ext", "flare_jupyter")
            ip.run_line_magic("config", "FlareMagics.progress = False")
            jobs: list[str] = []
            for total in (0, 50, 200):
                jobs += held_jobs(raw, Path(tmp) / "jobs", total - len(jobs))
                probe = jobs[0] if jobs else held_jobs(raw, Path(tmp) / "jobs", 1)[0]
                jobs = jobs or [probe]
                results["magic_overhead"][str(len(raw.list_jobs()))] = magic_overhead(ip, raw, probe, args.repeat)
            counting = Counting(compat.open_session(system.username, system.kit, True, 10.0))
            counted = fj.KernelSession(system.kit, system.username, raw=counting)
            for n in (1, 10, 50):
                results["poller"][str(n)] = poller_cost(counted, counting, jobs, n, args.ticks)
            for n in (1, 10):
                results["nvflare_monitor_job"][str(n)] = nvflare_monitor_cost(raw, jobs[:n], polls=3)
            for job in jobs:
                raw.abort_job(job)
            counted.close()  # NVFlare sessions left open keep non-daemon threads: the interpreter would not exit
            raw.close()
        finally:
            fj.poc.stop()
    for jobs_on_server, r in results["magic_overhead"].items():
        for op, v in r.items():
            print(
                f"{jobs_on_server:>4} jobs  %flare {op:<13} {v['magic_ms']:7.2f} ms  raw {v['raw_ms']:7.2f} ms  "
                f"ratio {v['ratio']:.3f}x (+{v['magic_ms'] - v['raw_ms']:.2f} ms)"
                + (
                    f"; raw + pandas.DataFrame(records) {v['raw_and_pandas_frame_ms']:.2f} ms"
                    if "raw_and_pandas_frame_ms" in v
                    else ""
                )
            )
    for n, r in results["poller"].items():
        print(
            f"{n:>3} monitors + dashboard: {r['calls_per_tick']:.1f} NVFlare calls per tick, "
            f"{r['status_calls_per_tick']:.0f} of them status calls: {r['by_method_per_tick']}"
        )
    for n, r in results["nvflare_monitor_job"].items():
        print(
            f"NVFlare monitor_job on {n} job(s), one after the other: {r['calls_per_poll_all_jobs']:.1f} calls per "
            "poll round, kernel blocked"
        )
    save(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
