"""The widgets and listings on a server with a history, on the real embedded system: the poller's tick makes no more
calls than on a small server, its listings spaced out (the short run of benchmarks/history.py, whose figures report
the times), a running job's progress is read from where the last
read ended (never the whole log again), ``%flare list_jobs`` of many jobs shows pandas' truncated view and returns
them all with their dtypes, and the jobs panel pages through the server's own filters and says what it filters
itself.

The history is made as the benchmark makes it (real jobs: clones of a job that never starts, aborted at once through
NVFlare's API), on the test session's embedded system, and removed again afterwards so the tests after these see a small
server. Two held jobs stay RUNNING meanwhile (their clients hold the first task until aborted).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from live_jobs import delete_all, slow_job, wait_finished, wait_runner_started

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.metrics import AGGREGATED, ROUND_METRICS, round_metrics_rows
from flare_jupyter.poller import Poller
from flare_jupyter.progress import ROUND_RECORDS, SERVER_LOG
from flare_jupyter.widgets import JobMonitor
from polling import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import history  # noqa: E402

ADDED = 150  # jobs the history adds to the server


# First in the module, before the history below is made: nvflare 2.5.2 once kept this job SUBMITTED for 5 min
# while the two held jobs ran after the history's clones were aborted at their start (its scheduler admitted
# nothing more: max_jobs is 4 and two slots seemed never freed), until a held job was aborted.
def test_a_running_jobs_progress_is_read_from_where_the_last_read_ended(live, jobs_dir):
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "grow", num_rounds=4, name="grow"))
    poller = Poller(session_fn=lambda: live, autostart=False)
    m = JobMonitor(job, poller=poller)
    reads = []
    while not m.finished:
        before = poller.bytes_read
        poller.tick()
        reads.append(poller.bytes_read - before)
        time.sleep(1.0)  # a poller's pace; what is asserted is the bytes read, not a time
        assert len(reads) < 300, "the job did not end"
    files = poller._files[job]
    # every byte of the log and round records read about once: what the files held, plus the one newline each read
    # starts from and the odd line still being written when read
    written = files.log_file.offset + files.records_file.offset
    assert written > 0 and sum(reads) <= written + 1000 * len(reads), (sum(reads), written, len(reads))
    assert m.status == "FINISHED:COMPLETED" and m.progress.round_text() == "round 4 of 4"
    if m.metrics.source == ROUND_RECORDS:  # the job wrote NVFlare's round records (nvflare >= 2.9)
        exact = round_metrics_rows(live.finished_job_files(job, ROUND_METRICS)[ROUND_METRICS])
        assert list(m.metrics.itertuples(index=False, name=None)) == exact
        assert AGGREGATED in set(m.metrics["site"])
    else:
        assert m.metrics.source == SERVER_LOG and len(m.metrics)
    assert m.message == ""
    wait_finished(live, job)


@pytest.fixture(scope="module")
def grown(poc_system, jobs_dir):
    """The smoke run of benchmarks/history.py (which grows the server by ``ADDED`` jobs), two held jobs RUNNING;
    afterwards every job it added is aborted and deleted."""
    s = fj.connect(poc_system.kit)
    raw = compat.open_session(poc_system.username, poc_system.kit, True, 10.0)
    before = {j["job_id"] for j in s.list_jobs()}
    running = [s.submit_job(slow_job(jobs_dir / f"held{i}", name=f"held{i}")) for i in (0, 1)]
    try:
        wait_for(lambda: all(s.get_job_meta(j)["status"] == "RUNNING" for j in running), timeout=120)
        for job in running:  # the monitors' ticks are steady from the first: they may ask the jobs' show_stats
            wait_runner_started(s, job)
        source = history.history_source(raw, jobs_dir / "history")
        result = history.smoke(s, raw, running, source, jobs=len(before) + len(running) + 1 + ADDED)  # + the source
        yield {"result": result, "running": running, "before": before, "s": s}
    finally:
        added = [j["job_id"] for j in s.list_jobs() if j["job_id"] not in before]
        for job in running:
            s.abort_job(job)
        for job in running:
            wait_finished(s, job, aborted=True)
        delete_all(s, added)
        raw.close()
    assert {j["job_id"] for j in s.list_jobs()} == before


def test_the_tick_makes_no_more_calls_on_a_server_with_a_history(grown):
    r = grown["result"]
    small, large = r["small"], r["large"]
    assert small["errors"] == [] and large["errors"] == []
    # the calls: the grown server's listing is dear enough that the panel lists its page only every few ticks, the
    # monitors' statuses need no call of their own (their server show_stats say they run): no more calls per tick
    assert large["listing_every"] >= 2
    assert large["listings"] <= large["ticks"] // large["listing_every"]
    assert steady_calls(large) <= steady_calls(small) + 1e-9, r
    # the times themselves (tick_ratio against listing_ratio) are the benchmark's to report (benchmarks/history.py):
    # a ratio of two wall-clock medians is at the mercy of the machine's load (a run beside the other release's
    # suite measured 2.16 against 1.92), so the test asserts the calls that make the tick cheap, and shows the times
    print(f"[figure] history: tick_ratio {r['tick_ratio']:.2f}, listing_ratio {r['listing_ratio']:.2f}")


def steady_calls(phase: dict) -> float:
    """Calls per tick besides the panel's automatic listings, whose pace follows a listing's measured time (on nvflare
    2.5 it barely differs between the two servers, so the pace does too, by the noise of the machine)."""
    return phase["calls_per_tick"] - phase["listings"] / phase["ticks"]


def test_many_jobs_listed_by_the_magic_show_truncated_and_come_back_whole(grown, flare, ip):
    s = grown["s"]
    listed = s.list_jobs()
    assert len(listed) > pd.get_option("display.max_rows")
    df = flare("list_jobs")
    assert len(df) == len(listed) and set(df["job_id"]) == {j["job_id"] for j in listed}  # every job returned
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    assert str(df["submit_time"].dtype) == "datetime64[us, UTC]" and str(df["duration"].dtype) == "timedelta64[us]"
    shown = ip.display_formatter.format(df)[0]
    assert f"{len(df)} rows × {len(df.columns)} columns" in shown["text/html"]  # the total count
    assert shown["text/html"].count("<tr>") < len(df) / 2  # pandas' truncated view, not every row
    assert f"[{len(df)} rows x {len(df.columns)} columns]" in shown["text/plain"]


def test_the_jobs_panel_pages_through_the_servers_filters_and_filters_status_itself(grown):
    s, running = grown["s"], grown["running"]
    panel = fj.jobs_panel()
    try:
        newest = s.list_jobs(limit=50, reverse=True)
        assert [v for _label, v in panel.select.options] == [j["job_id"] for j in newest]
        assert panel.count.value.startswith("50 of 50 jobs")
        panel.status_filter.value = "RUNNING"  # the held jobs are older than the 50 newest
        wait_for(lambda: panel.shown.empty, timeout=30)  # (shown is the redraw's last step)
        assert "no job matches" in panel.table.value
        assert "status filtered in this page: the server filters by name and id only" in panel.count.value
        panel.name_filter.value = "held"  # the server's name filter reaches them
        wait_for(lambda: set(panel.shown["job_id"]) == set(running), timeout=30)
        assert {v for _l, v in panel.select.options} == set(running)
        assert all(r.status == "RUNNING" for r in panel.shown.itertuples())
    finally:
        panel.close()


def test_ten_monitors_on_the_grown_server_cost_no_listing_and_no_status_call(grown):
    s, running = grown["s"], grown["running"]
    poller = Poller(session_fn=lambda: s, autostart=False)
    monitors = [JobMonitor(running[i % 2], poller=poller) for i in range(10)]
    try:
        poller.tick()  # their first status: one listing (nothing timed yet: it says what a listing costs here)
        for _ in range(3):
            before = dict(poller.calls_by_name)
            poller.tick()
            asked = {k: poller.calls_by_name[k] - before.get(k, 0) for k in ("list_jobs", "get_job_meta", "show_stats")}
            # no status call at all: their server show_stats say they still run
            assert asked == {"list_jobs": 0, "get_job_meta": 0, "show_stats": 2 * len(running)}
        assert all(m.status == "RUNNING" and m.message == "" for m in monitors)
    finally:
        for m in monitors:
            m.close()
