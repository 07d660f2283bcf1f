"""The shared poller on answers recorded from a real system: one status call per tick however many widgets watch,
details only for running watched jobs (their progress lines grepped on the server, the whole log once they ended),
actions on the poller's thread, failures shown (and cleared) in banners, and ``prime`` for new widgets.

The lifecycle answers come from tests/recordings/widgets-2.9.0.json (tests/record_monitor.py), replayed in recorded
order; actions use tests/recordings/nvflare-2.9.0.json (tests/record.py).
"""

from __future__ import annotations

import json

import pytest

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, load_recording
from flare_jupyter import compat
from flare_jupyter.poller import Poller
from flare_jupyter.widgets import JobMonitor, JobsPanel

RECORDING = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())
JOBS = RECORDING["jobs"]
THREE, HOSTILE_ID = JOBS["three_rounds"], JOBS["hostile"]
LIFECYCLE = RECORDING["ticks"]["lifecycle"]
DETAIL_METHODS = {"get_job_meta", "cat_target", "show_stats", "grep_target", "get_job_logs"}
INTERVAL = 1.0

ACTIONS = load_recording("2.9.0")
FINISHED = ACTIONS["jobs"]["finished"]
CLONE = ACTIONS["jobs"]["clone"]  # record.py aborted it before it ran, then deleted it
NO_JOB = "00000000-0000-0000-0000-000000000000"  # record.py asked for it; NVFlare answered JobNotFound


def replay(recording=RECORDING, sequence=True):
    raw = RecordedSession(recording, sequence=sequence)
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=raw)
    return raw, ks


def make_poller(session_fn) -> Poller:
    return Poller(session_fn=session_fn, interval_fn=lambda: INTERVAL, autostart=False)


def tick(poller, raw):
    """One tick: (its snapshot, the calls it made)."""
    before = len(raw.calls)
    snapshot = poller.tick()
    return snapshot, raw.calls[before:]


def job_of(call) -> str | None:
    method, args = call
    if method in ("cat_target", "grep_target"):
        return args["file"].split("/", 1)[0]
    return args.get("job_id")


def recorded_statuses(job_id: str) -> list[str | None]:
    """The job's status in each recorded list_jobs answer (one per tick), None while it is not listed."""
    listings = [c["result"] for c in RECORDING["calls"] if c["method"] == "list_jobs" and "result" in c]
    return [next((j["status"] for j in listing if j["job_id"] == job_id), None) for listing in listings]


def run_monitors(n: int, with_panel: bool = False):
    """``n`` monitors of the 3-round job (and the jobs panel) through the recorded lifecycle."""
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    monitors = [JobMonitor(THREE, poller=poller) for _ in range(n)]
    panel = JobsPanel(poller=poller) if with_panel else None
    ticks = [tick(poller, raw) for _ in range(LIFECYCLE)]
    return raw, poller, monitors, panel, ticks


# -- one list_jobs per tick, details only for running watched jobs -------------------------------------------------
@pytest.mark.parametrize("n, with_panel", [(1, False), (10, False), (10, True)])
def test_each_tick_makes_one_list_jobs_call(n, with_panel):
    _raw, _poller, monitors, _panel, ticks = run_monitors(n, with_panel)
    for _snapshot, calls in ticks:
        assert [m for m, _ in calls].count("list_jobs") == 1
    assert all(m.status == "FINISHED:COMPLETED" for m in monitors)


@pytest.mark.parametrize("n, with_panel", [(1, False), (10, False), (10, True)])
def test_details_only_for_the_running_watched_job_and_once_per_tick(n, with_panel):
    _raw, _poller, _monitors, _panel, ticks = run_monitors(n, with_panel)
    stats_ticks = 0
    for snapshot, calls in ticks:
        status = snapshot.jobs[THREE]["status"]
        details = [c for c in calls if c[0] in DETAIL_METHODS]
        assert {job_of(c) for c in details} <= {THREE}  # nobody watches the other job
        stats = [c[1]["target_type"] for c in details if c[0] == "show_stats"]
        greps = [c for c in details if c[0] == "grep_target"]
        if status == "RUNNING":
            assert sorted(stats) == ["client", "server"]  # once each, not once per monitor
            assert len(greps) == 1
            stats_ticks += 1
        else:
            assert stats == [] and greps == []
        assert [c[0] for c in details].count("get_job_logs") <= 1
        assert [c[0] for c in details].count("get_job_meta") <= 1
    assert stats_ticks > 0


def test_ten_monitors_cost_what_one_does():
    one = [calls for _s, calls in run_monitors(1)[4]]
    ten = [calls for _s, calls in run_monitors(10)[4]]
    assert ten == one


def test_a_submitted_job_gets_no_detail_calls():
    # which phase-1 job was still waiting to run, and at which ticks, is read from the recorded listings
    job, waiting = next(
        (job, [i for i, st in enumerate(recorded_statuses(job)[:LIFECYCLE]) if st in ("SUBMITTED", "DISPATCHED")])
        for job in (THREE, HOSTILE_ID)
        if "SUBMITTED" in recorded_statuses(job)[:LIFECYCLE]
    )
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    monitor = JobMonitor(job, poller=poller)
    ticks = [tick(poller, raw) for _ in range(max(waiting) + 1)]
    for i in waiting:
        snapshot, calls = ticks[i]
        assert snapshot.jobs[job]["status"] in ("SUBMITTED", "DISPATCHED")
        assert [m for m, _ in calls] == ["list_jobs"]
    assert monitor.status == ticks[-1][0].jobs[job]["status"]


def test_a_running_job_is_followed_by_grep_and_its_whole_log_is_read_once_when_it_ended():
    _raw, _poller, _monitors, _panel, ticks = run_monitors(1)
    statuses = [snapshot.jobs[THREE]["status"] for snapshot, _calls in ticks]
    running = [i for i, st in enumerate(statuses) if st == "RUNNING"]
    ended = statuses.index("FINISHED:COMPLETED")
    assert running == list(range(ended))  # it ran from the first tick until it ended
    for i in running:
        calls = ticks[i][1]
        assert "get_job_logs" not in [m for m, _ in calls]  # never the whole log while it runs
        (grep,) = [args for m, args in calls if m == "grep_target"]
        assert grep["target"] == "server" and grep["file"] == f"{THREE}/log.txt"
        assert grep["pattern"] == compat.PROGRESS_PATTERN
    ((at, log_args),) = [(i, args) for i, (_s, calls) in enumerate(ticks) for m, args in calls if m == "get_job_logs"]
    assert at == ended  # once, at the tick it was seen finished
    assert log_args["job_id"] == THREE and log_args["target"] == "server"
    # that tick: the listing, the finished job's meta again (its end), its whole log; then nothing more
    assert [m for m, _ in ticks[ended][1]] == ["list_jobs", "get_job_meta", "get_job_logs"]
    assert all(calls == [] for _s, calls in ticks[ended + 1 :])
    ten = [calls for _s, calls in run_monitors(10)[4]]
    assert ten == [calls for _s, calls in ticks]  # ten monitors: the same calls, grep and log included


def test_a_job_aborted_before_it_ran_has_no_log_to_read():
    # record.py aborted this clone before it ran (NVFlare: "Aborted the job ... before running it."); its meta has
    # no start time. The poller re-reads a finished job's meta, and reads no log for a job that never started.
    raw = RecordedSession(ACTIONS, sequence=True)
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=raw)
    meta = ks.get_job_meta(CLONE)
    assert meta["status"] == "FINISHED:ABORTED" and not meta["start_time"]
    poller = make_poller(lambda: ks)
    before = len(raw.calls)
    detail = poller._detail(ks, CLONE, {"job_id": CLONE, "status": meta["status"]})
    assert raw.calls[before:] == [("get_job_meta", {"job_id": CLONE})]
    assert detail.meta == meta and detail.log_text is None and detail.errors == []


def test_the_poller_counts_its_calls():
    raw, poller, *_ = run_monitors(10)
    assert poller.calls == len(raw.calls)  # monitors make no calls of their own
    assert poller.ticks == LIFECYCLE


def test_last_tick_calls_is_what_the_tick_made():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    JobMonitor(THREE, poller=poller)
    for _ in range(LIFECYCLE):
        _s, calls = tick(poller, raw)
        assert poller.last_tick_calls == len(calls)


# -- finished and closed widgets are dropped -----------------------------------------------------------------------
def test_once_every_monitor_finished_the_poller_has_no_subscribers_and_calls_nothing():
    raw, poller, monitors, _panel, _ticks = run_monitors(10)
    assert all(m.finished for m in monitors)
    assert poller.subscribers == []
    calls_before = poller.calls
    _s, calls = tick(poller, raw)
    assert calls == [] and poller.last_tick_calls == 0 and poller.calls == calls_before


def test_with_the_jobs_panel_only_the_panel_stays_and_costs_one_list_jobs():
    raw, poller, _monitors, panel, _ticks = run_monitors(10, with_panel=True)
    assert poller.subscribers == [panel]
    _s, calls = tick(poller, raw)
    assert [m for m, _ in calls] == ["list_jobs"]


def test_a_closed_monitor_is_dropped():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    kept = JobMonitor(THREE, poller=poller)
    closed = JobMonitor(HOSTILE_ID, poller=poller)
    closed.close()
    assert poller.subscribers == [kept]
    for _ in range(LIFECYCLE):
        tick(poller, raw)
    assert HOSTILE_ID not in {job_of(c) for c in raw.calls}
    assert kept.status == "FINISHED:COMPLETED"
    assert closed.status == "UNKNOWN"  # it never heard from the poller again


def test_closing_the_last_monitor_mid_job_stops_the_calls():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    m = JobMonitor(THREE, poller=poller)
    for _ in range(3):
        tick(poller, raw)
    assert m.status == "RUNNING"
    m.close()
    assert poller.subscribers == []
    _s, calls = tick(poller, raw)
    assert calls == []


# -- actions -------------------------------------------------------------------------------------------------------
def test_an_action_runs_at_the_next_tick_and_its_error_is_one_line():
    raw, ks = replay(ACTIONS, sequence=False)
    poller = make_poller(lambda: ks)
    done, errors = [], []

    def abort(s):
        return s.abort_job(NO_JOB)

    poller.submit(abort, on_done=done.append, on_error=errors.append)
    assert raw.calls == []  # queued, not run on the caller's thread
    _s, calls = tick(poller, raw)
    assert calls == [("abort_job", {"job_id": NO_JOB})]
    assert done == []
    (message,) = errors
    assert "\n" not in message
    assert NO_JOB in message and "does not exist" in message
    assert poller.calls == 1


def test_an_action_result_goes_to_on_done():
    raw, ks = replay(ACTIONS, sequence=False)
    poller = make_poller(lambda: ks)
    done, errors = [], []
    poller.submit(lambda s: s.get_job_meta(FINISHED), on_done=done.append, on_error=errors.append)
    tick(poller, raw)
    (meta,) = done
    assert errors == []
    assert meta["job_id"] == FINISHED and meta["status"] == "FINISHED:COMPLETED"
    _s, calls = tick(poller, raw)
    assert calls == []  # an action runs once


def test_actions_run_before_the_poll_of_the_same_tick():
    raw, ks = replay(ACTIONS, sequence=False)
    poller = make_poller(lambda: ks)
    m = JobMonitor(FINISHED, poller=poller)
    done = []
    poller.submit(lambda s: s.get_job_meta(FINISHED), on_done=done.append)
    _s, calls = tick(poller, raw)
    assert calls[0] == ("get_job_meta", {"job_id": FINISHED})
    assert calls[1][0] == "list_jobs"
    assert done and m.status == "FINISHED:COMPLETED"


# -- failures: shown in every banner, retried, then cleared --------------------------------------------------------
def test_a_session_that_cannot_be_had_shows_in_every_banner_and_clears_after():
    raw, ks = replay()
    state = {"up": False}

    def session_fn():
        if not state["up"]:
            raise fj.FlareError("not connected to a FLARE server: run %flare connect first")
        return ks

    poller = make_poller(session_fn)
    monitor = JobMonitor(THREE, poller=poller)
    panel = JobsPanel(poller=poller)
    delays = []
    for failures in (1, 2):
        _s, calls = tick(poller, raw)
        assert calls == []
        assert poller.failures == failures
        for sub in (monitor, panel):
            assert "not connected" in sub.message and "retrying" in sub.message
            assert "\n" not in sub.message
            assert "retrying" in sub.banner.value
        delays.append(monitor.message)
    assert delays[0] != delays[1]  # the retry backs off
    state["up"] = True
    snapshot, calls = tick(poller, raw)
    assert calls == first_tick_calls(monitors=1, with_panel=True)  # the first recorded answers: nothing was skipped
    assert snapshot.jobs == first_listing()
    assert poller.failures == 0
    assert monitor.message == "" and monitor.banner.value == ""
    assert panel.message == ""
    assert monitor.status == snapshot.jobs[THREE]["status"]


def first_listing() -> dict:
    first = next(c["result"] for c in RECORDING["calls"] if c["method"] == "list_jobs")
    return {j["job_id"]: j for j in first}


def first_tick_calls(monitors: int, with_panel: bool) -> list:
    """The calls of the first tick of a fresh replay with ``monitors`` monitors of the 3-round job (and the panel)."""
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    for _ in range(monitors):
        JobMonitor(THREE, poller=poller)
    if with_panel:
        JobsPanel(poller=poller)
    return tick(poller, raw)[1]


class DropsConnection:
    """The recorded session behind a connection that can drop: while ``down``, ``list_jobs`` fails the way a lost
    connection does on the client (``ConnectionError``); nothing the server said is changed."""

    def __init__(self, raw: RecordedSession):
        self.raw = raw
        self.down = False

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def list_jobs(self, *args, **kwargs):
        if self.down:
            raise ConnectionError("[Errno 111] Connection refused")
        return self.raw.list_jobs(*args, **kwargs)


def test_a_lost_connection_shows_in_every_banner_and_clears_once_back(monkeypatch):
    raw = RecordedSession(RECORDING, sequence=True)
    link = DropsConnection(raw)

    def open_session(username, kit, secure, timeout):  # the reconnect: refused while the server is away
        if link.down:
            raise ConnectionError("[Errno 111] Connection refused")
        return link

    monkeypatch.setattr(compat, "open_session", open_session)
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=link)
    poller = make_poller(lambda: ks)
    monitors = [JobMonitor(THREE, poller=poller) for _ in range(3)]
    panel = JobsPanel(poller=poller)

    link.down = True
    _s, calls = tick(poller, raw)
    assert calls == []  # the server never got the call
    assert poller.failures == 1
    for sub in (*monitors, panel):
        assert "retrying" in sub.message and "\n" not in sub.message
        assert "cannot reach the FLARE server" in sub.message
        assert "retrying" in sub.banner.value

    link.down = False
    snapshot, calls = tick(poller, raw)
    assert calls == first_tick_calls(monitors=3, with_panel=True)  # the first recorded answers: nothing was skipped
    assert snapshot.jobs == first_listing()
    assert poller.failures == 0
    for m in monitors:
        assert m.message == "" and m.banner.value == ""
        assert m.status == snapshot.jobs[THREE]["status"]
    assert panel.message == ""


# -- prime: a new widget's first state, before any tick ------------------------------------------------------------
def test_prime_gives_a_jobs_panel_its_jobs_before_any_tick():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    panel = JobsPanel(poller=poller)
    assert raw.calls == [] and repr(panel) == "jobs panel: no jobs"  # the constructor asks nothing
    poller.prime(panel)
    assert poller.ticks == 0
    assert raw.calls == [("list_jobs", raw.calls[0][1])]  # one listing, on the caller's thread
    listing = list(first_listing().values())
    assert {value for _label, value in panel.select.options} == {j["job_id"] for j in listing}
    text = repr(panel)
    assert text.splitlines()[0] == f"jobs panel ({len(listing)} of {len(listing)} jobs)"
    for job in listing:
        assert job["job_id"] in text and job["status"] in text
    assert panel.message == ""
    _s, calls = tick(poller, raw)  # the panel stays subscribed: the next tick serves it as usual
    assert [m for m, _ in calls] == ["list_jobs"]


def test_prime_of_a_finished_widget_asks_nothing():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    panel = JobsPanel(poller=poller)
    panel.close()
    poller.prime(panel)
    assert raw.calls == [] and poller.calls == 0


def test_prime_failing_shows_in_the_banner():
    def session_fn():
        raise fj.FlareError("not connected to a FLARE server: run %flare connect first")

    poller = make_poller(session_fn)
    panel = JobsPanel(poller=poller)
    poller.prime(panel)
    assert "not connected" in panel.message and "\n" not in panel.message
    assert "not connected" in repr(panel)
