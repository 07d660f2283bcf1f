"""The kernel session survives the server dropping it (closed session, server restart), against the real system."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from health import participant_processes
from live_jobs import CLIENTS, end_job, nothing_runs, one_line

import flare_jupyter as fj
from flare_jupyter import compat
from polling import wait_for

pytestmark = pytest.mark.disruptive


@pytest.fixture
def s(live):
    return live


def drop(s):
    """What the server does when it drops the admin session: NVFlare's session underneath is closed."""
    fj.session()._raw.close()


def test_a_read_after_the_server_dropped_the_session_reconnects(s, finished_job):
    before = s.reconnects
    drop(s)
    jobs = s.list_jobs()
    assert finished_job in [j["job_id"] for j in jobs]
    assert s.reconnects == before + 1
    assert fj.session() is s

    drop(s)
    assert s.get_job_meta(finished_job)["status"] == "FINISHED:COMPLETED"
    assert s.reconnects == before + 2


def test_a_magic_after_the_server_dropped_the_session_reconnects(s, flare, finished_job):
    before = s.reconnects
    drop(s)
    df = flare("jobs")
    assert isinstance(df, pd.DataFrame) and finished_job in df["job_id"].tolist()
    assert s.reconnects == before + 1


def test_a_submit_after_the_server_dropped_the_session_submits_exactly_once(s, jobs_dir):
    path = fj.examples.hello_numpy(jobs_dir / "after-drop", num_rounds=1, name="after-drop")
    before_ids = [j["job_id"] for j in s.list_jobs()]
    reconnects = s.reconnects
    drop(s)
    if not compat.HAS_SUBMIT_TOKEN:
        # without NVFlare's submit_token a submit is never repeated: one clear line says so, nothing was submitted
        with pytest.raises(compat.SESSION_LOST_ERRORS) as e:
            s.submit_job(path)
        line = one_line(e.value)
        assert "re-established" in line and "may or may not have reached the server" in line
        assert [j["job_id"] for j in s.list_jobs()] == before_ids
    job_id = s.submit_job(path)  # with a token: repeated after the reconnect; without: the user's own retry
    try:
        assert s.reconnects == reconnects + 1
        after = s.list_jobs()
        assert len(after) == len(before_ids) + 1
        assert [j["job_id"] for j in after if j["job_id"] not in before_ids] == [job_id]
        assert [j["job_name"] for j in after if j["job_id"] == job_id] == ["after-drop"]
    finally:
        end_job(s, job_id)  # a one-round job: it may have ended by itself
    assert len(s.list_jobs(name_prefix="after-drop")) == 1


def new_server(poc_system, before) -> bool:
    """Exactly one server process runs, and it is not one of the processes in ``before`` (a process that exits
    while we look is simply not counted)."""
    servers = participant_processes(poc_system)["server"]["flare"]
    return len(servers) == 1 and servers[0].pid not in {p.pid for p in before}


def listed_once_it_answers(s) -> list[str] | None:
    """The server's job ids, or None while the new server cannot be reached yet (the one-line error a user would
    see; the session's next call connects again)."""
    try:
        return sorted(j["job_id"] for j in s.list_jobs())
    except compat.SESSION_LOST_ERRORS:
        return None


def test_the_session_survives_a_server_restart(s, poc_system, finished_job):
    wait_for(lambda: all(j["status"].startswith("FINISHED") for j in s.list_jobs()), timeout=120)
    wait_for(lambda: nothing_runs(s), timeout=120)
    jobs_before = sorted(j["job_id"] for j in s.list_jobs())
    reconnects = s.reconnects
    pid_before = poc_system.processes()

    t0 = time.monotonic()
    if compat.HAS_STATE_CHANGE_WAIT:
        # nvflare >= 2.9 waits for the new server; its watchdog needs more than 10 s for a restart, so a wait of
        # half a second runs out: one line says the restart was sent and how to wait longer, and the session lives
        with pytest.raises(TimeoutError) as e:
            s.restart("server", timeout=0.5)
        line = one_line(e.value)
        assert line.startswith("TimeoutError: the restart was sent, but the server did not restart within 0.5 s ("), (
            line
        )
        assert line.endswith("wait longer (timeout=... in Python, --timeout in %flare)"), line
    else:
        s.restart("server")
    restart_seconds = time.monotonic() - t0
    # nvflare 2.5 answers the restart before the old server process has gone (2.9 above, before the new one has
    # come): wait for the new one, then talk to it
    wait_for(lambda: new_server(poc_system, pid_before), timeout=120)
    jobs_after = wait_for(lambda: listed_once_it_answers(s), timeout=120)  # its process may still be starting
    assert jobs_after == jobs_before
    assert s.reconnects > reconnects

    wait_for(lambda: {c.name for c in s.get_connected_client_list()} == CLIENTS, timeout=60)
    clients_seconds = time.monotonic() - t0
    assert s.get_job_meta(finished_job)["status"] == "FINISHED:COMPLETED"
    assert new_server(poc_system, pid_before)
    print(f"server restart: {restart_seconds:.1f} s to return, {clients_seconds:.1f} s until both clients are back")
