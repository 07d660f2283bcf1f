"""A server with a long history: what the widgets and ``%flare list_jobs`` cost with N jobs on it, against the same
on a server with about 10 jobs, in one run.

    .venv/bin/python benchmarks/history.py --jobs 5000 [--monitors 10] [--ticks 30] [--json out.json]

One embedded system (NVFlare's POC) runs the whole benchmark:

1. About 10 jobs: two short jobs that run to completion, two long FedAvg jobs (hello-numpy, tens of thousands of
   rounds) that keep RUNNING until the end, and clones of a job aborted at once to make up the rest.
2. Measured there: the raw ``list_jobs`` (a plain NVFlare session) against ``%flare list_jobs`` (IPython, the
   DataFrame with its dtypes), in turn; the poller's NVFlare time per tick with ``--monitors`` monitors on the
   running jobs and a jobs panel; what one status source costs (``get_job_meta`` per watched job,
   ``list_jobs(id_prefix=...)`` per watched job, or one listing); and the per-tick detail calls of a running job
   (time and bytes) at round 5, against the server-side ``grep`` of its whole log that widgets made before.
3. The server is brought to N jobs the same way, and everything is measured again; then the detail calls once the
   long job passed round 200.

How the N jobs get onto the server, and why that is honest: each is a real job made by the server itself through
NVFlare's own admin API, a ``clone_job`` then ``abort_job`` at once (about 20 ms a job on this machine, so 5,000
take under two minutes) of a job that needs more clients than the system has, so that the scheduler never starts a
clone before its abort (``history_source``). Each sits in the server's real job store as FINISHED:ABORTED, with the
meta the server wrote, and costs ``list_jobs`` what any job costs it (``list_jobs`` reads every job's meta,
whatever its filters). A job that ran to completion has a larger meta (its deployment and schedule history), so a
production history costs a listing somewhat more per job than these: the poller's steady ticks do not list at all
on such a server, and its automatic page listings adapt to what a listing costs (``job_list.LISTING_SHARE``).

The tick's NVFlare time is the time spent inside the poller's NVFlare calls (``Poller.last_tick_seconds``), averaged
over whole cycles of the jobs panel's automatic listings (so their cost is in the average, spread over the ticks
between them); the first tick (a monitor's first read of its job's whole log, the config) is reported apart.
Writes ``{"jobs": N, "tick_ratio": ..., "list_jobs_ratio": ..., "raw_list_jobs_ms": ..., ...}``: ``tick_ratio`` is
the tick's time with N jobs over the same with ~10 jobs. Nothing here asserts a time; ``tests/integration/
test_scale_live.py`` runs the short version (``smoke``) on the test session's embedded system.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _results import save
from IPython.core.interactiveshell import InteractiveShell

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.poller import Poller
from flare_jupyter.progress import round_from_log
from flare_jupyter.widgets import JobMonitor, JobsPanel

SMALL = 10  # "a server with about 10 jobs"
WATCHED = (1, 10, 50)  # watched jobs for the status-source table


# -- the server's history ------------------------------------------------------------------------------------------
#: clients the history's jobs ask for: more than any embedded system has, so the scheduler never starts one
HISTORY_MIN_CLIENTS = 100
#: a clone still SUBMITTED this long after its abort is aborted again: NVFlare can write over an abort with the meta
#: its scheduler read just before (``poller.ABORT_AGAIN_SECONDS``)
ABORT_AGAIN_SECONDS = 2.0


def history_source(raw, dest: Path) -> str:
    """The job ``fill`` clones: one that needs ``HISTORY_MIN_CLIENTS`` clients, aborted at once. The scheduler looks
    for a job to start every second; a clone of a job that can run is started when it looks between the clone and
    the abort, and then costs a job process on the server and on every client before its abort ends it. The busier
    the machine, the wider that moment and the more clones start, which makes it busier still: the test suite's
    history of 150 jobs took from 30 s to 520 s that way. A clone of this job only waits in SUBMITTED until its
    abort."""
    folder = fj.examples.hello_numpy(dest, num_rounds=1, min_clients=HISTORY_MIN_CLIENTS, name="history")
    job = raw.submit_job(folder)
    raw.abort_job(job)
    settle(raw, {job})
    return job


def fill(raw, total: int, source: str) -> float:
    """Bring the server to ``total`` jobs: clones of job ``source`` (``history_source``), each aborted at once, and
    return once every one of them shows FINISHED (a history is jobs that ended). Returns the seconds it took."""
    t0 = time.perf_counter()
    made = set()
    for _ in range(total - len(raw.list_jobs())):
        job = raw.clone_job(source)
        raw.abort_job(job)
        made.add(job)
    settle(raw, made)
    return time.perf_counter() - t0


def settle(raw, aborted: set, timeout: float = 300) -> None:
    """Wait until every job of ``aborted`` (held jobs, just aborted) shows FINISHED; one whose abort was written over
    is aborted again."""
    deadline = time.monotonic() + timeout
    sent = time.monotonic()
    while True:
        unsettled = [
            j["job_id"]
            for j in raw.list_jobs()
            if j["job_id"] in aborted and not str(j.get("status", "")).startswith("FINISHED")
        ]
        if not unsettled:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(unsettled)} aborted jobs have not ended, e.g. {unsettled[0]}")
        if time.monotonic() - sent > ABORT_AGAIN_SECONDS:
            for job in unsettled:
                with contextlib.suppress(compat.JobNotRunning):  # it ended since the listing
                    raw.abort_job(job)
            sent = time.monotonic()
        time.sleep(0.5)


def wait_status(raw, job: str, done, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        meta = raw.get_job_meta(job)
        if done(str(meta.get("status", ""))):
            return meta
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job} is still {meta.get('status')}")
        time.sleep(0.5)


def rounds_done(s, job: str) -> int:
    """Rounds the running job's server log says have started (read whole: only the benchmark's own waits do)."""
    return round_from_log(s.job_progress_lines(job)) or 0


def wait_round(s, job: str, k: int, timeout: float = 1800) -> int:
    deadline = time.monotonic() + timeout
    while (done := rounds_done(s, job)) < k:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job} reached round {done}, not {k}")
        time.sleep(2)
    return done


# -- what is measured ----------------------------------------------------------------------------------------------
def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def list_jobs_ratio(ip, raw, repeat: int) -> dict:
    """``%flare list_jobs`` against NVFlare's own ``list_jobs`` (another session), called in turn ``repeat`` times."""
    frame = ip.run_line_magic("flare", "list_jobs")
    raw.list_jobs()
    ours, base = [], []
    for _ in range(repeat):
        ours.append(timed(lambda: ip.run_line_magic("flare", "list_jobs")))
        base.append(timed(raw.list_jobs))
    return {
        "jobs": len(frame),
        "raw_ms": statistics.median(base) * 1000,
        "magic_ms": statistics.median(ours) * 1000,
        "ratio": statistics.median(ours) / statistics.median(base),
        "added_ms": (statistics.median(ours) - statistics.median(base)) * 1000,
        "dtypes": {k: str(v) for k, v in frame.dtypes.items()},
    }


def status_sources(raw, job: str, repeat: int) -> dict:
    """What the status of W watched jobs costs each way: W ``get_job_meta`` calls, W ``list_jobs(id_prefix)``
    calls, or one ``list_jobs``: each call's median time here, times the calls it takes."""
    meta = statistics.median(timed(lambda: raw.get_job_meta(job)) for _ in range(repeat))
    prefix = statistics.median(timed(lambda: raw.list_jobs(id_prefix=job[:8])) for _ in range(repeat))
    listing = statistics.median(timed(raw.list_jobs) for _ in range(repeat))
    return {
        "get_job_meta_ms": meta * 1000,
        "list_jobs_id_prefix_ms": prefix * 1000,
        "list_jobs_ms": listing * 1000,
        "by_watched": {
            str(w): {
                "get_job_meta_ms": w * meta * 1000,
                "id_prefix_ms": w * prefix * 1000,
                "listing_ms": listing * 1000,
            }
            for w in WATCHED
        },
    }


def tick_cost(s, jobs: list[str], monitors: int, ticks: int, interval: float, pace: bool = True) -> dict:
    """The poller's NVFlare time per tick with ``monitors`` monitors on ``jobs`` (spread evenly) and a jobs panel,
    at a poll interval of ``interval`` seconds (ticked at that pace, or back to back without ``pace``): the first
    tick apart, then at least ``ticks`` ticks and whole cycles of the panel's automatic listings."""
    poller = Poller(session_fn=lambda: s, interval_fn=lambda: interval, autostart=False)
    panel = JobsPanel(poller=poller)
    poller.prime(panel)  # as fj.jobs_panel() shows it: listed once, at once
    widgets = [panel, *(JobMonitor(jobs[i % len(jobs)], poller=poller) for i in range(monitors))]
    try:
        poller.tick()
        first = poller.last_tick_seconds
        every = poller.listing_every()
        count = max(ticks, 2 * every) if every > 1 else ticks
        count -= count % every
        seconds, calls, listings = [], [], 0
        for _ in range(count):
            t0 = time.monotonic()
            before = poller.calls_by_name["list_jobs"]
            poller.tick()
            seconds.append(poller.last_tick_seconds)
            calls.append(poller.last_tick_calls)
            listings += poller.calls_by_name["list_jobs"] - before
            if pace:
                time.sleep(max(0.0, interval - (time.monotonic() - t0)))
        return {
            "mean_ms": statistics.mean(seconds) * 1000,
            "median_ms": statistics.median(seconds) * 1000,
            "max_ms": max(seconds) * 1000,
            "first_tick_ms": first * 1000,
            "ticks": count,
            "listings": listings,
            "listing_every": every,
            "calls_per_tick": statistics.mean(calls),
            "by_method": {k: v for k, v in sorted(poller.calls_by_name.items())},
            "ms_per_call": {k: poller.seconds_by_name[k] / n * 1000 for k, n in sorted(poller.calls_by_name.items())},
            "errors": sorted({w.message for w in widgets if w.message}),
        }
    finally:
        for widget in widgets:
            widget.close()


def detail_cost(s, job: str, ticks: int, interval: float) -> dict:
    """One running job's per-tick detail calls (``show_stats`` on server and clients, what its log and round
    records gained): NVFlare time and bytes read, median over ``ticks`` ticks after the first; and, against it, the
    server-side grep of its whole log (what each tick read before) and its answer's size."""
    poller = Poller(session_fn=lambda: s, interval_fn=lambda: interval, autostart=False)
    m = JobMonitor(job, poller=poller)
    details = ("show_stats", "job_file_since")
    try:
        poller.tick()  # its first read of the log (the whole log so far) and config
        seconds, sizes = [], []
        for _ in range(ticks):
            t0 = time.monotonic()
            before, read = {k: poller.seconds_by_name[k] for k in details}, poller.bytes_read
            poller.tick()
            seconds.append(sum(poller.seconds_by_name[k] - before[k] for k in details))
            sizes.append(poller.bytes_read - read)
            time.sleep(max(0.0, interval - (time.monotonic() - t0)))
        grep_s, grep_text = [], ""
        for _ in range(ticks):
            t0 = time.perf_counter()
            grep_text = s.job_progress_lines(job)
            grep_s.append(time.perf_counter() - t0)
        return {
            "round": m.progress.round,
            "detail_ms": statistics.median(seconds) * 1000,
            "bytes_per_tick": statistics.mean(sizes),  # a round's lines come at once: some ticks read none
            "grep_ms": statistics.median(grep_s) * 1000,
            "grep_bytes": len(grep_text.encode()),
        }
    finally:
        m.close()


def measure(s, ip, raw, running: list[str], args) -> dict:
    return {
        "jobs": len(raw.list_jobs()),
        "list_jobs": list_jobs_ratio(ip, raw, args.repeat),
        "status_sources": status_sources(raw, running[0], args.repeat),
        "tick": tick_cost(s, running, args.monitors, args.ticks, args.interval),
    }


def smoke(s, raw, running: list[str], source: str, jobs: int, monitors: int = 10, ticks: int = 12) -> dict:
    """The short version, on a system already running (the test suite's): the tick with the jobs it holds now, then
    with ``jobs`` jobs (``fill``'s clones of ``source``, a ``history_source``), ticked back to back; and a listing's
    time at both. Its ``tick_ratio`` compares the ticks' medians (a few ticks' mean is at the mercy of one slow
    answer)."""
    listing_small = statistics.median(timed(raw.list_jobs) for _ in range(5))
    small = tick_cost(s, running, monitors, ticks, interval=1.0, pace=False)
    fill(raw, jobs, source)
    listing_large = statistics.median(timed(raw.list_jobs) for _ in range(5))
    large = tick_cost(s, running, monitors, ticks, interval=1.0, pace=False)
    return {
        "tick_ratio": large["median_ms"] / small["median_ms"],
        "listing_ratio": listing_large / listing_small,
        "small": small,
        "large": large,
    }


# -- the run -------------------------------------------------------------------------------------------------------
def setup(s, raw, dest: Path) -> tuple[list[str], str]:
    """Two short jobs run to completion and two long ones left running; returns (the long ones, the job ``fill``
    clones)."""
    short = [raw.submit_job(fj.examples.hello_numpy(dest / f"short{i}", num_rounds=1, name="short")) for i in (0, 1)]
    for job in short:
        wait_status(raw, job, lambda st: st.startswith("FINISHED"))
    running = [
        raw.submit_job(fj.examples.hello_numpy(dest / f"long{i}", num_rounds=100_000, name=f"long{i}")) for i in (0, 1)
    ]
    for job in running:
        wait_status(raw, job, lambda st: st == "RUNNING")
    return running, history_source(raw, dest / "history")


def shell():
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(history_manager=None)
    ip.run_line_magic("load_ext", "flare_jupyter")
    ip.run_line_magic("config", "FlareMagics.progress = False")
    return ip


def run(args, tmp: Path) -> dict:
    system = fj.poc.start(workspace=tmp / "poc", progress=None)
    raw = compat.open_session(system.username, system.kit, True, 10.0)
    try:
        s, ip = fj.session(), shell()
        running, source = setup(s, raw, tmp / "jobs")
        results = {"monitors": args.monitors, "interval_s": args.interval}
        results["fill_small_s"] = fill(raw, SMALL, source)
        wait_round(s, running[0], 5)
        results["detail_round_5"] = detail_cost(s, running[0], args.detail_ticks, args.interval)
        results["small"] = measure(s, ip, raw, running, args)
        results["fill_s"] = fill(raw, args.jobs, source)
        results["large"] = measure(s, ip, raw, running, args)
        wait_round(s, running[0], args.late_round)
        results["detail_round_200"] = detail_cost(s, running[0], args.detail_ticks, args.interval)
        for job in running:
            raw.abort_job(job)
        return results
    finally:
        raw.close()  # an open NVFlare session keeps non-daemon threads: the interpreter would not exit
        fj.poc.stop()


def summary(results: dict, n: int) -> dict:
    small, large = results["small"], results["large"]
    r5, r200 = results["detail_round_5"], results["detail_round_200"]
    return {
        "jobs": large["jobs"],
        "jobs_asked": n,
        "tick_ratio": large["tick"]["mean_ms"] / small["tick"]["mean_ms"],
        "list_jobs_ratio": large["list_jobs"]["ratio"],
        "raw_list_jobs_ms": large["list_jobs"]["raw_ms"],
        "tick_ms": large["tick"]["mean_ms"],
        "tick_ms_small": small["tick"]["mean_ms"],
        "small_jobs": small["jobs"],
        "list_jobs_ratio_small": small["list_jobs"]["ratio"],
        "raw_list_jobs_ms_small": small["list_jobs"]["raw_ms"],
        "detail_ms_ratio_round_200_vs_5": r200["detail_ms"] / r5["detail_ms"],
        "detail_bytes_round_5": r5["bytes_per_tick"],
        "detail_bytes_round_200": r200["bytes_per_tick"],
        "grep_bytes_round_5": r5["grep_bytes"],
        "grep_bytes_round_200": r200["grep_bytes"],
        **results,
    }


def report(out: dict) -> None:
    for label, key in (("~10 jobs", "small"), (f"{out['jobs']} jobs", "large")):
        m = out[key]
        lj, t = m["list_jobs"], m["tick"]
        print(
            f"{label:>10}: list_jobs raw {lj['raw_ms']:7.1f} ms, %flare list_jobs {lj['magic_ms']:7.1f} ms "
            f"({lj['ratio']:.3f}x, +{lj['added_ms']:.2f} ms); tick {t['mean_ms']:.1f} ms mean, {t['median_ms']:.1f} ms "
            f"median, {t['listings']} page listings in {t['ticks']} ticks (every {t['listing_every']})"
        )
        for w, c in m["status_sources"]["by_watched"].items():
            print(
                f"{'':>12}{w:>3} watched: get_job_meta {c['get_job_meta_ms']:8.1f} ms, "
                f"list_jobs(id_prefix) {c['id_prefix_ms']:8.1f} ms, one listing {c['listing_ms']:8.1f} ms"
            )
    for k in (5, 200):
        d = out[f"detail_round_{k}"]
        print(
            f"round {d['round']:>4}: detail calls {d['detail_ms']:.1f} ms and {d['bytes_per_tick']:.0f} bytes a tick "
            f"(the whole log's grep: {d['grep_ms']:.1f} ms, {d['grep_bytes']} bytes)"
        )
    print(
        f"tick_ratio {out['tick_ratio']:.3f}, list_jobs_ratio {out['list_jobs_ratio']:.3f} "
        f"(~10 jobs: {out['list_jobs_ratio_small']:.3f}), detail time round 200 / round 5 "
        f"{out['detail_ms_ratio_round_200_vs_5']:.2f}; {out['jobs']} jobs made in {out['fill_s']:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--monitors", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--detail-ticks", type=int, default=15)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--late-round", type=int, default=200, help="the round of the second detail measure")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = summary(run(args, Path(tmp)), args.jobs)
    report(out)
    save(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
