"""The shared poller on answers recorded from a real system: the status of watched jobs by id (one call per job,
however many widgets watch it) or by one listing when this server's timings make that cheaper, the jobs panel's
page through the server's own filters every few ticks, details only for running watched jobs (what their log and
round records gained since the last tick), the final metrics once, actions on the poller's thread, failures shown
(and cleared) in banners, and ``prime`` for new widgets.

The lifecycle answers come from tests/recordings/widgets-2.9.0.json (tests/record_monitor.py), replayed in recorded
order with the call costs it was recorded with (tests/unit/conftest.py); actions and whole listings use
tests/recordings/nvflare-2.9.0.json (tests/record.py).
"""

from __future__ import annotations

import json
import threading

import pytest
from record_monitor import lifecycle_widgets, recorded_costs

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, decode, load_recording
from flare_jupyter import compat
from flare_jupyter import poller as poller_module
from flare_jupyter.job_list import LISTING_SHARE, CallCosts, JobQuery, listing_entry
from flare_jupyter.metrics import ROUND_METRICS_READABLE, round_metrics_rows
from flare_jupyter.poller import DISCONNECTED, SHUT_DOWN, Poller, Snapshot
from flare_jupyter.progress import ROUND_RECORDS, RUNNER_ENDING, RUNNER_STARTED
from flare_jupyter.widgets import JobMonitor, JobsPanel
from polling import wait_for
from record import TEMPORARY

RECORDING = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())
JOBS = RECORDING["jobs"]
THREE, HOSTILE_ID = JOBS["three_rounds"], JOBS["hostile"]
LIFECYCLE = RECORDING["ticks"]["lifecycle"]
DETAIL_METHODS = {"get_job_meta", "cat_target", "show_stats", "tail_from", "download_job_result", "get_job_logs"}
INTERVAL = 1.0

ACTIONS = load_recording("2.9.0")
FINISHED = ACTIONS["jobs"]["finished"]
CLONE = ACTIONS["jobs"]["clone"]  # record.py aborted it before it ran, then deleted it
NO_JOB = "00000000-0000-0000-0000-000000000000"  # record.py asked for it; NVFlare answered JobNotFound
WHOLE_LISTING = {"detailed": False, "limit": None, "id_prefix": None, "name_prefix": None, "reverse": False}


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
    if method in ("cat_target", "tail_from"):
        return args["file"].split("/", 1)[0]
    return args.get("job_id")


def run_monitors(n: int, with_panel: bool = False):
    """``n`` monitors of the 3-round job (and the jobs panel) through the recorded lifecycle."""
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    monitors = [JobMonitor(THREE, poller=poller) for _ in range(n)]
    panel = JobsPanel(poller=poller) if with_panel else None
    ticks = [tick(poller, raw) for _ in range(LIFECYCLE)]
    return raw, poller, monitors, panel, ticks


def recorded_calls(count: int) -> list:
    """The first ``count`` recorded calls as a replay lists them (a temporary folder by its recorded name)."""
    return [(c["method"], c["args"]) for c in RECORDING["calls"][:count]]


def as_recorded(calls) -> list:
    return [(m, {**a, "destination": TEMPORARY} if m == "download_job_result" else a) for m, a in calls]


# -- the replay asks what the real system was asked ----------------------------------------------------------------
def test_the_lifecycle_replay_asks_exactly_what_the_recording_asked():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    lifecycle_widgets(poller, JOBS)
    for _ in range(LIFECYCLE):
        poller.tick()
    assert as_recorded(raw.calls) == recorded_calls(len(raw.calls))


# -- statuses: by id, once per job; the panel's page every few ticks -----------------------------------------------
@pytest.mark.parametrize("n, with_panel", [(1, False), (10, False), (10, True)])
def test_watched_jobs_statuses_cost_one_call_per_job_per_tick_and_no_whole_listing(n, with_panel):
    _raw, _poller, monitors, panel, ticks = run_monitors(n, with_panel)
    for snapshot, calls in ticks:
        metas = [args["job_id"] for m, args in calls if m == "get_job_meta"]
        assert len(metas) == len(set(metas))  # each job at most once a tick, however many widgets watch it
        assert set(metas) <= {THREE} | ({HOSTILE_ID} if panel else set())  # the panel's unfinished rows too
        listings = [args for m, args in calls if m == "list_jobs"]
        assert all(args["limit"] == 50 and args["reverse"] for args in listings)  # only the panel's page
        assert not snapshot.complete
    assert all(m.status == "FINISHED:COMPLETED" for m in monitors)


def test_ten_monitors_cost_what_one_does():
    one = [as_recorded(calls) for _s, calls in run_monitors(1)[4]]
    ten = [as_recorded(calls) for _s, calls in run_monitors(10)[4]]
    assert ten == one


def test_the_panels_page_is_listed_every_few_ticks_and_its_unfinished_rows_by_id_in_between():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    panel = lifecycle_widgets(poller, JOBS)["jobs"]
    every = poller.listing_every()
    assert every == 3  # the recorded listing cost (30 ms) over 1% of the 1 s interval
    listed_at = []
    for i in range(LIFECYCLE):
        snapshot, calls = tick(poller, raw)
        pages = [args for m, args in calls if m == "list_jobs"]
        if pages:
            listed_at.append(i)
            assert snapshot.pages[panel.query] == decode_last_page(calls, raw)
        else:  # between listings: the page's unfinished rows (the watched jobs here) each by one get_job_meta
            unfinished = {j for j, e in panel._entries.items() if not e["status"].startswith("FINISHED")}
            asked = {args["job_id"] for m, args in calls if m == "get_job_meta"}
            assert unfinished <= asked | set(snapshot.jobs)
    assert listed_at == list(range(0, LIFECYCLE, every))


def decode_last_page(calls, raw) -> list:
    """The page answer the tick got (the recorded answer for its list_jobs call, in recorded order)."""
    served = [c for c in RECORDING["calls"] if c["method"] == "list_jobs"]
    n = [c[0] for c in raw.calls].count("list_jobs")
    return decode(served[n - 1]["result"])


def test_a_whole_listing_only_for_a_subscriber_that_asks_for_one():
    raw, ks = replay(ACTIONS, sequence=False)
    poller = make_poller(lambda: ks)
    probe = WholeListing()
    poller.add(probe)
    snapshot, calls = tick(poller, raw)
    assert calls == [("list_jobs", WHOLE_LISTING)]
    assert snapshot.complete and set(snapshot.jobs) == {j["job_id"] for j in ACTIONS_LISTING}


class WholeListing:
    """A subscriber that needs the whole job list every tick (as a dashboard of every job would)."""

    wants_jobs = True
    done = False

    def watched_jobs(self, snapshot):
        return set()

    def update(self, session, snapshot):
        pass

    def poll_failed(self, message):
        raise AssertionError(message)


ACTIONS_LISTING = [
    decode(c["result"]) for c in ACTIONS["calls"] if c["method"] == "list_jobs" and c["args"] == WHOLE_LISTING
][-1]


def test_statuses_come_from_one_listing_when_the_servers_timings_make_it_cheaper():
    # a server whose listing costs less than two get_job_meta calls (a small one): two watched jobs, one listing
    raw, ks = replay(ACTIONS, sequence=False)
    poller = Poller(
        session_fn=lambda: ks, autostart=False, costs=CallCosts({"list_jobs": 0.008, "get_job_meta": 0.006})
    )
    monitors = [JobMonitor(job, poller=poller) for job in (FINISHED, ACTIONS["jobs"]["hostile"])]
    snapshot, calls = tick(poller, raw)
    assert [m for m, _a in calls if m in ("list_jobs", "get_job_meta")][0] == "list_jobs"
    assert ("list_jobs", WHOLE_LISTING) in calls and snapshot.complete
    assert all(m.status == snapshot.jobs[m.job_id]["status"] for m in monitors)


@pytest.mark.parametrize(
    "costs, jobs, cheaper",
    [
        ({}, 1, False),  # nothing timed yet, one job: its own call
        ({}, 2, True),  # nothing timed yet, two jobs: one listing, which times itself
        ({"list_jobs": 0.010}, 3, False),  # a listing timed, no get_job_meta yet: time one
        ({"list_jobs": 0.010, "get_job_meta": 0.005}, 2, False),  # a tie is no gain
        ({"list_jobs": 0.010, "get_job_meta": 0.005}, 3, True),  # a few jobs on a small server
        ({"list_jobs": 0.600, "get_job_meta": 0.005}, 50, False),  # 5,000 jobs on the server: 50 metas are cheaper
        ({"list_jobs": 0.600, "get_job_meta": 0.005}, 121, True),
    ],
)
def test_the_cheaper_status_source(costs, jobs, cheaper):
    assert CallCosts(costs).listing_is_cheaper(jobs) is cheaper


def test_call_costs_follow_the_timings_and_fixed_ones_do_not():
    costs = CallCosts()
    costs.observe("list_jobs", 0.010)
    assert costs.get("list_jobs") == 0.010
    for _ in range(20):
        costs.observe("list_jobs", 0.600)  # the server kept more and more jobs
    assert costs.get("list_jobs") == pytest.approx(0.600, rel=0.01)
    fixed = recorded_costs()
    fixed.observe("list_jobs", 9.0)
    assert fixed.get("list_jobs") == 0.03


def test_listings_are_spaced_by_their_cost():
    poller = Poller(session_fn=lambda: None, interval_fn=lambda: INTERVAL, autostart=False, costs=CallCosts())
    assert poller.listing_every() == 1  # nothing timed: every tick
    poller.costs.observe("list_jobs", 0.010)
    assert poller.listing_every() == 1  # a small server: every tick
    poller.costs = CallCosts({"list_jobs": 0.600})
    assert poller.listing_every() == 60  # 5,000 jobs: once a minute, 1% of the time
    assert 0.600 / (poller.listing_every() * INTERVAL) <= LISTING_SHARE


# -- JobQuery: the server's own filters ----------------------------------------------------------------------------
def recorded_page(**args) -> list:
    key = {**WHOLE_LISTING, **args}
    return [decode(c["result"]) for c in ACTIONS["calls"] if c["method"] == "list_jobs" and c["args"] == key][-1]


@pytest.mark.parametrize(
    "query, args",
    [
        (JobQuery(limit=1, reverse=True), {"limit": 1, "reverse": True}),
        (JobQuery(name_prefix="hello"), {"name_prefix": "hello"}),
        (JobQuery(id_prefix=FINISHED[:8]), {"id_prefix": FINISHED[:8]}),
        (JobQuery(), {}),
    ],
)
def test_a_page_taken_from_a_whole_listing_is_what_the_server_answers(query, args):
    assert query.arguments() == {k: v for k, v in {**WHOLE_LISTING, **args}.items() if k != "detailed"}
    assert query.select(ACTIONS_LISTING) == recorded_page(**args)


def test_a_meta_reads_as_a_listing_entry():
    meta = [decode(c["result"]) for c in ACTIONS["calls"] if c["method"] == "get_job_meta" and "result" in c]
    meta = [m for m in meta if m.get("job_id") == FINISHED][-1]
    listed = next(j for j in ACTIONS_LISTING if j["job_id"] == FINISHED)
    assert listing_entry(meta) == listed


# -- details: only for running watched jobs, from where the last read ended ----------------------------------------
@pytest.mark.parametrize("n, with_panel", [(1, False), (10, False), (10, True)])
def test_details_only_for_the_running_watched_job_and_once_per_tick(n, with_panel):
    _raw, _poller, _monitors, panel, ticks = run_monitors(n, with_panel)
    stats_ticks, ending_ticks, log_read, answer = 0, 0, "", tail_answers()
    for snapshot, calls in ticks:
        before = log_read  # what the log had said before this tick's read
        log_read += "".join(answer(a) for m, a in calls if m == "tail_from" and a["file"] == f"{THREE}/log.txt")
        if snapshot.jobs is None:  # every monitor finished: nothing asked (the panel's page is not due)
            assert not any(c[0] in DETAIL_METHODS for c in calls)
            continue
        status = snapshot.jobs[THREE]["status"]
        details = [c for c in calls if c[0] in DETAIL_METHODS]
        statuses = {job_of(c) for c in details if c[0] == "get_job_meta"}
        assert statuses <= {THREE} | ({HOSTILE_ID} if panel else set())  # the panel asks its unfinished rows
        assert {job_of(c) for c in details if c[0] != "get_job_meta"} <= {THREE}  # nobody watches the other job
        stats = [c[1]["target_type"] for c in details if c[0] == "show_stats"]
        tails = [c[1]["file"].split("/", 1)[1] for c in details if c[0] == "tail_from"]
        if status == "RUNNING":
            assert tails == ["log.txt", ROUND_METRICS_READABLE]  # what the log and the round records gained
            if RUNNER_ENDING.search(log_read):  # its run began to end: its process is not asked any more
                assert stats == ([] if RUNNER_ENDING.search(before) else ["server"])  # (asked before the read)
                ending_ticks += 1
            elif RUNNER_STARTED.search(log_read):
                assert sorted(stats) == ["client", "server"]  # once each, not once per monitor
                stats_ticks += 1
            else:  # its log does not say yet that its runner started: no show_stats before the job can answer it
                assert stats == [] and stats_ticks == 0
        else:  # the tick it ended, its server show_stats said so ("not running"): then its meta told the status
            assert stats in ([], ["server"]) and tails == []
        metas = [job_of(c) for c in details if c[0] == "get_job_meta"]
        assert len(metas) == len(set(metas))  # a job's meta at most once a tick
    assert stats_ticks > 0 and ending_ticks > 0


def test_a_running_job_needs_no_status_call_its_server_stats_say_it_still_runs():
    _raw, _poller, _monitors, _panel, ticks = run_monitors(1)
    running = [calls for snapshot, calls in ticks if (snapshot.jobs or {}).get(THREE, {}).get("status") == "RUNNING"]
    assert len(running) > 3
    for calls in running[1:]:  # after its first meta (with its deployment)
        methods = [m for m, _a in calls]
        if "get_job_meta" in methods:  # only when its server show_stats did not answer, or was not asked: its log
            # did not yet say that its runner started, or already said that its run began to end
            assert methods[:2] == ["show_stats", "get_job_meta"] or methods[0] == "get_job_meta"
    asked = [calls for calls in running if "show_stats" in [m for m, _a in calls]]  # once its runner started
    assert sum("get_job_meta" not in [m for m, _a in calls] for calls in asked) > len(asked) / 2
    ended = next(calls for snapshot, calls in ticks if snapshot.jobs[THREE]["status"].startswith("FINISHED"))
    assert [m for m, _a in ended][0] == "get_job_meta"  # its log had said its run was ending: its meta, FINISHED


def test_a_running_jobs_files_are_read_from_where_the_last_read_ended():
    raw, _poller, _monitors, _panel, _ticks = run_monitors(1)
    answer = tail_answers()
    for name in ("log.txt", ROUND_METRICS_READABLE):
        asked = [args for m, args in raw.calls if m == "tail_from" and args["file"] == f"{THREE}/{name}"]
        reads = [(args["offset"], answer(args)) for args in asked]
        assert reads[0][0] == 0
        offset = 0
        for since, text in reads:
            assert since == max(offset - 1, 0)  # from the newline the last complete line ended on
            body = text[1:] if offset else text
            if "\n" in body and not text.startswith("tail: "):
                offset += len(body[: body.rfind("\n") + 1].encode())
        assert offset > 0


def tail_answers():
    """``answer(args)``: the recorded answers of tail_from with those arguments, served in recorded order."""
    served: dict[str, int] = {}

    def answer(args) -> str:
        key = json.dumps(args, sort_keys=True)
        found = [c["result"] for c in RECORDING["calls"] if c["method"] == "tail_from" and c["args"] == args]
        i = served.get(key, 0)
        served[key] = i + 1
        return found[min(i, len(found) - 1)]

    return answer


def test_the_final_metrics_are_the_jobs_round_records_read_once_when_it_ended():
    raw, poller, monitors, _panel, ticks = run_monitors(1)
    statuses = [(snapshot.jobs or {}).get(THREE, {}).get("status") for snapshot, _calls in ticks]
    ended = statuses.index("FINISHED:COMPLETED")
    downloads = [(i, args) for i, (_s, calls) in enumerate(ticks) for m, args in calls if m == "download_job_result"]
    assert [(i, args["job_id"]) for i, args in downloads] == [(ended, THREE)]  # once, at the tick it ended
    assert all(calls == [] for _s, calls in ticks[ended + 1 :])  # then nothing more
    assert not any(m == "get_job_logs" for _s, calls in ticks for m, _a in calls)  # never the whole log
    (final,) = [c for c in RECORDING["calls"] if c["method"] == "download_job_result" and c["args"]["job_id"] == THREE]
    exact = round_metrics_rows(final["files"]["workspace/metrics/round_metrics.jsonl"])
    m = monitors[0]
    assert m.progress.metrics == exact and m.progress.metrics_source == ROUND_RECORDS
    assert m.metrics.source == ROUND_RECORDS
    assert {site for _r, site, _m, _v in exact} == {"site-1", "site-2", "aggregated"}


def test_a_submitted_job_gets_no_detail_calls():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    monitor = JobMonitor(HOSTILE_ID, poller=poller)
    JobsPanel(poller=poller)  # its first page says the hostile job is still SUBMITTED (recorded order)
    snapshot, calls = tick(poller, raw)
    assert snapshot.jobs[HOSTILE_ID]["status"] == "SUBMITTED"
    assert [m for m, _a in calls] == ["list_jobs"]  # the page told its status; a submitted job has no details
    assert monitor.status == "SUBMITTED"


def test_a_job_aborted_before_it_ran_has_no_log_to_read():
    # record.py aborted this clone before it ran (NVFlare: "Aborted the job ... before running it."); its meta has
    # no start time. The poller re-reads a finished job's meta, and reads no log for a job that never started.
    raw = RecordedSession(ACTIONS, sequence=True)
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=raw)
    meta = ks.get_job_meta(CLONE)
    assert meta["status"] == "FINISHED:ABORTED" and not meta["start_time"]
    poller = make_poller(lambda: ks)
    before = len(raw.calls)
    snapshot = Snapshot(time=0.0, jobs={CLONE: {"job_id": CLONE, "status": meta["status"]}})
    detail = poller._detail(ks, CLONE, snapshot)
    assert raw.calls[before:] == [("get_job_meta", {"job_id": CLONE})]
    assert detail.meta == meta and detail.log_text is None and detail.errors == [] and detail.metrics == []


def test_the_poller_counts_its_calls_and_their_time():
    raw, poller, *_ = run_monitors(10)
    assert poller.calls == len(raw.calls)  # monitors make no calls of their own
    assert poller.ticks == LIFECYCLE
    assert poller.seconds > 0 and sum(poller.seconds_by_name.values()) == pytest.approx(poller.seconds)


def test_last_tick_calls_is_what_the_tick_made():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    JobMonitor(THREE, poller=poller)
    for _ in range(LIFECYCLE):
        _s, calls = tick(poller, raw)
        assert poller.last_tick_calls == len(calls)
        assert (poller.last_tick_seconds > 0) == bool(calls)


# -- finished and closed widgets are dropped -----------------------------------------------------------------------
def test_once_every_monitor_finished_the_poller_has_no_subscribers_and_calls_nothing():
    raw, poller, monitors, _panel, _ticks = run_monitors(10)
    assert all(m.finished for m in monitors)
    assert poller.subscribers == []
    calls_before = poller.calls
    _s, calls = tick(poller, raw)
    assert calls == [] and poller.last_tick_calls == 0 and poller.calls == calls_before


def test_with_the_jobs_panel_only_the_panel_stays_and_lists_its_page_every_few_ticks():
    raw, poller, _monitors, panel, _ticks = run_monitors(10, with_panel=True)
    assert poller.subscribers == [panel]
    calls = [tick(poller, raw)[1] for _ in range(poller.listing_every())]
    assert [m for c in calls for m, _a in c] == ["list_jobs"]  # its rows all ended: nothing to ask in between


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


def test_a_paused_poller_does_not_tick_until_resumed():
    raw, ks = replay(ACTIONS, sequence=False)
    poller = Poller(session_fn=lambda: ks, interval_fn=lambda: 0.01)
    probe = WholeListing()
    poller.add(probe)
    try:
        wait_for(lambda: poller.ticks >= 2, timeout=10, interval=0.01)
        poller.pause()
        paused_at = wait_for(lambda: _settled(poller), timeout=10, interval=0.05)
        assert poller.ticks == paused_at  # no tick while paused
        poller.resume()
        wait_for(lambda: poller.ticks >= paused_at + 2, timeout=10, interval=0.01)
    finally:
        probe.done = True
        wait_for(lambda: not poller.running, timeout=10, interval=0.01)


def _settled(poller) -> int | None:
    """The tick count once it stopped moving for a while (a tick running when the pause came may end)."""
    first = poller.ticks
    threading.Event().wait(0.2)
    return first if poller.ticks == first else None


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
    poller.submit(lambda s: s.abort_job(NO_JOB), on_error=done.append)
    _s, calls = tick(poller, raw)
    assert calls[0] == ("abort_job", {"job_id": NO_JOB})
    assert calls[1] == ("get_job_meta", {"job_id": FINISHED})  # then the monitor's status
    assert done and m.status == "FINISHED:COMPLETED"


# -- an abort seen through: NVFlare can lose one (poller.ABORT_AGAIN_SECONDS) ------------------------------------
ABORTED = JOBS["aborted"]  # record_monitor.py aborted it through its monitor: it ran on for a few ticks after


def test_an_abort_whose_job_runs_on_is_sent_again_said_and_given_up_after_the_last_send(monkeypatch):
    monkeypatch.setattr(poller_module, "ABORT_AGAIN_SECONDS", 0.0)  # due at once
    raw, ks = replay()  # in order: the job's meta said it was not finished yet
    poller = make_poller(lambda: ks)
    said, answers = [], []
    poller.submit(lambda s: poller.abort(s, ABORTED, on_again=said.append), on_done=answers.append)
    sends = []
    for _ in range(poller_module.ABORT_SENDS + 1):
        _s, calls = tick(poller, raw)
        sends.append(sum(method == "abort_job" for method, _a in calls))
        assert {method for method, _a in calls} <= {"abort_job", "get_job_meta"}
    assert sends == [2, 1, 0, 0]  # the click's, then again while the meta said so, three in all; then nothing
    assert answers and "abort" in str(answers[0]).lower()
    assert len(said) == poller_module.ABORT_SENDS - 1
    for n, message in enumerate(said, start=2):
        assert "\n" not in message
        assert message.startswith(f"abort of job {ABORTED} sent again ({n} of 3): it was still "), message
        assert not message.split("still ")[1].startswith("FINISHED")


def test_an_abort_whose_job_ended_is_not_sent_again(monkeypatch):
    monkeypatch.setattr(poller_module, "ABORT_AGAIN_SECONDS", 0.0)
    raw, ks = replay(sequence=False)  # its settled meta: FINISHED:ABORTED
    poller = make_poller(lambda: ks)
    said = []
    poller.submit(lambda s: poller.abort(s, ABORTED, on_again=said.append))
    _s, calls = tick(poller, raw)
    assert calls == [("abort_job", {"job_id": ABORTED}), ("get_job_meta", {"job_id": ABORTED})]
    assert tick(poller, raw)[1] == [] and said == []


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
    assert snapshot.pages[panel.query] == first_page()
    assert poller.failures == 0
    assert monitor.message == "" and monitor.banner.value == ""
    assert panel.message == ""
    assert monitor.status == snapshot.jobs[THREE]["status"]


def first_page() -> list:
    return decode(next(c["result"] for c in RECORDING["calls"] if c["method"] == "list_jobs"))


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

    def open_session(username, kit, secure, timeout, debug=False):  # the reconnect: refused while the server is away
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
    assert snapshot.pages[panel.query] == first_page()
    assert poller.failures == 0
    for m in monitors:
        assert m.message == "" and m.banner.value == ""
        assert m.status == snapshot.jobs[THREE]["status"]
    assert panel.message == ""


# -- closed on purpose: one calm line, nothing asked, resumed once connected again ----------------------------------
ERROR_COLOURS = "#f8d7da"  # render.banner's error background


def banner_changes(*widgets) -> list:
    """Every new value of the widgets' banners, as it is set (what the front end would be sent)."""
    seen = []
    for widget in widgets:
        widget.banner.observe(lambda change: seen.append(change["new"]), names="value")
    return seen


def test_disconnect_stops_the_polling_quietly_and_connecting_again_resumes_it(install):
    raw = RecordedSession(RECORDING, sequence=True)
    install(raw)
    poller = Poller(interval_fn=lambda: INTERVAL, autostart=False)  # the kernel's current session, as widgets have it
    monitor = JobMonitor(THREE, poller=poller)
    panel = JobsPanel(poller=poller)
    tick(poller, raw)
    assert monitor.message == "" and panel.message == ""
    fj.disconnect()  # what fj.poc.stop() does too
    changes = banner_changes(monitor, panel)
    for _ in range(3):
        _s, calls = tick(poller, raw)
        assert calls == []  # nothing asked of the server, not even a call that fails
        assert poller.failures == 0 and poller.delay() == INTERVAL  # no backoff: nothing to retry
        assert poller.disconnected == DISCONNECTED
        for sub in (monitor, panel):
            assert sub.message == DISCONNECTED and "\n" not in sub.message
            assert "fj.connect(" in sub.banner.value and ERROR_COLOURS not in sub.banner.value
            assert "retrying" not in sub.message
    assert len(changes) == 2  # one calm line per widget, set once: later ticks change nothing
    assert not monitor.done and not panel.done  # still subscribed
    install(raw)  # connected again: the next tick asks the server and the line goes
    _s, calls = tick(poller, raw)
    assert calls != [] and poller.disconnected == ""
    assert monitor.message == "" and monitor.banner.value == "" and panel.message == ""


def test_a_closed_session_is_never_called_and_says_so_calmly():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    monitors = [JobMonitor(THREE, poller=poller) for _ in range(3)]
    ks.close()
    _s, calls = tick(poller, raw)
    assert calls == [] and poller.calls == 0 and poller.failures == 0
    for m in monitors:
        assert m.message == DISCONNECTED and ERROR_COLOURS not in m.banner.value
    assert "Disconnected" in repr(monitors[0])  # the text form says it too


def test_after_shutdown_system_the_widgets_say_the_system_was_shut_down(monkeypatch):
    raw, ks = replay()
    monkeypatch.setattr(compat, "shutdown_system", lambda _raw: "shutdown")
    poller = make_poller(lambda: ks)
    monitor = JobMonitor(THREE, poller=poller)
    panel = JobsPanel(poller=poller)
    tick(poller, raw)
    ks.shutdown_system()
    before = len(raw.calls)
    for _ in range(2):
        tick(poller, raw)
    assert len(raw.calls) == before and poller.failures == 0
    for sub in (monitor, panel):
        assert sub.message == SHUT_DOWN and ERROR_COLOURS not in sub.banner.value
        assert "shut down" in sub.message and "fj.connect(" in sub.message


class ClosedDuringTheTick:
    """The recorded session, closed by the user (``close()``) while the poller's first call of a tick is answered."""

    def __init__(self, raw: RecordedSession):
        self.raw = raw
        self.session = None
        self.armed = False

    def __getattr__(self, name):
        answer = getattr(self.raw, name)

        def call(*args, **kwargs):
            result = answer(*args, **kwargs)
            if self.armed:
                self.armed = False
                self.session.close()
            return result

        return call


def test_a_session_closed_during_a_tick_ends_it_calmly_not_with_an_error():
    raw = RecordedSession(RECORDING, sequence=True)
    link = ClosedDuringTheTick(raw)
    ks = link.session = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=link)
    poller = make_poller(lambda: ks)
    monitor = JobMonitor(THREE, poller=poller)
    assert len(first_tick_calls(monitors=1, with_panel=False)) > 1  # the tick has calls after the first one
    link.armed = True
    _s, calls = tick(poller, raw)
    assert len(calls) == 1  # the call under way was answered; none after it
    assert poller.failures == 0 and poller.disconnected == DISCONNECTED
    assert monitor.message == DISCONNECTED and ERROR_COLOURS not in monitor.banner.value


# -- prime: a new widget's first state, before any tick ------------------------------------------------------------
def test_prime_gives_a_jobs_panel_its_jobs_before_any_tick():
    raw, ks = replay()
    poller = make_poller(lambda: ks)
    panel = JobsPanel(poller=poller)
    assert raw.calls == [] and repr(panel) == "jobs panel: no jobs"  # the constructor asks nothing
    poller.prime(panel)
    assert poller.ticks == 0
    assert raw.calls == [("list_jobs", {**WHOLE_LISTING, "limit": 50, "reverse": True})]  # its page, once
    page = first_page()
    assert [value for _label, value in panel.select.options] == [j["job_id"] for j in page]
    text = repr(panel)
    assert text.splitlines()[0] == f"jobs panel ({len(page)} of {len(page)} jobs)"
    for job in page:
        assert job["job_id"] in text and job["status"] in text
    assert panel.message == ""
    _s, calls = tick(poller, raw)  # the panel stays subscribed; its unfinished rows are asked by id until relisted
    assert {m for m, _a in calls} == {"get_job_meta"}
    assert {a["job_id"] for _m, a in calls} == {j["job_id"] for j in page if not j["status"].startswith("FINISHED")}


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


def test_a_job_whose_log_has_not_said_its_runner_started_is_asked_its_stats_once_it_ran_long_enough(monkeypatch):
    monkeypatch.setattr(poller_module, "STATS_AFTER_SECONDS", 0.0)  # "long enough" from the first tick on
    _raw, _poller, _monitors, _panel, ticks = run_monitors(1)
    first = [m for m, _a in ticks[0][1]]
    assert ticks[0][0].jobs[THREE]["status"] == "RUNNING" and first.count("show_stats") == 2, first
