"""Load on the real embedded system: 200 small jobs submitted in a loop, listed by ``%flare list_jobs`` and the jobs
panel exactly as the server lists them, 10 monitors at once whose statuses cost one listing or one ``get_job_meta``
each per tick (whichever this server's timings make cheaper), then every job aborted and deleted again so the tests
after this one see a small server.

The jobs need 3 clients (the system has 2), so the scheduler holds them in SUBMITTED: the cheapest job there is, and
one that stays put while it is listed. The figures (submit rate, listing and tick times) are printed as ``[figure]``
lines (run with ``-s``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from faults import FIGURES, fast_shared_poller, figure, frame_table, job_table, wait_healthy
from live_jobs import AbortsResent, delete_all

import flare_jupyter as fj
from flare_jupyter.poller import Poller
from flare_jupyter.widgets import JobMonitor, JobsPanel
from polling import wait_for

N_JOBS = 200
N_MONITORS = 10
PREFIX = "load-"


@pytest.fixture(scope="module", autouse=True)
def print_figures():
    yield
    mine = [f for f in FIGURES if f.startswith("load")]
    if mine:
        print("\n\nload figures:\n  " + "\n  ".join(mine), flush=True)


@pytest.fixture(autouse=True)
def healthy(live, poc_system):
    """The system is healthy before the test, and again after it (polled, with a deadline)."""
    wait_healthy(live, poc_system)
    yield
    wait_healthy(live, poc_system)


@pytest.fixture(autouse=True)
def fast_poller(live, monkeypatch, healthy):
    with fast_shared_poller(monkeypatch) as poller:
        yield poller


def held_job_folder(dest: Path) -> tuple[Path, dict]:
    """A 1-round job needing 3 clients: the scheduler holds it in SUBMITTED on this 2-client system."""
    folder = Path(fj.examples.hello_numpy(dest, num_rounds=1, min_clients=3, name="load"))
    return folder, json.loads((folder / "meta.json").read_text())


def submit_named(s, folder: Path, meta: dict, name: str) -> str:
    (folder / "meta.json").write_text(json.dumps({**meta, "name": name}))
    return s.submit_job(str(folder))


def remove_jobs(s, ids: list[str]) -> float:
    """Abort (a held job is cancelled at once) and delete each job; returns the seconds it took. A job whose abort
    does not show is aborted again (``AbortsResent``). Deletes start once every abort shows (the
    server's scheduler still touches a held job's folder until then), and a delete the server fails with an error
    of its own (its job store's ``OSError`` under this load) is tried again until it is gone."""
    t0 = time.monotonic()
    status = {k: v[1] for k, v in job_table(s).items()}
    for job in ids:
        if job in status and not status[job].startswith("FINISHED"):
            s.abort_job(job)
    mine = [job for job in ids if job in status]
    resend = AbortsResent(s)

    def all_aborted() -> bool:
        left = [k for k, v in job_table(s).items() if k in mine and not v[1].startswith("FINISHED")]
        resend(left)
        return not left

    wait_for(all_aborted, timeout=180, interval=1.0)
    delete_all(s, mine, timeout=30)
    return time.monotonic() - t0


def status_calls(poller, before) -> tuple[int, int]:
    """(list_jobs, get_job_meta) calls the poller made since ``before`` (a copy of its ``calls_by_name``)."""
    return (
        poller.calls_by_name["list_jobs"] - before.get("list_jobs", 0),
        poller.calls_by_name["get_job_meta"] - before.get("get_job_meta", 0),
    )


def test_two_hundred_jobs_are_listed_exactly_and_ten_monitors_take_the_cheaper_status_call(live, flare, jobs_dir):
    folder, meta = held_job_folder(jobs_dir / "load")
    existing = job_table(live)
    ids: list[str] = []
    t_all = time.monotonic()
    try:
        t0 = time.monotonic()
        for i in range(N_JOBS):
            ids.append(submit_named(live, folder, meta, f"{PREFIX}{i:03d}"))
        submit_seconds = time.monotonic() - t0
        assert len(set(ids)) == N_JOBS
        expected = {**existing, **{job: (f"{PREFIX}{i:03d}", "SUBMITTED") for i, job in enumerate(ids)}}

        # the server's own answer, then %flare list_jobs and the jobs panel: the same ids, names and statuses
        t0 = time.monotonic()
        raw = live.list_jobs()
        list_seconds = time.monotonic() - t0
        assert job_table(live) == expected and len(raw) == len(expected)
        t0 = time.monotonic()
        df = flare("list_jobs")
        magic_seconds = time.monotonic() - t0
        assert len(df) == len(raw) and frame_table(df) == expected
        assert df["job_id"].is_unique

        t0 = time.monotonic()
        panel = fj.jobs_panel(limit=1000)
        panel_seconds = time.monotonic() - t0
        assert isinstance(panel, JobsPanel)
        assert frame_table(panel.frame) == expected and frame_table(panel.shown) == expected
        assert panel.count.value.startswith(f"{len(expected)} of {len(expected)} jobs")
        assert all(job in panel.table.value for job in ids)
        assert len(panel.select.options) == len(expected)
        # filters over the 200: a name prefix, and the default limit (the newest 50, newest first)
        panel.name_filter.value = PREFIX
        wait_for(lambda: set(panel.shown["job_id"]) == set(ids), timeout=30)  # the server's own name filter
        assert panel.count.value.startswith(f"{N_JOBS} of {N_JOBS} jobs")  # (shown is the redraw's last step)
        small = fj.jobs_panel()
        assert small.count.value.startswith("50 of 50 jobs")  # the newest 50, as the server's limit gives them
        assert list(small.shown["name"]) == [f"{PREFIX}{i:03d}" for i in range(N_JOBS - 1, N_JOBS - 51, -1)]

        # 10 monitors on 10 of the jobs, driven tick by tick: their statuses by one listing (the first tick, which
        # times it) or by one get_job_meta per job, whichever this server's timings make cheaper, never both
        poller = Poller(autostart=False)
        watched = ids[:N_MONITORS]
        monitors = [JobMonitor(job, poller=poller) for job in watched]
        tick_seconds, per_tick, sources, decided = [], [], [], []
        for _ in range(3):
            # what the timings known before this tick make cheaper (the tick then times its own calls too)
            listing = poller.costs.listing_is_cheaper(N_MONITORS)
            decided.append((1, 0) if listing else (0, N_MONITORS))
            before = dict(poller.calls_by_name)
            t0 = time.monotonic()
            poller.tick()
            tick_seconds.append(time.monotonic() - t0)
            per_tick.append(poller.last_tick_calls)
            sources.append(status_calls(poller, before))
        assert sources[0] == (1, 0)  # nothing timed yet: one listing, which tells what a listing costs here
        assert sources[1:] == decided[1:], (sources, decided)
        assert per_tick == [sum(s) for s in sources]  # status calls only: every job is held, none runs
        assert all(m.status == "SUBMITTED" and m.message == "" for m in monitors)
        # the 10 jobs end (never having run): each monitor learns it, on the same status calls
        for job in watched:
            live.abort_job(job)
        resend = AbortsResent(live)
        deadline = time.monotonic() + 90
        while not all(m.finished for m in monitors) and time.monotonic() < deadline:
            resend([m.job_id for m in monitors if not m.finished])
            before = dict(poller.calls_by_name)
            poller.tick()
            per_tick.append(poller.last_tick_calls)
            sources.append(status_calls(poller, before))
            time.sleep(0.2)
        assert all(m.finished and m.status == "FINISHED:ABORTED" for m in monitors), [m.status for m in monitors]
        assert all(m.message == "" for m in monitors), [m.message for m in monitors]
        assert set(sources) <= {(1, 0), (0, N_MONITORS), (1, N_MONITORS)}, sources  # + their final metas once
        assert poller.subscribers == []
        # the panel follows: the 10 are aborted, the other 190 still held
        expected.update({job: (expected[job][0], "FINISHED:ABORTED") for job in watched})
        panel.name_filter.value = ""
        wait_for(lambda: frame_table(panel.frame) == expected, timeout=30)
        assert frame_table(flare("list_jobs")) == expected
        panel.close()
        small.close()
    finally:
        cleanup_seconds = remove_jobs(live, ids)
    # every one of them is gone, and the server lists what it listed before
    assert job_table(live) == existing
    assert not any(job in job_table(live) for job in ids)
    total = time.monotonic() - t_all
    figure(
        f"load: {N_JOBS} submits in {submit_seconds:.1f} s ({submit_seconds / N_JOBS * 1000:.0f} ms each); "
        f"list_jobs of {len(raw)} jobs {list_seconds * 1000:.0f} ms, %flare list_jobs {magic_seconds * 1000:.0f} ms, "
        f"jobs panel (limit 1000) ready in {panel_seconds * 1000:.0f} ms; {N_MONITORS} monitors: tick "
        f"{max(tick_seconds) * 1000:.0f} ms, calls per tick {per_tick}; abort+delete of {N_JOBS} in "
        f"{cleanup_seconds:.1f} s; whole test {total:.1f} s"
    )
    shutil.rmtree(folder, ignore_errors=True)
