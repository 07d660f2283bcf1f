"""fj.session() (the KernelSession drop-in for NVFlare's Session) on answers recorded from a real system."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid

import pytest
from nvflare.apis.fl_exception import FLCommunicationError
from nvflare.fuel.flare_api import api_spec
from packaging.version import Version

import flare_jupyter as fj
from fakes import RecordedSession, load_recording
from flare_jupyter import compat
from flare_jupyter.errors import ArgumentError, FlareError

RECORDING = load_recording()
JOBS = RECORDING["jobs"]
FINISHED, CLONE, HOSTILE_ID = JOBS["finished"], JOBS["clone"], JOBS["hostile"]
NO_JOB = "00000000-0000-0000-0000-000000000000"
_SUBMITS = [c for c in RECORDING["calls"] if c["method"] == "submit_job"]
JOB_FOLDER = next(c["args"]["job_definition_path"] for c in _SUBMITS if "result" in c)  # what record.py submitted
NOT_A_JOB = next(c["args"]["job_definition_path"] for c in _SUBMITS if "raises" in c)  # a folder without meta.json


# -- drop-in: NVFlare's names, parameters and return values -------------------------------------------------------
@pytest.mark.parametrize(
    "method, args, kwargs",
    [
        ("list_jobs", (), {}),
        ("list_jobs", (), {"detailed": True}),
        ("list_jobs", (), {"limit": 1, "reverse": True}),
        ("list_jobs", (), {"name_prefix": "hello"}),
        ("get_job_meta", (FINISHED,), {}),
        ("show_stats", (FINISHED, "client"), {}),
        ("show_errors", (FINISHED, "client"), {}),
        ("get_client_job_status", (), {}),
        ("get_client_env", (["site-2"],), {}),
        ("check_status", ("server",), {}),
        ("report_version", ("server",), {}),
        ("get_job_logs", (FINISHED,), {}),
        ("get_available_apps_to_upload", (), {}),
        ("get_working_directory", ("site-1",), {}),
        ("ls_target", ("server",), {}),
        ("cat_target", ("server",), {"file": "log.txt"}),
        ("head_target", ("server",), {"options": "-n 3", "file": "log.txt"}),
        ("tail_target", ("server",), {"options": "-n 3", "file": "log.txt"}),
        ("grep_target", ("server",), {"pattern": "Client", "file": "log.txt"}),
        ("head_target_log", ("site-1",), {"options": "-n 2"}),
        ("tail_target_log", ("server",), {"options": "-n 2"}),
        ("download_job_result", (FINISHED,), {}),
        ("clone_job", (FINISHED,), {}),
        ("abort_job", (CLONE,), {}),
        ("delete_job", (CLONE,), {}),
    ],
)
def test_drop_in_method_returns_exactly_what_nvflare_returned(recorded, answers, method, args, kwargs):
    bound = inspect.signature(getattr(compat.RawSession, method)).bind(None, *args, **kwargs).arguments
    bound.pop("self")
    expected = answers(method, **bound)[-1]
    got = getattr(fj.session(), method)(*args, **kwargs)
    assert type(got) is type(expected)
    assert got == expected


def test_list_jobs_is_a_list_of_dicts(recorded):
    jobs = fj.session().list_jobs()
    assert isinstance(jobs, list) and all(isinstance(j, dict) for j in jobs)
    assert [j["job_id"] for j in jobs] == [FINISHED, HOSTILE_ID]


def test_get_job_meta_is_a_dict(recorded):
    meta = fj.session().get_job_meta(FINISHED)
    assert isinstance(meta, dict)
    assert meta["job_id"] == FINISHED and meta["status"] == "FINISHED:COMPLETED"


def test_show_stats_is_a_dict(recorded):
    stats = fj.session().show_stats(FINISHED, "client", ["site-1"])
    assert stats == {"site-1": {"ClientRunner": {"current_tasks": ["train"], "job_id": FINISHED}}}


def test_connected_clients_are_nvflare_client_infos(recorded):
    clients = fj.session().get_connected_client_list()
    assert all(isinstance(c, api_spec.ClientInfo) for c in clients)
    assert [c.name for c in clients] == ["site-2", "site-1"]


def test_system_info_is_nvflare_system_info(recorded):
    info = fj.session().get_system_info()
    assert isinstance(info, api_spec.SystemInfo)
    assert [c.name for c in info.client_info] == ["site-2", "site-1"]


def test_cat_target_is_the_file_text(recorded):
    text = fj.session().cat_target("server", file="no_such_file.txt")
    assert type(text) is str
    assert text == "cat: no_such_file.txt: No such file or directory\n"


def test_submit_job_returns_the_new_job_id(recorded):
    assert fj.session().submit_job(JOB_FOLDER) == FINISHED


def test_set_timeout_returns_none(recorded):
    assert fj.session().set_timeout(10.0) is None
    assert recorded.calls == [("set_timeout", {"value": 10.0})]


def test_job_log_is_the_server_log_text(recorded, answers):
    expected = answers("get_job_logs", job_id=FINISHED)[-1]["logs"]["server"]
    assert fj.session().job_log(FINISHED) == expected


def test_monitor_finished_job_returns_job_finished(recorded):
    seen = []
    rc = fj.session().monitor_job(FINISHED, cb=lambda s, job_id, meta: seen.append(meta["status"]) or True)
    assert rc == compat.MonitorReturnCode.JOB_FINISHED
    assert seen == ["FINISHED:COMPLETED"]


def test_wait_for_finished_job_returns_its_meta(recorded):
    assert fj.session().wait_for_job(FINISHED)["status"] == "FINISHED:COMPLETED"


def test_methods_keep_nvflare_signature_and_docstring():
    for name in ("list_jobs", "get_job_meta", "show_stats", "cat_target", "download_job_result"):
        ours, theirs = getattr(fj.KernelSession, name), getattr(compat.RawSession, name)
        assert inspect.signature(ours) == inspect.signature(theirs), name
        assert ours.__doc__ == theirs.__doc__, name


# -- errors: NVFlare's type, one clear line -----------------------------------------------------------------------
ERRORS = [
    (
        lambda s: s.get_job_meta(NO_JOB),
        api_spec.JobNotFound,
        f"job '{NO_JOB}' does not exist on the server: check the id with %flare list_jobs",
    ),
    (
        lambda s: s.abort_job(NO_JOB),
        api_spec.JobNotFound,
        f"job '{NO_JOB}' does not exist on the server",
    ),
    (
        lambda s: s.show_errors(FINISHED, "server"),
        api_spec.JobNotRunning,
        f"job '{FINISHED}' is not running",
    ),
    (
        lambda s: s.tail_target_log("site-9"),
        api_spec.InvalidTarget,
        "target 'site-9' is not known to the server (invalid target: site-9)",
    ),
    (
        lambda s: s.submit_job(NOT_A_JOB),
        api_spec.InvalidJobDefinition,
        "the job folder was rejected: invalid job definition",
    ),
    (
        lambda s: s.cat_target("server", file="../etc/passwd"),
        ArgumentError,
        "NVFlare rejected the arguments: .. in path name is not allowed",
    ),
    (
        lambda s: s.tail_target_log("server", options="; rm -rf /"),
        ArgumentError,
        "NVFlare rejected the arguments: options must be a string of only valid characters.",
    ),
]
ERROR_IDS = ["JobNotFound", "JobNotFound-abort", "JobNotRunning", "InvalidTarget", "InvalidJobDefinition"]
ERROR_IDS += ["ArgumentError-path", "ArgumentError-options"]


@pytest.mark.parametrize("call, nvflare_type, sentence", ERRORS, ids=ERROR_IDS)
def test_error_keeps_nvflare_type_and_says_one_clear_sentence(recorded, call, nvflare_type, sentence):
    with pytest.raises(nvflare_type) as caught:
        call(fj.session())
    assert str(caught.value).startswith(sentence)
    assert caught.value._render_traceback_() == [f"{nvflare_type.__name__}: {caught.value}"]


CELL_ERRORS = [
    (f"fj.session().get_job_meta('{NO_JOB}')", "JobNotFound: job '00000000"),
    ("fj.session().tail_target_log('site-9')", "InvalidTarget: target 'site-9' is not known"),
    (f"fj.session().show_stats('{FINISHED}', 'server')", f"JobNotRunning: job '{FINISHED}' is not running"),
    ("fj.session().cat_target('server', file='../etc/passwd')", "ArgumentError: NVFlare rejected the arguments: .."),
]


@pytest.mark.parametrize("source, line", CELL_ERRORS, ids=["JobNotFound", "InvalidTarget", "JobNotRunning", "Syntax"])
def test_error_in_a_cell_shows_one_line_and_no_traceback(recorded, cell, source, line):
    result, seen = cell("import flare_jupyter as fj\n" + source)
    assert result.error_in_exec is not None
    assert "Traceback" not in seen
    assert len(seen.strip().splitlines()) == 1
    assert seen.startswith(line)


def test_invalid_submit_path_is_refused_before_the_server(recorded):
    with pytest.raises(compat.InvalidJobDefinition, match="submit_job needs the path of a job folder"):
        fj.session().submit_job("")
    assert recorded.calls == []


@pytest.mark.parametrize("value, kind", [(0, ValueError), (-1, ValueError), (True, TypeError), ("10", TypeError)])
def test_invalid_timeout_is_refused_before_the_server(recorded, value, kind):
    # the types NVFlare's own set_timeout raises (TypeError for no number, ValueError for a bad one)
    with pytest.raises(kind, match="timeout must be a positive number of seconds"):
        fj.session().set_timeout(value)
    assert recorded.calls == []


# -- service providers (removed from NVFlare 2.7: answered for the single server) ----------------------------------
def test_list_sp_answers_the_single_server_shape(recorded_with_kit):
    answer = fj.session().list_sp()
    assert set(answer) == {"primary_sp", "sp_list", "system"}
    assert answer["sp_list"] == [answer["primary_sp"]]
    assert answer["system"] == "ready"
    primary = answer["primary_sp"]
    assert (primary["name"], primary["fl_port"], primary["admin_port"]) == ("localhost", "55807", "57561")
    assert primary["primary"] is True


def test_get_active_sp_is_the_primary_of_list_sp(recorded_with_kit):
    assert fj.session().get_active_sp() == fj.session().list_sp()["primary_sp"]


def test_promote_sp_raises_a_clear_one_line_error(recorded_with_kit):
    with pytest.raises(compat.NotSupported) as caught:
        fj.session().promote_sp("localhost:8002:8003")
    assert "nothing to promote" in str(caught.value)
    assert caught.value._render_traceback_() == [f"NotSupported: {caught.value}"]
    assert recorded_with_kit.calls == []


# -- display and the session's life ------------------------------------------------------------------------------
def test_repr_shows_user_clients_and_state(recorded):
    text = repr(fj.session())
    assert text.startswith("FLARE session ")
    assert "user: admin@nvidia.com" in text
    assert "clients: site-1, site-2" in text
    assert "state: connected" in text


def test_repr_html_shows_the_same_in_a_table(recorded):
    page = fj.session()._repr_html_()
    assert "<table>" in page and "site-1, site-2" in page and "connected" in page


def test_repr_html_escapes_the_user_name(recorded, install):
    ks = install(recorded, username="<script>alert(1)</script>")
    page = ks._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page


def test_repr_never_raises_when_the_server_cannot_answer(install):
    ks = install(RecordedSession(recording={"calls": [], "jobs": {}}))
    assert "state: not connected (LookupError)" in repr(ks)
    assert "not connected (LookupError)" in ks._repr_html_()


def test_repr_after_disconnect_says_closed(recorded):
    ks = fj.session()
    fj.disconnect()
    assert "state: closed" in repr(ks)
    assert "closed" in ks._repr_html_()
    assert recorded.closed


def test_session_after_disconnect_says_how_to_connect(recorded):
    fj.disconnect()
    assert fj.current() is None
    with pytest.raises(FlareError) as caught:
        fj.session()
    assert "fj.connect(KIT)" in str(caught.value) and "%flare connect" in str(caught.value)
    assert caught.value._render_traceback_() == [f"NotConnected: {caught.value}"]  # a FlareError: one line


def test_session_after_disconnect_in_a_cell_shows_one_line(recorded, cell):
    fj.disconnect()
    result, seen = cell("import flare_jupyter as fj\nfj.session()")
    assert isinstance(result.error_in_exec, FlareError)
    assert seen.strip().splitlines() == [f"NotConnected: {result.error_in_exec}"]


def test_closed_session_methods_say_how_to_connect_again(recorded):
    ks = fj.session()
    fj.disconnect()
    with pytest.raises(FlareError, match="this session was closed: connect again with fj.connect"):
        ks.list_jobs()
    assert recorded.calls == []


# -- threads ------------------------------------------------------------------------------------------------------
class CountingSession(RecordedSession):
    """A RecordedSession that counts how many calls are inside NVFlare at the same moment."""

    def __init__(self):
        super().__init__()
        self.inside = 0
        self.most_inside = 0
        self.counter_lock = threading.Lock()

    def __getattr__(self, name):
        replay = super().__getattr__(name)

        def counted(*args, **kwargs):
            with self.counter_lock:
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
            try:
                return replay(*args, **kwargs)
            finally:
                with self.counter_lock:
                    self.inside -= 1

        return counted


def test_calls_from_several_threads_all_succeed_one_at_a_time(install):
    raw = CountingSession()
    ks = install(raw)
    n = 8
    start = threading.Barrier(n)
    results, failures = [], []

    def worker():
        start.wait(timeout=30)
        try:
            for _ in range(5):
                results.append((len(ks.list_jobs()), ks.get_job_meta(FINISHED)["status"]))
        except Exception as e:  # collected, asserted below
            failures.append(e)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so unserialised calls would overlap
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(switch)
    assert failures == []
    assert results == [(2, "FINISHED:COMPLETED")] * (n * 5)
    assert [name for name, _ in raw.calls].count("list_jobs") == n * 5
    assert [name for name, _ in raw.calls].count("get_job_meta") == n * 5
    assert raw.most_inside == 1


def test_nvflare_calls_run_while_the_session_lock_is_held(recorded):
    ks = fj.session()
    lock_free_during_call = []

    def try_lock():
        got = ks._lock.acquire(blocking=False)
        lock_free_during_call.append(got)
        if got:
            ks._lock.release()

    class Probe(RecordedSession):
        def __getattr__(self, name):
            replay = super().__getattr__(name)

            def probed(*args, **kwargs):
                other = threading.Thread(target=try_lock)
                other.start()
                other.join(timeout=30)
                return replay(*args, **kwargs)

            return probed

    ks._raw = Probe()
    ks.list_jobs()
    assert lock_free_during_call == [False]


@pytest.mark.parametrize("name", compat.QUIET_TRACEBACKS)
def test_nvflares_printed_tracebacks_go_to_the_log_not_the_cell(name, capsys, caplog):
    module = importlib.import_module(name) if importlib.util.find_spec(name) else None
    if module is None or not hasattr(module, "traceback"):  # this release's module prints none
        assert compat.NVFLARE_VERSION < Version("2.9")
        return
    try:
        raise FLCommunicationError("expect payload to be dict but got <class 'NoneType'>")  # what CI's restart saw
    except FLCommunicationError:
        with caplog.at_level(logging.DEBUG, logger="flare_jupyter.nvflare"):
            module.traceback.print_exc()  # as NVFlare's code calls it
    assert capsys.readouterr().err == ""
    assert "FLCommunicationError: expect payload to be dict" in caplog.text
    assert module.traceback.format_exc is traceback.format_exc  # the rest is the real module's


# -- shutting down clients: the wait that also ends for a client NVFlare re-activated after its logout -------------
def test_a_client_no_longer_listed_has_stopped():
    stopping = compat.ClientHeartbeats(["site-2"])
    assert stopping.still_up({"site-1": 100.0, "site-2": 100.0}, now=0.0) == {"site-2"}
    assert stopping.still_up({"site-1": 110.0}, now=1.0) == set()


def test_a_client_that_sends_heartbeats_stays_up_however_long_we_wait():
    stopping = compat.ClientHeartbeats(["site-2"])
    for second in range(0, 120):  # a heartbeat every 10 s moves its last_connect_time
        assert stopping.still_up({"site-2": 1000.0 + 10 * (second // 10)}, now=float(second)) == {"site-2"}


def test_a_listed_client_without_heartbeats_has_stopped_after_two_of_their_intervals():
    # the server's log in such a case: "Client Name:site-2 left." then, 3 ms later, "Re-activate the client: site-2"
    stopping = compat.ClientHeartbeats(["site-2"])
    ghost = {"site-1": 50.0, "site-2": 1000.0}
    assert stopping.still_up(ghost, now=0.0) == {"site-2"}
    assert stopping.still_up(ghost, now=compat.STOPPED_CLIENT_SILENCE - 0.5) == {"site-2"}
    assert stopping.still_up(ghost, now=compat.STOPPED_CLIENT_SILENCE) == set()
    assert compat.STOPPED_CLIENT_SILENCE >= 2 * 10.0  # NVFlare's heart_beat_interval


def test_a_client_with_a_longer_heartbeat_interval_is_silent_only_after_two_of_its_own():
    # seen moving by 60 s at our second 10: the site's heart_beat_interval is 60 s (before a move is seen, NVFlare's
    # default of 10 s is assumed: a panel opened on such a site may call it silent until its next heartbeat)
    heartbeats = compat.ClientHeartbeats(["site-1"])
    for second in range(0, 130):
        beat = 1000.0 if second < 10 else 1060.0
        assert heartbeats.still_up({"site-1": beat}, now=float(second)) == {"site-1"}
    assert heartbeats.silent({"site-1": 1060.0}, now=130.0) == {"site-1": 120.0}


def test_one_outage_does_not_make_a_client_silent_only_after_ten_minutes():
    heartbeats = compat.ClientHeartbeats(["site-1"])
    second, beat = 0, 1000.0
    for gap in (10, 10, 300, 10):  # killed for 5 minutes, then back: its usual gap stays 10 s
        for _ in range(gap):
            heartbeats.silent({"site-1": beat}, now=float(second))
            second += 1
        beat += gap
    assert heartbeats.silent({"site-1": beat}, now=float(second)) == {}
    assert heartbeats.silent({"site-1": beat}, now=second + compat.STOPPED_CLIENT_SILENCE) == {
        "site-1": compat.STOPPED_CLIENT_SILENCE
    }


def test_a_client_listed_without_a_time_is_not_judged():
    heartbeats = compat.ClientHeartbeats()
    assert heartbeats.silent({"site-1": None}, now=0.0) == {}
    assert heartbeats.silent({"site-1": None}, now=10 * compat.STOPPED_CLIENT_SILENCE) == {}


def test_without_names_every_listed_client_is_waited_for():
    stopping = compat.ClientHeartbeats([])
    assert stopping.still_up({"site-1": 1.0, "site-2": 2.0}, now=0.0) == {"site-1", "site-2"}
    assert stopping.still_up({"site-1": 1.0}, now=compat.STOPPED_CLIENT_SILENCE) == set()


# -- submit_job's zip in the machine's shared temporary folder ------------------------------------------------------
def _zip_as_nvflare_does(folder) -> str:
    """What NVFlare's submit_job does first: zip the job folder into a uuid-named file of the temporary folder,
    through the name its file-transfer module calls (which compat notes for the calling thread)."""
    from nvflare.fuel.hci.client import file_transfer

    out_file = os.path.join(tempfile.gettempdir(), str(uuid.uuid4()))
    file_transfer.zip_directory_to_file(str(folder.parent), folder.name, out_file)
    return out_file


def test_a_submission_removes_its_own_left_zip_and_never_another_submissions(tmp_path):
    """Two submissions of folders with the same name at once (here two threads; two notebooks share the folder as
    well): the one that ends first removes the zip NVFlare left for it, and the other's zip, still being uploaded,
    stays until that one ends."""
    folders = []
    for side in ("a", "b"):
        folder = tmp_path / side / "hello-numpy"
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text("{}")
        folders.append(folder)
    b_zipped, a_ended = threading.Event(), threading.Event()
    zips = {}

    def b():
        with compat.unsent_uploads_removed():
            zips["b"] = _zip_as_nvflare_does(folders[1])
            b_zipped.set()
            assert a_ended.wait(10)
            zips["b still there when a ended"] = os.path.exists(zips["b"])

    other = threading.Thread(target=b)
    other.start()
    try:
        with compat.unsent_uploads_removed():
            zips["a"] = _zip_as_nvflare_does(folders[0])
            assert b_zipped.wait(10)
    finally:
        a_ended.set()
        other.join(10)
    assert not os.path.exists(zips["a"])
    assert zips["b still there when a ended"] is True
    assert not os.path.exists(zips["b"])


def test_a_zip_another_thread_makes_during_a_submission_is_left_alone(tmp_path):
    """A zip of the same folder made by another thread, outside any submission, while this one runs (e.g. NVFlare's
    admin console in the same process) is not this submission's."""
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    made = {}
    other = threading.Thread(target=lambda: made.setdefault("zip", _zip_as_nvflare_does(folder)))
    try:
        with compat.unsent_uploads_removed():
            mine = _zip_as_nvflare_does(folder)
            other.start()
            other.join(10)
        assert not os.path.exists(mine)
        assert os.path.exists(made["zip"])
    finally:
        with contextlib.suppress(KeyError, FileNotFoundError):
            os.remove(made["zip"])


def test_importing_compat_again_keeps_one_wrapper_around_nvflares_zip(tmp_path):
    """``%autoreload`` or ``importlib.reload`` runs compat again: the zip is still made, and noted once (in a
    process of its own: reloading compat here would give the other tests' objects stale classes)."""
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    script = f"""
import importlib, inspect, os, tempfile, uuid
from nvflare.fuel.hci.client import file_transfer
import flare_jupyter.compat as compat
importlib.reload(compat)
assert inspect.unwrap(file_transfer.zip_directory_to_file).__module__ == "nvflare.fuel.utils.zip_utils"
with compat.unsent_uploads_removed():
    made = os.path.join(tempfile.gettempdir(), str(uuid.uuid4()))
    file_transfer.zip_directory_to_file({str(folder.parent)!r}, "job", made)
    assert compat._uploads.made == [made] and os.path.isfile(made)
assert not os.path.exists(made)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]
