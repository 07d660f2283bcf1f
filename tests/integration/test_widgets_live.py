"""The live widgets against the real embedded system, served by the kernel's shared poller thread.

A monitored job reaches FINISHED:COMPLETED with round k = N; the Abort button (after its confirmation) ends a job
as aborted; cells run while monitors are live; the panels show the server's jobs and clients; the log viewer
follows; ten monitors cost one status call per tick. (A server restart under live widgets is in
test_faults_live.py.) Every wait polls with a deadline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from live_jobs import CLIENTS, slow_job, wait_finished

import flare_jupyter as fj
from flare_jupyter import compat, settings
from flare_jupyter.metrics import AGGREGATED
from flare_jupyter.poller import Poller
from flare_jupyter.progress import ROUND_RECORDS
from flare_jupyter.widgets import Dashboard, JobMonitor, LogViewer
from polling import wait_for
from record import HOSTILE


@pytest.fixture(autouse=True)
def fast_poller(live, monkeypatch):
    """The kernel's shared poller at a 1 s interval; every widget a test opened is closed afterwards."""
    monkeypatch.setattr(settings, "poll_interval", 1.0)
    yield Poller.shared()
    for sub in Poller.shared().subscribers:
        sub.close()
    wait_for(lambda: not Poller.shared().running, timeout=30)


def test_a_monitored_job_finishes_with_round_n_of_n(live, jobs_dir, monkeypatch):
    monkeypatch.setattr(settings, "poll_interval", 0.01)  # asks as often as it can while the job starts
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "mon3", num_rounds=3, name="mon3"))
    m = fj.monitor(job)
    assert isinstance(m, JobMonitor) and not m.finished  # returned at once, the job has not even started
    assert m.wait(timeout=180) == compat.MonitorReturnCode.JOB_FINISHED
    assert m.status == "FINISHED:COMPLETED", repr(m)  # its triage, when it failed
    assert m.bar.max == 3 and m.bar.value == 3 and m.bar.bar_style == "success"
    assert "round 3 of 3" in m.bar_label.value
    sites = set(m.metrics["site"])  # with each round's aggregated values when the job writes round records
    assert sites - {AGGREGATED} == CLIENTS and set(m.metrics["metric"]) == {"accuracy"}
    assert (AGGREGATED in sites) == (m.metrics.source == ROUND_RECORDS)
    assert "<svg" in m.chart.value
    for site in CLIENTS:
        assert site in m.sites.value
    assert "FINISHED:COMPLETED" in repr(m) and "round 3 of 3" in repr(m)
    assert m.message == ""
    # the monitor asked nothing the job's process could not answer: its show_stats waits for the runner to start,
    # and stops once the run began to end (asked then, the process logged "streamed response ... failed: streaming
    # shutdown" in a CI run)
    errors = [line for line in live.job_log(job, "server").splitlines() if " - ERROR - " in line]
    assert errors == []


def test_the_abort_button_asks_then_aborts_the_job(live, jobs_dir):
    job = live.submit_job(slow_job(jobs_dir / "to-abort", name="to-abort"))
    m = fj.monitor(job)
    wait_for(lambda: m.status == "RUNNING", timeout=120)
    m.abort_button.click()
    assert m.confirm.is_open
    m.confirm.no.click()  # changed their mind: nothing is sent
    assert not m.confirm.is_open
    assert live.get_job_meta(job)["status"] == "RUNNING"
    m.abort_button.click()
    m.confirm.yes.click()
    assert m.wait(timeout=120) == compat.MonitorReturnCode.JOB_FINISHED
    assert m.status == "FINISHED:ABORTED" and m.bar.bar_style == "warning"
    assert live.get_job_meta(job)["status"] == "FINISHED:ABORTED"


def test_cells_run_while_two_monitors_are_live(live, jobs_dir, cell, ip):
    jobs = [live.submit_job(slow_job(jobs_dir / f"busy{i}", name=f"busy{i}")) for i in range(2)]
    try:
        monitors = [fj.monitor(j) for j in jobs]
        wait_for(lambda: all(m.status == "RUNNING" for m in monitors), timeout=120)
        t0 = time.monotonic()
        result, out = cell("answer = 6 * 7")
        elapsed = time.monotonic() - t0
        assert result.success and ip.user_ns["answer"] == 42
        assert not any(m.finished for m in monitors)  # the cell did not wait for the jobs
        print(f"a trivial cell with two live monitors: {elapsed * 1000:.1f} ms")
        df = fj.frames.jobs_frame(live.list_jobs())  # the session is shared with the poller thread
        assert set(jobs) <= set(df["job_id"])
    finally:
        for j in jobs:
            live.abort_job(j)
        for j in jobs:
            wait_finished(live, j, aborted=True)


def test_the_monitor_magic_returns_a_live_widget_in_a_kernel(live, flare, jobs_dir, monkeypatch):
    monkeypatch.setattr("flare_jupyter.ops.jobs.widgets_render_here", lambda: True)
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "magic-mon", num_rounds=1, name="magic-mon"))
    m = flare(f"monitor {job[:8]}")
    assert isinstance(m, JobMonitor) and m.job_id == job
    assert m.wait(timeout=180) == compat.MonitorReturnCode.JOB_FINISHED
    assert m.status == "FINISHED:COMPLETED", repr(m)  # its triage, when it failed
    with pytest.raises(UsageError, match="does not exist on the server"):
        flare("monitor 00000000-0000-0000-0000-000000000000")


def test_panels_show_the_servers_jobs_and_clients(live, finished_job, jobs_dir):
    hostile = Path(fj.examples.hello_numpy(jobs_dir / "hostile-panel", num_rounds=1, name="hostile"))
    meta = json.loads((hostile / "meta.json").read_text())
    meta["name"] = HOSTILE
    (hostile / "meta.json").write_text(json.dumps(meta))
    hostile_id = live.submit_job(str(hostile))
    d = fj.dashboard()
    assert isinstance(d, Dashboard)
    wait_for(lambda: hostile_id in d.jobs.table.value and finished_job in d.jobs.table.value, timeout=60)
    assert "&lt;img src=x onerror=alert(1)&gt;" in d.jobs.table.value and "<img" not in d.jobs.table.value
    wait_for(lambda: all(site in d.clients.table.value for site in CLIENTS), timeout=60)
    wait_for(lambda: len(d.logs.buffer) > 0, timeout=60)
    assert "embedded (POC)" in d.header.value and str(compat.NVFLARE_VERSION) in d.header.value
    # an action in one panel is seen by the others at the next tick
    d.jobs.id_filter.value = hostile_id[:8]
    wait_for(lambda: list(d.jobs.shown["job_id"]) == [hostile_id], timeout=30)
    assert d.jobs.select.value == hostile_id  # the row shown is the one the buttons act on
    d.jobs.buttons["Monitor"].click()
    m = d.jobs.monitors.children[0]
    assert m.wait(timeout=180) == compat.MonitorReturnCode.JOB_FINISHED
    assert "&lt;img src=x onerror=alert(1)&gt;" in m.header.value and "<img" not in m.header.value
    d.jobs.buttons["Clone"].click()
    wait_for(lambda: "cloned as" in d.jobs.message, timeout=60)
    clone = d.jobs.message.rsplit(" ", 1)[1]
    wait_finished(live, clone)
    d.jobs.id_filter.value = clone[:8]
    wait_for(lambda: list(d.jobs.shown["job_id"]) == [clone], timeout=30)
    assert d.jobs.select.value == clone  # (the page is drawn in the poller's thread: shown is its last step)
    d.jobs.buttons["Delete"].click()
    d.jobs.confirm.yes.click()
    wait_for(lambda: clone not in [j["job_id"] for j in live.list_jobs()], timeout=60)
    wait_for(lambda: len(d.jobs.shown) == 0, timeout=30)
    d.close()


def test_the_log_viewer_follows_the_server_log(live, jobs_dir):
    v = fj.log_viewer("server", lines=20, follow=True)
    assert isinstance(v, LogViewer)
    wait_for(lambda: len(v.buffer) > 0, timeout=30)
    before = len(v.buffer)
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "logged", num_rounds=1, name="logged"))
    # the server logs the job's scheduling and deployment: the followed buffer grows past one tail of 20 lines
    wait_for(lambda: len(v.buffer) > max(before, 20), timeout=60)
    wait_finished(live, job)
    v.pattern.value = "no line has this 7f3a"
    wait_for(lambda: v.count.value.startswith("0 of"), timeout=30)
    v.close()


def test_ten_monitors_cost_one_status_call_per_tick(live, jobs_dir):
    poller = Poller(autostart=False)
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "ten", num_rounds=2, name="ten"))
    monitors = [JobMonitor(job, poller=poller) for _ in range(10)]
    listing_calls, per_tick = [], []
    deadline = time.monotonic() + 180
    while not all(m.finished for m in monitors) and time.monotonic() < deadline:
        before = poller.calls
        snap = poller.tick()
        per_tick.append(poller.calls - before)
        listing_calls.append(1 if snap.jobs is not None else 0)
        time.sleep(0.5)  # the pace of a poller; what is asserted is the call count, not the time
    assert all(m.status == "FINISHED:COMPLETED" for m in monitors)
    assert all(n == 1 for n in listing_calls[:-1])
    # one status call + at most 5 detail calls (config once, 2 stats, what the log and round records gained) for
    # the one watched job, never x10
    assert max(per_tick) <= 6
    print(f"10 monitors on one job: calls per tick {per_tick}")
    assert poller.subscribers == []


def _quietly(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass
