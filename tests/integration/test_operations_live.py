"""Every seed operation that changes the system, or that was only ever reached through an argument error, really
performed against the real embedded system, through the Python API and (where one exists) ``%flare``, on whichever
NVFlare release is installed: reset_errors, shutdown of a client (and bringing it back), shutdown_system (on a
throw-away system), monitor_job with basic_cb_with_print, with a callback that ends it (cb_args, cb_kwargs), with a
timeout that expires, new_secure_session / new_insecure_session, a quiet restart, a client's job log, NVFlare's
upload-folder lookup, and NVFlare's other session attributes reached through the kernel session.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from health import participant_processes
from IPython.core.error import UsageError
from live_jobs import CLIENTS, end_job, error_job, nothing_runs, one_line

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.poc import PocSystem, free_ports
from flare_jupyter.render import Message
from polling import wait_for

RC = compat.MonitorReturnCode


def held_job(s, dest: Path, name: str) -> str:
    """A job the scheduler holds in SUBMITTED (it needs 3 clients; the system has 2) until it is aborted."""
    return s.submit_job(fj.examples.hello_numpy(dest, num_rounds=1, min_clients=3, name=name))


def end(s, job: str) -> None:
    end_job(s, job)


@pytest.fixture
def held(live, jobs_dir, request):
    job = held_job(live, jobs_dir / request.node.name, "held")
    yield job
    end(live, job)


# -- errors ------------------------------------------------------------------------------------------------------
def errors_shown(s, job: str):
    """(server errors, client errors) once both have something (a job's process answers a moment after RUNNING)."""

    def both():
        try:
            server, clients = s.show_errors(job, "server"), s.show_errors(job, "client")
        except (compat.JobNotFound, compat.JobNotRunning):
            return None
        has_server = isinstance(server.get("server"), dict)
        has_clients = set(clients) == CLIENTS and all(clients.values())
        return (server, clients) if has_server and has_clients else None

    return wait_for(both, timeout=90)


@pytest.mark.parametrize("front_end", ["python", "magic"])
def test_reset_errors_clears_the_errors_a_running_job_reported(live, flare, jobs_dir, front_end):
    job = live.submit_job(error_job(jobs_dir / f"errors-{front_end}"))
    try:
        server, clients = errors_shown(live, job)
        assert "fj-test server error for the first result" in server["server"]["ServerErrorReporter"]["error"]
        for site in CLIENTS:
            assert "fj-test client error after the first task" in clients[site]["ClientErrorReporter"]["error"]
        frame = flare(f"show_errors {job[:12]}")
        assert list(frame["component"]) == ["ServerErrorReporter"]
        if front_end == "python":
            assert live.reset_errors(job) is None
        else:
            said = flare(f"reset_errors {job[:12]}")
            assert isinstance(said, Message) and said == (
                f"errors of job {job} reset on the server (NVFlare's clients keep theirs until newer ones come)"
            )
        assert live.show_errors(job, "server") == {"server": "No Error"}
        assert flare(f"show_errors {job}").empty
        # NVFlare's client side of reset_errors does nothing (ClientRunManager.reset_errors): say so, do not hide it
        assert live.show_errors(job, "client") == clients
    finally:
        end(live, job)


# -- shutting down and bringing back a client --------------------------------------------------------------------
def reactivated(poc_system, client: str, after: int) -> bool:
    """Whether the server's log, from byte ``after`` on, says NVFlare re-activated ``client``: a message of the
    client that arrived just after its logout puts it back in the list (2.5 and 2.9, ``ClientManager``), where it
    stays until the server's heartbeat timeout (600 s) although its process has ended (CI saw it on 2.5.2)."""
    with open(poc_system.prod_dir / "server" / "log.txt", "rb") as log:
        log.seek(after)
        said = log.read().decode(errors="replace")
    return re.search(rf"Re-activate the client: ?{re.escape(client)}\b", said) is not None


@pytest.mark.disruptive
@pytest.mark.parametrize("front_end", ["python", "magic"])
def test_a_client_shut_down_leaves_and_comes_back_when_started_again(live, flare, poc_system, front_end):
    wait_for(lambda: nothing_runs(live), timeout=120)  # no job keeps the client
    mark = (poc_system.prod_dir / "server" / "log.txt").stat().st_size
    if front_end == "python":
        answer = live.shutdown("client", ["site-2"])
    else:
        answer = flare("shutdown client site-2")
    assert answer is None or answer.get("status") == "ok"  # NVFlare's answer: None (2.5) or its status (2.9)

    def left() -> bool:
        names = {c.name for c in live.get_connected_client_list()}
        return names == {"site-1"} or (names == CLIENTS and reactivated(poc_system, "site-2", mark))

    wait_for(left, timeout=60)
    # its process and its watchdog end by themselves (NVFlare's shutdown.fl); nothing restarts it
    wait_for(lambda: not any(participant_processes(poc_system)["site-2"].values()), timeout=60)
    assert left()
    if {c.name for c in live.get_connected_client_list()} != {"site-1"}:
        print("NVFlare re-activated site-2 after its logout: listed, its process gone", flush=True)

    poc_system.start_participant("site-2")  # back once the server saw it connect after the start (not the ghost)
    assert {c.name for c in live.get_connected_client_list()} == CLIENTS
    procs = participant_processes(poc_system)["site-2"]
    assert len(procs["flare"]) == 1 and len(procs["watchdog"]) == 1


# -- shutdown_system (a throw-away system) -----------------------------------------------------------------------
@pytest.fixture
def throwaway(live, tmp_path, poc_system):
    """A second embedded system (1 client) the test may shut down; the kernel's session goes back to the shared
    system afterwards, and every process of the throw-away one is stopped."""
    secure = not compat.INSECURE_SESSIONS_NEED_AN_INSECURE_SYSTEM  # 2.5: an insecure system, for the insecure test
    system = PocSystem(tmp_path / "throwaway", 1, *free_ports(2), secure=secure)
    try:
        system.bring_up(120)
        yield system
    finally:
        system.stop()
        fj.connect(poc_system.kit)


@pytest.mark.parametrize("front_end", ["python", "magic"])
def test_shutdown_system_returns_and_the_session_says_the_system_is_gone(throwaway, flare, front_end):
    s = fj.connect(throwaway.kit, secure=throwaway.secure)
    assert {c.name for c in s.get_connected_client_list()} == {"site-1"}
    if front_end == "python":
        assert s.shutdown_system() is None
    else:
        assert flare("shutdown_system") == "FLARE system shut down"
    wait_for(lambda: not throwaway.processes(), timeout=90)  # server, client and watchdogs all ended
    with pytest.raises(fj.FlareError) as e:
        s.list_jobs()
    line = one_line(e.value)
    assert "the FLARE system was shut down (shutdown_system)" in line and "reconnect" not in line
    assert "state: shut down" in repr(s)
    with pytest.raises(UsageError, match="the FLARE system was shut down"):
        flare("list_jobs")
    if front_end == "python":  # brought back one participant at a time: the server alone is ready once it answers
        throwaway.start_participant("server", timeout=120)  # returns: its client, still down, is not waited for
        assert not any(participant_processes(throwaway)["site-1"].values())
        throwaway.start_participant("site-1", timeout=120)
        again = fj.connect(throwaway.kit, secure=throwaway.secure)
        assert {c.name for c in again.get_connected_client_list()} == {"site-1"}


def test_an_insecure_session_through_nvflares_own_function(live, poc_system, request):
    # from 2.7 a secure system takes insecure sessions (the certificate names the user); 2.5 needs an insecure
    # system, where the user is "admin"
    insecure_system = compat.INSECURE_SESSIONS_NEED_AN_INSECURE_SYSTEM
    system = request.getfixturevalue("throwaway") if insecure_system else poc_system
    s = fj.new_insecure_session(system.kit)
    assert fj.session() is s and not s.secure
    assert s.username == ("admin" if insecure_system else "admin@nvidia.com") and "mode: insecure" in repr(s)
    assert isinstance(s.list_jobs(), list)
    expected = {"site-1"} if insecure_system else CLIENTS
    assert {c.name for c in s.get_connected_client_list()} == expected


def test_a_secure_session_through_nvflares_own_function_with_debug_output_kept_out_of_cells(poc_system, capsys, caplog):
    with caplog.at_level(logging.DEBUG, logger="flare_jupyter.nvflare"):
        s = fj.new_secure_session("admin@nvidia.com", poc_system.kit, debug=True, timeout=10.0)
        assert fj.session() is s and s.secure and s.username == "admin@nvidia.com"
        assert isinstance(s.list_jobs(), list)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # NVFlare's debug lines and "Connecting to FLARE ..." never reach a cell
    assert any(r.getMessage().startswith("DEBUG: ") for r in caplog.records if r.name == "flare_jupyter.nvflare")


# -- monitor_job: callbacks and timeouts --------------------------------------------------------------------------
def test_monitor_job_with_nvflares_own_callback_prints_the_jobs_meta(live, jobs_dir, capsys):
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "monitor-print", num_rounds=1))
    capsys.readouterr()
    rc = live.monitor_job(job, 0.0, 0.5, fj.basic_cb_with_print, cb_run_counter={"count": 0})
    printed = capsys.readouterr().out
    assert rc == RC.JOB_FINISHED
    assert f"'job_id': '{job}'" in printed and "FINISHED:COMPLETED" in printed


def test_monitor_job_ends_when_the_callback_says_so_and_passes_its_arguments(live, held):
    seen = []

    def cb(session, job_id, meta, first, second, flag=None):
        seen.append((session, job_id, meta["status"], first, second, flag))
        return len(seen) < 2

    rc = live.monitor_job(held, 0, 0.2, cb, "a", "b", flag="c")
    assert rc == RC.ENDED_BY_CB
    assert [x[1:] for x in seen] == [(held, "SUBMITTED", "a", "b", "c")] * 2
    assert seen[0][0] is live  # the callback gets the kernel session, whose calls share its lock


def test_monitor_job_stops_at_its_timeout(live, held):
    rc, meta = live.monitor_job_and_return_job_meta(held, timeout=1.0, poll_interval=0.2)
    assert (rc, meta) == (RC.TIMEOUT, None)
    assert live.monitor_job(held, timeout=1, poll_interval=0.2) == RC.TIMEOUT


def test_monitor_job_timeout_zero_never_times_out_and_a_negative_one_is_refused(live, jobs_dir):
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "monitor-zero", num_rounds=1))
    assert live.monitor_job(job, timeout=0, poll_interval=0.5) == RC.JOB_FINISHED
    with pytest.raises(compat.InvalidArgumentError) as e:  # NVFlare's own type for it
        live.monitor_job(job, timeout=-1)
    assert "timeout must be a positive number of seconds (or 0 to never time out), not -1" in one_line(e.value)


def test_percent_monitor_returns_nvflares_return_code_in_every_front_end(live, flare, held, jobs_dir, monkeypatch):
    assert flare(f"monitor_job {held} --text --timeout 1 --poll-interval 0.2") == RC.TIMEOUT
    assert flare(f"monitor {held} --wait --timeout 1") == RC.TIMEOUT  # a terminal IPython: the text front end
    monkeypatch.setattr("flare_jupyter.ops.jobs.widgets_render_here", lambda: True)  # a kernel: the widget
    monkeypatch.setattr("flare_jupyter.ops.jobs.display", lambda *a, **k: None)
    assert flare(f"monitor {held} --wait --timeout 1") == RC.TIMEOUT
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "monitor-wait", num_rounds=1))
    assert flare(f"monitor {job} --wait --timeout 0") == RC.JOB_FINISHED


# -- list_jobs(limit=0), NVFlare's lookups and attributes ---------------------------------------------------------
def test_list_jobs_limit_zero_lists_every_job_as_nvflare_documents(live, flare, finished_job):
    every = live.list_jobs()
    assert len(every) >= 1
    assert live.list_jobs(limit=0) == every
    assert len(flare("list_jobs --limit 0")) == len(every)
    with pytest.raises(ValueError, match=r"limit must be a whole number >= 0 \(0 or None for all jobs\), not -1"):
        live.list_jobs(limit=-1)


def test_submit_job_finds_a_job_in_the_kits_upload_folder_as_nvflare_does(
    live, flare, poc_system, jobs_dir, tmp_path, monkeypatch
):
    transfer = Path(poc_system.kit) / "transfer"
    folder = transfer / "upload-lookup"
    shutil.copytree(fj.examples.hello_numpy(jobs_dir / "upload", num_rounds=1, name="upload-lookup"), folder)
    monkeypatch.chdir(tmp_path)  # not in the working directory: NVFlare then looks in the kit's upload folder
    try:
        assert "upload-lookup" in live.get_available_apps_to_upload()
        for job in (live.submit_job("upload-lookup"), flare("submit upload-lookup")):
            assert live.get_job_meta(job)["name"] == "upload-lookup"
            end(live, job)
    finally:
        shutil.rmtree(folder)


def test_nvflares_other_session_attributes_reach_the_live_session(live):
    reply = live.api.do_command("check_status server")  # NVFlare's admin API, for any other admin command
    assert isinstance(reply, dict) and reply.get("status")
    assert Path(live.upload_dir).name == "transfer"
    with pytest.raises(AttributeError):
        live.no_such_thing  # noqa: B018 - an attribute neither session has stays an AttributeError
    fj.session()._raw.close()  # the server dropped the session: the attribute is reached on the new one
    assert isinstance(live.api.do_command("check_status server"), dict)


# -- client job logs, quiet restarts ------------------------------------------------------------------------------
def test_every_targets_job_log_is_one_command(flare, finished_job):
    for target in ["server", *sorted(CLIENTS)]:
        text = flare(f"logs {finished_job} --target {target}")
        assert finished_job in text and text.title == f"log of job {finished_job} on {target}"


@pytest.mark.disruptive
def test_a_server_restart_shows_one_line_of_progress_at_most(live, cell, poc_system):
    wait_for(lambda: nothing_runs(live), timeout=120)
    # nvflare 2.5 lets go of a finished job a moment after it says so, and refuses a restart until then (one line)
    # (the answer goes into a variable: what the cell printed is then only progress)
    result, out = wait_for(lambda: (r := cell("answer = %flare restart server"))[0].success and r, timeout=60)
    assert len(out.splitlines()) <= 1, out
    assert "Connecting to FLARE" not in out

    def back():  # nvflare 2.5 answers the restart at once, and the new server listens ~15 s later
        try:
            return {c.name for c in live.get_connected_client_list()} == CLIENTS
        except compat.SESSION_LOST_ERRORS:
            return False

    wait_for(back, timeout=120)
    after, out = cell("jobs = %flare jobs")
    assert after.success and len(out.splitlines()) <= 1, out
