"""The live widgets as a user sees them, replaying what a real system answered while jobs ran.

tests/record_monitor.py drove these same widgets on a real embedded system, one poller tick a second, and stored
every call with its answer and the number of ticks of each phase (tests/recordings/widgets-2.9.0.json). Here the
same widgets are built in the same order and ticked the same number of times, so each call gets the answer it got
then. Actions on finished jobs use tests/recordings/nvflare-2.9.0.json (tests/record.py).
"""

from __future__ import annotations

import copy
import json
import re

import ipywidgets as w
import pandas as pd
import pytest
from IPython.core.error import UsageError
from record_monitor import lifecycle_widgets

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, decode, load_recording
from flare_jupyter import compat, frames, render
from flare_jupyter.metrics import AGGREGATED, ROUND_METRICS, ROUND_METRICS_READABLE, round_metrics_rows
from flare_jupyter.poller import Poller
from flare_jupyter.progress import FileFollower, LogProgress
from flare_jupyter.widgets import ClientsPanel, Dashboard, JobMonitor, JobsPanel, LogViewer, monitor
from flare_jupyter.widgets import clients as clients_module
from flare_jupyter.widgets.jobs import filter_jobs
from flare_jupyter.widgets.logs import grep, merge_tail
from record import HOSTILE

RECORDING = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())
JOBS = RECORDING["jobs"]
TICKS = RECORDING["ticks"]
CLIENTS = RECORDING["clients"]
THREE, HOSTILE_ID, ABORTED = JOBS["three_rounds"], JOBS["hostile"], JOBS["aborted"]

ACTIONS = load_recording("2.9.0")
FINISHED = ACTIONS["jobs"]["finished"]
CLONE = ACTIONS["jobs"]["clone"]  # record.py aborted it before it ran


def answers(recording: dict, method: str, **args) -> list:
    """Every recorded answer of ``method`` whose arguments include ``args``, in recorded order."""
    return [
        decode(c["result"])
        for c in recording["calls"]
        if c["method"] == method and "result" in c and all(c["args"].get(k) == v for k, v in args.items())
    ]


def replay(recording=RECORDING, sequence=True, wrap=None):
    """(the recorded session, a poller on it); ``wrap(raw)`` stands between the session and NVFlare's answers."""
    raw = RecordedSession(recording, sequence=sequence)
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=wrap(raw) if wrap else raw)
    return raw, Poller(session_fn=lambda: ks, interval_fn=lambda: 1.0, autostart=False)


def lifecycle(ticks: int = TICKS["lifecycle"], wrap=None):
    """Phase 1 of the recording: its widgets, ticked ``ticks`` times."""
    raw, poller = replay(wrap=wrap)
    widgets = lifecycle_widgets(poller, JOBS)
    for _ in range(ticks):
        poller.tick()
    return raw, poller, widgets


@pytest.fixture(scope="module")
def phase1():
    """The widgets at the end of the recorded lifecycle (read-only: tests that click make their own)."""
    return lifecycle()[2]


def html_traits(widget) -> list[str]:
    """The value of every HTML widget inside ``widget`` (what the browser renders as markup)."""
    found, todo = [], [widget]
    while todo:
        node = todo.pop()
        if isinstance(node, w.HTML):
            found.append(node.value)
        todo.extend(getattr(node, "children", ()) or ())
    return found


# -- the job monitor through a whole job ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["monitor_a", "monitor_b"])
def test_the_monitor_ends_completed_with_a_full_bar(phase1, name):
    m = phase1[name]
    assert m.status == "FINISHED:COMPLETED"
    assert m.bar.value == m.bar.max == 3
    assert m.bar.bar_style == "success"
    assert m.bar_label.value == "round 3 of 3"
    assert m.finished


def test_the_monitor_header_names_the_job_and_its_status(phase1):
    header = phase1["monitor_a"].header.value
    name = answers(RECORDING, "list_jobs")[-1][0]["job_name"]
    assert f"<b><bdi>{name}</bdi></b>" in header and THREE in header and "FINISHED:COMPLETED" in header


def test_the_monitor_lists_both_sites_as_done(phase1):
    sites = phase1["monitor_a"].sites.value
    for site in CLIENTS:
        assert f">{site}<" in sites
    assert sites.count(">done<") == len(CLIENTS)


def test_the_monitor_metrics_frame(phase1):
    metrics = phase1["monitor_a"].metrics
    assert list(metrics.columns) == ["round", "site", "metric", "value"]
    assert [str(t) for t in metrics.dtypes] == ["int64", "string", "string", "float64"]
    assert set(metrics["site"]) == set(CLIENTS) | {AGGREGATED}  # each round's aggregated values too
    assert set(metrics["metric"]) == {"accuracy"}
    assert list(metrics.itertuples(index=False, name=None)) == round_metrics_rows(final_records(THREE))
    assert metrics.source == "round_metrics.jsonl"
    assert metrics["round"].max() == 2  # NVFlare's round records count from 0


def final_records(job_id: str) -> str:
    """The job's round records (NVFlare's round_metrics.jsonl) in its result, as downloaded once it ended."""
    (download,) = [
        c for c in RECORDING["calls"] if c["method"] == "download_job_result" and c["args"]["job_id"] == job_id
    ]
    return download["files"][f"workspace/{ROUND_METRICS}"]


def test_the_monitor_chart_is_an_svg_with_a_line_per_site(phase1):
    chart = phase1["monitor_a"].chart.value
    assert chart.startswith("<svg")
    for site in [*CLIENTS, AGGREGATED]:
        assert f"{site} accuracy" in chart
    assert chart.count("<polyline") == len(CLIENTS) + 1


def test_wait_returns_job_finished_once_the_job_ended(phase1):
    assert phase1["monitor_a"].wait(timeout=0) == compat.MonitorReturnCode.JOB_FINISHED


def test_wait_times_out_before_the_job_ended():
    _raw, _poller, widgets = lifecycle(ticks=0)
    m = widgets["monitor_a"]
    assert m.wait(timeout=0) == compat.MonitorReturnCode.TIMEOUT
    assert not m.finished and m.chart.value == ""


def test_wait_times_out_while_the_job_runs():
    _raw, poller = replay()
    m = lifecycle_widgets(poller, JOBS)["monitor_a"]
    for _ in range(TICKS["lifecycle"]):  # until the recorded job is amid its rounds
        poller.tick()
        if 0 < m.bar.value < 3:
            break
    assert m.status == "RUNNING"
    assert m.wait(timeout=0) == compat.MonitorReturnCode.TIMEOUT
    assert m.bar.bar_style == "info" and m.bar.max == 3 and 0 < m.bar.value < 3


def test_the_round_shown_never_goes_back_during_the_job():
    raw, poller = replay()
    widgets = lifecycle_widgets(poller, JOBS)
    m, seen = widgets["monitor_a"], []
    for _ in range(TICKS["lifecycle"]):
        poller.tick()
        seen.append(m.bar.value)
    assert seen == sorted(seen) and seen[-1] == 3


def test_the_monitor_reads_its_rounds_from_what_the_log_gained_then_the_final_round_records():
    raw, poller = replay()
    m = JobMonitor(THREE, poller=poller)
    log_reads = answers(RECORDING, "tail_from", file=f"{THREE}/log.txt")  # recorded order: one per running tick
    read, shown = FileFollower(), LogProgress()
    for _ in range(TICKS["lifecycle"]):
        snapshot = poller.tick()
        if snapshot.jobs[THREE]["status"] != "RUNNING":
            break
        text = log_reads.pop(0)
        shown.add(read.take("" if text.startswith("tail: ") else text))
        assert m.status == "RUNNING" and (m.bar.value, m.bar.max) == (shown.round or 0, 3)
    assert shown.round == 3  # the log's new lines alone already told round 3 of 3
    assert m.finished and m.status == "FINISHED:COMPLETED"
    assert (m.bar.value, m.bar.max, m.bar_label.value) == (3, 3, "round 3 of 3")
    assert list(m.metrics.itertuples(index=False, name=None)) == round_metrics_rows(final_records(THREE))
    assert [c[0] for c in raw.calls].count("download_job_result") == 1  # the round records, once, at the end
    assert "get_job_logs" not in [c[0] for c in raw.calls]  # never the whole log


def test_the_monitor_text_repr_is_readable(phase1):
    m = phase1["monitor_a"]
    text = repr(m)
    first = text.splitlines()[0]
    assert "FINISHED:COMPLETED" in first and "round 3 of 3" in first
    for site in CLIENTS:
        assert f"{site}: done" in text
    assert "accuracy" in text
    assert not re.search(r"<\w+", text)  # no markup in the text form
    bundle = m._repr_mimebundle_()
    assert bundle["text/plain"] == text  # not cut at 110 characters by ipywidgets
    assert len(text) > 110


# -- hostile names stay text ---------------------------------------------------------------------------------------
def test_the_hostile_name_is_escaped_in_the_monitor_header(phase1):
    header = phase1["monitor_hostile"].header.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in header
    assert "<img" not in header


def test_the_hostile_name_is_escaped_in_the_jobs_table(phase1):
    table = phase1["jobs"].table.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in table and HOSTILE_ID in table
    assert "<img" not in table


def test_the_hostile_name_is_literal_text_in_the_job_selector(phase1):
    labels = {value: label for label, value in phase1["jobs"].select.options}
    assert labels[HOSTILE_ID].startswith(HOSTILE + " · ")  # dropdown labels are text, never markup


def test_no_html_trait_of_any_widget_holds_raw_markup_from_the_server(phase1):
    traits = [value for widget in phase1.values() for value in html_traits(widget)]
    assert any("&lt;img" in value for value in traits)
    assert not [value for value in traits if "<img" in value]


def test_the_hostile_monitors_text_repr_shows_the_name_as_is(phase1):
    assert repr(phase1["monitor_hostile"]).startswith(f"job {HOSTILE} ({HOSTILE_ID}): FINISHED:COMPLETED")


# -- the other phase-1 widgets -------------------------------------------------------------------------------------
def test_the_jobs_panel_lists_the_recorded_jobs_newest_first():
    raw, _poller, widgets = lifecycle()
    panel = widgets["jobs"]
    listing = answers(RECORDING, "list_jobs")[[c[0] for c in raw.calls].count("list_jobs") - 1]  # its last page
    newest_first = [j["job_id"] for j in sorted(listing, key=lambda j: j["submit_time"], reverse=True)]
    assert [value for _label, value in panel.select.options] == newest_first
    assert panel.select.value == newest_first[0]
    assert panel.count.value.startswith(f"{len(listing)} of {len(listing)} jobs")


def test_the_clients_panel_lists_the_connected_clients(phase1):
    panel = phase1["clients"]
    last = answers(RECORDING, "get_connected_client_list")[TICKS["lifecycle"] - 1]
    assert list(panel.select.options) == [c.name for c in last]
    for site in CLIENTS:
        assert f"<td>{site}</td>" in panel.table.value


def test_the_clients_panel_shows_the_jobs_each_client_runs():
    _raw, _poller, widgets = lifecycle(ticks=3)
    status = answers(RECORDING, "get_client_job_status")[2]
    running = {}
    for s in status:
        if s.get("job_id"):
            running.setdefault(s["client_name"], []).append(s["job_id"])
    assert set(running) == set(CLIENTS)  # at tick 3 both clients ran both jobs of phase 1
    frame = widgets["clients"].frame
    for site, jobs in running.items():
        assert frame.loc[frame["name"] == site, "jobs"].iloc[0] == ", ".join(jobs)
    for job in {j for jobs in running.values() for j in jobs}:
        assert job in widgets["clients"].table.value


def test_the_clients_panel_shows_no_job_once_the_clients_have_none(phase1):
    last = answers(RECORDING, "get_client_job_status")[TICKS["lifecycle"] - 1]
    assert all("job_id" not in s for s in last)
    assert list(phase1["clients"].frame["jobs"]) == [""] * len(CLIENTS)


def test_the_followed_log_ends_with_the_last_tail(phase1):
    log = phase1["log"]
    last = answers(RECORDING, "tail_target_log")[TICKS["lifecycle"] - 1].splitlines()
    assert list(log.buffer)[-len(last) :] == last
    assert len(set(log.buffer)) == len(log.buffer)  # overlapping tails were not appended twice
    assert log.count.value == f"{len(log.buffer)} lines (following)"


# -- phase 2: aborting a running job through its monitor -----------------------------------------------------------
def phase2(wrap=None):
    """Phase 2 as recorded: after phase 1 (whose widgets are closed), a monitor of the long job, ticked until the
    job had begun its first round.

    Phase 2 shares list_jobs (and its recorded order) with phase 1: a fresh RecordedSession would answer phase 1's
    first listings, where the long job does not exist yet. So phase 1 is replayed first, as it was recorded."""
    raw, poller, widgets = lifecycle(wrap=wrap)
    for widget in widgets.values():
        widget.close()
    assert poller.subscribers == []
    m = JobMonitor(ABORTED, poller=poller)
    for _ in range(TICKS["before_abort"]):
        poller.tick()
    return raw, poller, m


def abort_calls(raw) -> list:
    return [c for c in raw.calls if c[0] == "abort_job"]


def test_the_abort_button_asks_first_and_cancel_sends_nothing():
    raw, poller, m = phase2()
    assert m.status == "RUNNING" and (m.progress.round or 0) >= 1
    m.abort_button.click()
    assert m.confirm.is_open and ABORTED in m.confirm.question.value
    assert abort_calls(raw) == []
    m.confirm.no.click()
    assert not m.confirm.is_open
    poller.tick()
    assert abort_calls(raw) == []  # cancelled: nothing was sent, not even at the next tick
    assert m.status == "RUNNING"


def test_abort_confirmed_is_sent_at_the_next_tick_and_the_job_ends_aborted():
    raw, poller, m = phase2()
    m.abort_button.click()
    m.confirm.no.click()
    m.abort_button.click()
    assert m.confirm.is_open
    m.confirm.yes.click()
    assert not m.confirm.is_open
    assert m.message == f"aborting job {ABORTED} ..."
    assert abort_calls(raw) == []  # queued for the poller's thread, not sent from the click
    before = len(raw.calls)
    poller.tick()
    assert raw.calls[before] == ("abort_job", {"job_id": ABORTED})  # first thing of the tick, before its poll
    assert m.message == f"abort of job {ABORTED} sent"  # the outcome stays visible while the job winds down
    for _ in range(TICKS["after_abort"] - 1):
        assert m.status == "RUNNING" and m.bar.bar_style == "info"
        poller.tick()
    assert m.status == "FINISHED:ABORTED"
    assert m.bar.bar_style == "warning"
    assert m.wait(timeout=0) == compat.MonitorReturnCode.JOB_FINISHED
    assert "FINISHED:ABORTED" in repr(m).splitlines()[0]
    assert abort_calls(raw) == [("abort_job", {"job_id": ABORTED})]  # once
    assert poller.subscribers == []


# -- a job with no log -----------------------------------------------------------------------------------------------
#: Why NVFlare said a job's log was unavailable, as recorded by tests/record.py (asking for a client's log)
UNAVAILABLE = answers(ACTIONS, "get_job_logs", job_id=FINISHED, target="site-1")[-1]["unavailable"]["site-1"]


def test_a_client_log_nvflare_does_not_stream_is_read_from_the_job_folder():
    # NVFlare's recorded answer for site-1 is {"logs": {}, "unavailable": {...}} ("client log stream not available");
    # the client keeps the job's log in the job's folder, so compat asks for it there next (what that returns is
    # checked live: tests/integration/test_operations_live.py)
    class Asked(Exception):
        pass

    class FolderRead(RecordedSession):
        def cat_target(self, target, options=None, file=None):
            raise Asked(target, file)

    with pytest.raises(Asked) as asked:
        compat.job_log_text(FolderRead(ACTIONS), FINISHED, "site-1")
    assert asked.value.args == ("site-1", f"{FINISHED}/log.txt")


class LogUnavailable:
    """The recorded session, except that NVFlare has no server log for ``job_id``: ``get_job_logs`` raises what
    ``compat.job_log_text`` raises on NVFlare's "unavailable" answer (the test above). Nothing else changes."""

    def __init__(self, raw: RecordedSession, job_id: str):
        self.raw, self.job_id, self.asked = raw, job_id, []

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def get_job_logs(self, job_id, *args, **kwargs):
        if job_id != self.job_id:
            return self.raw.get_job_logs(job_id, *args, **kwargs)
        self.asked.append(job_id)
        raise compat.NotSupported(f"the log of job {job_id} on server is not available: {UNAVAILABLE}")


class NoRoundRecords(LogUnavailable):
    """``LogUnavailable``, and the job keeps no readable round records (as before nvflare 2.9): reading them answers
    what the server answered for them before they existed ("tail: cannot open ..."), so the log is all there is."""

    def tail_from(self, target, file, offset):
        if file == f"{self.job_id}/{ROUND_METRICS_READABLE}":
            return answers(RECORDING, "tail_from", file=file)[0]
        return self.raw.tail_from(target, file, offset)


def test_a_finished_job_whose_log_is_unavailable_shows_no_error():
    links = []
    raw, poller, m = phase2(wrap=lambda r: links.append(NoRoundRecords(r, ABORTED)) or links[-1])
    for _ in range(TICKS["after_abort"]):  # the recorded job ends aborted (the replay plays it; no click needed)
        poller.tick()
    assert m.finished and m.status == "FINISHED:ABORTED"
    assert links[0].asked == [ABORTED]  # asked once, when it ended
    assert m.message == "" and m.banner.value == ""  # "no log" is not an error
    told = LogProgress()  # what the log's reads had told: the lines of as many recorded reads as the replay made
    read = FileFollower()
    made = [a for c, a in raw.calls if c == "tail_from" and a["file"] == f"{ABORTED}/log.txt"]
    for text in answers(RECORDING, "tail_from", file=f"{ABORTED}/log.txt")[: len(made)]:
        told.add(read.take("" if text.startswith("tail: ") else text))
    assert told.round and m.bar.bar_style == "warning" and m.bar_label.value == f"round {told.round} of 40"
    assert "\n! " not in repr(m)  # the text form carries no message either
    assert poller.subscribers == []


def test_the_monitor_keeps_what_it_read_while_running_when_the_final_log_is_unavailable():
    links = []
    _raw, _poller, widgets = lifecycle(wrap=lambda r: links.append(NoRoundRecords(r, THREE)) or links[-1])
    m = widgets["monitor_a"]
    read, log = FileFollower(), LogProgress("accuracy")
    for text in answers(RECORDING, "tail_from", file=f"{THREE}/log.txt"):
        log.add(read.take("" if text.startswith("tail: ") else text))
    assert m.finished and m.status == "FINISHED:COMPLETED" and links[0].asked == [THREE]
    assert m.message == "" and m.banner.value == ""
    assert m.bar_label.value == "round 3 of 3"
    assert list(m.metrics.itertuples(index=False, name=None)) == log.rows != []
    assert m.metrics.source == "server log"


def test_a_monitor_of_a_job_aborted_before_it_ran_says_so_at_once(install):
    # fj.monitor reads the job's meta (to fail early on an unknown id) and shows it before any tick
    raw = RecordedSession(ACTIONS, sequence=True)
    install(raw)
    poller = Poller(session_fn=fj.session, interval_fn=lambda: 1.0, autostart=False)
    m = monitor(CLONE, poller=poller)
    assert raw.calls == [("get_job_meta", {"job_id": CLONE})] and poller.ticks == 0
    meta = answers(ACTIONS, "get_job_meta", job_id=CLONE)[0]
    assert meta["status"] == "FINISHED:ABORTED" and not meta["start_time"]  # as recorded: it never started
    assert m.status == "FINISHED:ABORTED" and f"<b><bdi>{meta['name']}</bdi></b>" in m.header.value
    assert "the job never ran on any site" in m.sites.value
    assert m.bar.bar_style == "warning"
    hidden = {b.description for b in (m.abort_button, m.errors_button, m.download_button) if b.layout.display == "none"}
    assert hidden == {"Abort", "Errors", "Download"}  # no log or result to read, nothing to abort
    assert m.message == "" and repr(m).startswith(f"job {meta['name']} ({CLONE}): FINISHED:ABORTED")


# -- the jobs panel: filters, confirmation, actions ----------------------------------------------------------------
PLAIN_LISTING = {"detailed": False, "name_prefix": None, "id_prefix": None, "limit": None, "reverse": False}


def recorded_frame() -> pd.DataFrame:
    """The jobs of the last plain ``list_jobs`` answer of tests/record.py's scenario."""
    return frames.jobs_frame(answers(ACTIONS, "list_jobs", **PLAIN_LISTING)[-1])


def ids(frame) -> list[str]:
    return list(frame["job_id"])


def test_filter_by_name_prefix_matches_nvflares_own_filter():
    expected = [j["job_id"] for j in answers(ACTIONS, "list_jobs", name_prefix="hello")[-1]]
    assert ids(filter_jobs(recorded_frame(), name="hello")) == expected


def test_filter_by_id_prefix_matches_nvflares_own_filter():
    expected = [j["job_id"] for j in answers(ACTIONS, "list_jobs", id_prefix=FINISHED[:8])[-1]]
    assert ids(filter_jobs(recorded_frame(), job_id=FINISHED[:8])) == expected


def test_limit_newest_first_matches_nvflares_own_limit_and_reverse():
    expected = [j["job_id"] for j in answers(ACTIONS, "list_jobs", limit=1, reverse=True)[-1]]
    assert ids(filter_jobs(recorded_frame(), limit=1, newest_first=True)) == expected


def test_filter_by_status():
    listing = answers(RECORDING, "list_jobs", name_prefix=None)[-1]  # the jobs panel's page of the 3 ended jobs
    frame = frames.jobs_frame(listing)
    for status in ("FINISHED:COMPLETED", "FINISHED:ABORTED"):
        assert set(ids(filter_jobs(frame, status=status))) == {j["job_id"] for j in listing if j["status"] == status}
    assert set(ids(filter_jobs(frame, status="FINISHED"))) == {j["job_id"] for j in listing}
    assert ids(filter_jobs(frame, status="RUNNING")) == []
    assert ids(filter_jobs(frame, status="any")) != []


def test_order_and_limit():
    listing = answers(RECORDING, "list_jobs")[-1]
    frame = frames.jobs_frame(listing)
    oldest_first = [j["job_id"] for j in sorted(listing, key=lambda j: j["submit_time"])]
    assert ids(filter_jobs(frame, newest_first=False)) == oldest_first
    assert ids(filter_jobs(frame, newest_first=True)) == oldest_first[::-1]
    assert ids(filter_jobs(frame, limit=2, newest_first=False)) == oldest_first[:2]
    assert ids(filter_jobs(frame, limit=0)) == oldest_first[::-1]  # 0: all, as NVFlare's list_jobs reads it


def test_filters_combine_and_keep_the_frames_columns():
    frame = recorded_frame()
    shown = filter_jobs(frame, name="hello", status="FINISHED:COMPLETED")
    assert ids(shown) == [FINISHED]
    assert list(shown.columns) == list(frame.columns)
    assert ids(filter_jobs(frame, name="no job is named so")) == []


def panel_on_recorded_jobs():
    """A jobs panel on phase 3 of the widgets recording (its page of the ended jobs, a name filter, a clone)."""
    raw, poller = replay(RECORDING, sequence=False)
    panel = JobsPanel(poller=poller)
    poller.tick()
    return raw, poller, panel


def test_the_jobs_panel_filter_boxes_change_what_is_shown():
    raw, poller, panel = panel_on_recorded_jobs()
    panel.name_filter.value = "hello"
    poller.tick()
    assert raw.calls[-1] == ("list_jobs", {**PLAIN_LISTING, "limit": 50, "reverse": True, "name_prefix": "hello"})
    page = answers(RECORDING, "list_jobs", name_prefix="hello")[-1]  # filtered by the server
    assert [v for _l, v in panel.select.options] == [j["job_id"] for j in page]
    assert panel.count.value.startswith(f"{len(page)} of {len(page)} jobs")


def test_delete_asks_first_and_cancel_sends_nothing():
    raw, poller, panel = panel_on_recorded_jobs()
    job = panel.select.value
    assert job
    panel.buttons["Delete"].click()
    assert panel.confirm.is_open
    assert job in panel.confirm.question.value and "Delete" in panel.confirm.question.value
    panel.confirm.no.click()
    assert not panel.confirm.is_open
    poller.tick()
    assert [c for c in raw.calls if c[0] == "delete_job"] == []
    assert panel.message == ""


def test_clone_reports_the_new_job_after_the_next_tick():
    raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE
    panel.buttons["Clone"].click()
    assert panel.message == f"cloning job {THREE} ..."
    assert [c for c in raw.calls if c[0] == "clone_job"] == []
    poller.tick()
    (new_id,) = answers(RECORDING, "clone_job", job_id=THREE)
    assert new_id == JOBS["clone"]
    assert [c for c in raw.calls if c[0] == "clone_job"] == [("clone_job", {"job_id": THREE})]
    assert panel.message == f"job {THREE} cloned as {new_id}"
    assert new_id in panel.banner.value


def test_the_monitor_button_opens_a_monitor_of_the_selected_job():
    _raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE
    panel.buttons["Monitor"].click()
    (m,) = panel.monitors.children
    assert isinstance(m, JobMonitor) and m.job_id == THREE
    assert m in poller.subscribers


# -- guarded callbacks: a failing button shows one line in the banner ----------------------------------------------
def test_a_failing_button_shows_one_line_in_the_banner_instead_of_raising():
    _raw, poller = replay(ACTIONS, sequence=False)
    panel = JobsPanel(poller=poller)  # no tick yet: no job to select
    panel.buttons["Monitor"].click()
    assert "select a job first" in panel.message and "\n" not in panel.message
    assert "select a job first" in panel.banner.value
    assert len(panel.monitors.children) == 0


def test_a_failing_clients_button_shows_one_line_in_the_banner():
    _raw, poller = replay(ACTIONS, sequence=False)
    panel = ClientsPanel(poller=poller)
    panel.env_button.click()
    assert "select a client first" in panel.message and "\n" not in panel.message
    assert "select a client first" in panel.banner.value


def test_a_button_error_stays_visible_after_the_next_tick():
    _raw, poller = replay(RECORDING, sequence=False)
    panel = JobsPanel(poller=poller)
    panel.buttons["Stats"].click()
    poller.tick()  # a successful poll does not wipe what the user's click was told
    assert "select a job first" in panel.message


def test_a_failed_action_shows_its_error_after_the_tick():
    raw, poller = replay(ACTIONS, sequence=False)
    m = JobMonitor(FINISHED, poller=poller)
    m.act("reading a log", lambda s: s.get_job_meta("00000000-0000-0000-0000-000000000000"))
    poller.tick()
    assert ("get_job_meta", {"job_id": "00000000-0000-0000-0000-000000000000"}) in raw.calls
    assert "does not exist on the server" in m.message and "\n" not in m.message


# -- the clients panel ---------------------------------------------------------------------------------------------
def test_the_clients_panel_after_a_tick():
    _raw, poller = replay(ACTIONS, sequence=False)
    panel = ClientsPanel(poller=poller, every=0)
    assert panel.table.value == "" and list(panel.select.options) == []  # nothing before the first tick
    poller.tick()
    expected = [c.name for c in answers(ACTIONS, "get_connected_client_list")[-1]]
    assert sorted(expected) == sorted(CLIENTS)
    assert list(panel.select.options) == expected
    for site in CLIENTS:
        assert f"<td>{site}</td>" in panel.table.value
    assert "clients panel" in repr(panel) and all(site in repr(panel) for site in CLIENTS)


class Heartbeating:
    """The recorded session, but every client listed sends a heartbeat between two listings (its last_connect_time
    moves on by NVFlare's 10 s interval), as live clients do."""

    def __init__(self, raw):
        self._raw, self.listings = raw, 0

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def get_connected_client_list(self):
        self.listings += 1
        listed = [copy.copy(c) for c in self._raw.get_connected_client_list()]
        for c in listed:
            c.last_connect_time += 10.0 * self.listings
        return listed


def clients_panel_on(clock: list, monkeypatch, wrap=None) -> tuple[ClientsPanel, Poller]:
    monkeypatch.setattr(clients_module, "_now", lambda: clock[0])
    _raw, poller = replay(ACTIONS, sequence=False, wrap=wrap)
    return ClientsPanel(poller=poller, every=0), poller


def test_a_listed_client_that_sends_no_heartbeat_shows_as_silent(monkeypatch):
    # the recording answers every listing alike: no last_connect_time moves, as for a killed client the server
    # still lists (until its heartbeat timeout) or one NVFlare re-activated after its logout
    clock = [1000.0]
    panel, poller = clients_panel_on(clock, monkeypatch)
    poller.tick()
    assert list(panel.frame["state"]) == ["connected"] * len(CLIENTS)
    assert "heartbeat" not in panel.table.value
    clock[0] += compat.STOPPED_CLIENT_SILENCE - 1
    poller.tick()
    assert list(panel.frame["state"]) == ["connected"] * len(CLIENTS)
    clock[0] += 1
    poller.tick()
    silent = f"silent {compat.STOPPED_CLIENT_SILENCE:.0f} s"
    assert list(panel.frame["state"]) == [silent] * len(CLIENTS)
    assert panel.frame["state"].dtype == "string"
    names = ", ".join(f"<bdi>{site}</bdi>" for site in sorted(CLIENTS))
    assert f"{names} have sent no heartbeat for 20 s or more" in panel.table.value
    assert all(f"<td>{site}</td>" in panel.table.value for site in CLIENTS)  # still listed: still selectable
    assert sorted(panel.select.options) == sorted(CLIENTS)
    assert silent in repr(panel)


def test_the_silence_note_escapes_and_isolates_client_names():
    note = clients_module.silence_note({HOSTILE: 25.0})
    assert "<img" not in note and render.esc(HOSTILE) in note
    assert note.startswith(f"<i><bdi>{render.esc(HOSTILE)}</bdi> has sent no heartbeat for 25 s or more")
    assert clients_module.silence_note({}) == ""


def test_clients_that_send_heartbeats_stay_connected(monkeypatch):
    clock = [1000.0]
    panel, poller = clients_panel_on(clock, monkeypatch, wrap=Heartbeating)
    for _ in range(12):  # two minutes of listings, 10 s apart
        poller.tick()
        clock[0] += 10.0
    assert list(panel.frame["state"]) == ["connected"] * len(CLIENTS)
    assert "heartbeat" not in panel.table.value


# -- the log viewer ------------------------------------------------------------------------------------------------
TAILS = [text.splitlines() for text in answers(RECORDING, "tail_target_log")]


def test_merge_tail_keeps_only_the_new_lines_of_an_overlapping_tail():
    a, b = next((a, b) for a, b in zip(TAILS, TAILS[1:], strict=False) if a != b and set(a) & set(b))
    new = merge_tail(a, b)
    merged = a + new
    assert 0 < len(new) < len(b)
    assert merged[-len(b) :] == b
    assert len(set(merged)) == len(merged)


def test_merge_tail_of_an_unchanged_log_is_nothing():
    a, b = next((a, b) for a, b in zip(TAILS, TAILS[1:], strict=False) if a == b)
    assert merge_tail(a, b) == []


def test_merge_tail_without_overlap_is_the_whole_tail():
    a, b = TAILS[0], TAILS[-1]
    assert not set(a) & set(b)
    assert merge_tail(a, b) == b


def test_merge_tail_into_an_empty_buffer_is_the_whole_tail():
    assert merge_tail([], TAILS[0]) == TAILS[0]


ALL_LINES = list(dict.fromkeys(line for tail in TAILS for line in tail))


def test_grep_with_a_regex():
    found = grep(ALL_LINES, r"(JobRunner|ClientManager) - INFO")
    assert found
    assert found == [ln for ln in ALL_LINES if "JobRunner - INFO" in ln or "ClientManager - INFO" in ln]


def test_grep_with_an_invalid_regex_searches_the_text():
    pattern = "[identity=server"
    with pytest.raises(re.error):
        re.compile(pattern)
    found = grep(ALL_LINES, pattern)
    assert found and found == [ln for ln in ALL_LINES if pattern in ln]


def test_grep_ignores_case():
    assert grep(ALL_LINES, "jobrunner - info") == [ln for ln in ALL_LINES if "JobRunner - INFO" in ln] != []


def test_grep_without_a_pattern_is_every_line():
    assert grep(ALL_LINES, "") == ALL_LINES


def test_the_log_buffer_never_exceeds_its_size_while_following():
    size = 25
    raw, poller = replay()
    viewer = LogViewer("server", lines=20, follow=True, poller=poller, max_buffer=size)
    for i, tail in enumerate(TAILS):
        poller.tick()
        assert len(viewer.buffer) <= size
        assert list(viewer.buffer)[-len(tail) :] == tail, f"tick {i + 1}"
    assert len(viewer.buffer) == size  # the log grew past it
    assert viewer.count.value == f"{size} lines (following)"
    assert [c[0] for c in raw.calls] == ["tail_target_log"] * len(TAILS)


def test_the_log_viewers_grep_box_filters_what_is_shown():
    raw, poller = replay()
    viewer = LogViewer("server", lines=20, follow=False, poller=poller)
    poller.tick()
    assert list(viewer.buffer) == TAILS[0]
    component = TAILS[0][0].split(" - ")[1]  # the logger of the first line ("date - logger - LEVEL - message")
    viewer.pattern.value = component
    poller.tick()
    shown = [ln for ln in TAILS[0] if component in ln]
    assert 0 < len(shown) < len(TAILS[0])
    assert viewer.text.value == render.pre("\n".join(shown))
    assert viewer.count.value == f"{len(shown)} of {len(TAILS[0])} lines"
    assert [c[0] for c in raw.calls] == ["tail_target_log"]  # filtering does not ask the server again


# -- %flare widget commands ----------------------------------------------------------------------------------------
@pytest.fixture
def shared(monkeypatch, recorded):
    """The kernel's shared poller, without its thread: the test ticks it."""
    poller = Poller(session_fn=fj.session, interval_fn=lambda: 1.0, autostart=False)
    monkeypatch.setattr(Poller, "_shared", poller)
    yield poller
    assert not poller.running


@pytest.fixture
def widgets_recorded(install):
    """The kernel session on the widgets recording (the jobs panel's own page listings are recorded there)."""
    raw = RecordedSession(RECORDING)
    install(raw)
    return raw


PANEL_PAGE = {**PLAIN_LISTING, "limit": 50, "reverse": True}


def test_flare_jobs_panel(flare, shared, widgets_recorded):
    panel = flare("jobs_panel")
    assert isinstance(panel, JobsPanel)
    assert shared.subscribers == [panel]
    shared.tick()
    listing = answers(RECORDING, "list_jobs", **PANEL_PAGE)[-1]
    assert {v for _l, v in panel.select.options} == {j["job_id"] for j in listing}


def test_flare_jobs_panel_shows_the_jobs_before_any_tick(flare, shared, widgets_recorded):
    recorded = widgets_recorded
    panel = flare("jobs_panel")
    assert shared.ticks == 0
    assert [c[0] for c in recorded.calls] == ["list_jobs"]
    listing = answers(RECORDING, "list_jobs", **PANEL_PAGE)[-1]
    assert {v for _l, v in panel.select.options} == {j["job_id"] for j in listing}
    text = repr(panel)  # what a saved notebook shows
    assert text.startswith(f"jobs panel ({len(listing)} of {len(listing)} jobs)")
    assert all(j["job_id"] in text for j in listing)


class NewestFirst:
    """The recorded session, whose whole listing (nvflare-2.9.0.json) also answers newest first, as NVFlare's
    ``reverse`` does; ``asked`` keeps the listings' arguments."""

    def __init__(self, raw: RecordedSession):
        self.raw = raw
        self.asked: list[dict] = []

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def list_jobs(self, **arguments):
        self.asked.append(arguments)
        assert arguments.get("limit") is None and not arguments.get("name_prefix") and not arguments.get("id_prefix")
        whole = self.raw.list_jobs()
        return sorted(whole, key=lambda j: j["submit_time"], reverse=bool(arguments.get("reverse")))


@pytest.mark.parametrize("make", [lambda flare: flare("jobs_panel --limit 0"), lambda _flare: fj.jobs_panel(limit=0)])
def test_a_jobs_panel_of_limit_0_shows_every_job(make, flare, shared, install):
    link = NewestFirst(RecordedSession(ACTIONS))
    install(link)
    panel = make(flare)
    assert panel.limit.value == 0
    assert [a.get("limit") for a in link.asked] == [None]  # "0 or None to show all" (NVFlare): every job listed
    assert link.asked[0].get("reverse") is True
    whole = answers(ACTIONS, "list_jobs", detailed=False, limit=None, name_prefix=None, id_prefix=None)[-1]
    whole = sorted(whole, key=lambda j: j["submit_time"], reverse=True)
    assert len(whole) > 1
    assert [v for _l, v in panel.select.options] == [j["job_id"] for j in whole]  # all of them, newest first
    assert panel.count.value.startswith(f"{len(whole)} of {len(whole)} jobs")
    assert "limit" not in panel.count.value  # all of them: no "raise the limit for more"
    panel.limit.value = 1  # and back from a limit to all
    shared.tick()
    panel.limit.value = 0
    shared.tick()
    assert len(panel.select.options) == len(whole)


def test_a_negative_jobs_panel_limit_is_refused_in_one_line(recorded):
    with pytest.raises(fj.FlareError, match=r"limit must be a whole number from 0 to 100000 \(0 for all jobs\)"):
        fj.jobs_panel(limit=-1)


def test_flare_clients_panel(flare, shared, recorded):
    panel = flare("clients_panel")
    assert isinstance(panel, ClientsPanel)
    assert shared.subscribers == [panel]
    shared.tick()
    assert sorted(panel.select.options) == sorted(CLIENTS)


def test_flare_log_viewer(flare, shared, recorded):
    viewer = flare("log_viewer server --lines 5")
    assert isinstance(viewer, LogViewer)
    assert viewer.target == "server" and viewer.job is None and viewer.lines.value == 5
    assert shared.subscribers == [viewer]


def test_flare_dashboard(flare, shared, recorded):
    board = flare("dashboard")
    assert isinstance(board, Dashboard)
    assert isinstance(board.jobs, JobsPanel) and isinstance(board.clients, ClientsPanel)
    assert isinstance(board.logs, LogViewer)
    assert set(shared.subscribers) == {board, board.jobs, board.clients, board.logs}
    assert "admin@nvidia.com" in board.header.value


def test_flare_log_viewer_with_negative_lines_is_one_usage_line(flare, shared, recorded):
    with pytest.raises(UsageError) as caught:
        flare("log_viewer server --lines -3")
    message = str(caught.value)
    assert "--lines" in message and "'-3'" in message and "\n" not in message
    assert shared.subscribers == []


# -- widgets whose output the notebook no longer shows stop costing polls -----------------------------------------
def test_a_widget_no_longer_shown_is_not_polled_and_showing_it_again_resumes():
    _, poller = replay()
    panel = JobsPanel(poller=poller)
    assert panel in poller.subscribers
    panel._view_count = 1  # what the front end reports when it draws the widget
    panel._view_count = 0  # ... and when the cell's output is cleared or the cell re-run
    assert panel not in poller.subscribers
    panel._view_count = 1  # displayed again
    assert panel in poller.subscribers


def test_waiting_on_a_monitor_whose_output_was_cleared_watches_it_again():
    _, poller = replay()
    m = JobMonitor(THREE, poller=poller)
    m._view_count = 1
    m._view_count = 0
    assert m not in poller.subscribers
    assert m.wait(timeout=0) == compat.MonitorReturnCode.TIMEOUT
    assert m in poller.subscribers
