"""Every operation of the kernel session, through ``fj.session()``, against the real embedded FLARE system."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid
from importlib import metadata
from pathlib import Path

import pytest
from faults import flare_process
from live_jobs import (
    CLIENTS,
    UUID,
    one_line,
    slow_job,
    wait_all_finished,
    wait_finished,
    wait_live_stats,
)

import flare_jupyter as fj
from flare_jupyter import compat, frames
from polling import wait_for


@pytest.fixture
def s(live):
    """``fj.session()`` once the live fixture connected it (what a notebook user calls)."""
    assert fj.session() is live
    return fj.session()


def job_ids(s) -> list[str]:
    return [j["job_id"] for j in s.list_jobs()]


def raised(call, error: type[BaseException]) -> BaseException | None:
    """The ``error`` that ``call()`` raised, or None when it answered."""
    try:
        call()
    except error as e:
        return e
    except compat.JobNotFound:  # nvflare 2.5, for a moment while the aborted job's processes end
        return None
    return None


def assert_abort_answer(answer):
    """NVFlare's own answer, passed through: None in releases whose ``abort_job`` returns nothing (compat)."""
    assert answer is None if compat.ABORT_JOB_RETURNS_NONE else answer


# -- jobs ---------------------------------------------------------------------------------------------------------
def test_submit_monitor_list_and_meta_of_the_example_job(s, jobs_dir):
    path = fj.examples.hello_numpy(jobs_dir / "api-submit", num_rounds=1)
    job_id = s.submit_job(path)
    assert UUID.match(job_id), job_id

    polls = []
    rc = s.monitor_job(job_id, timeout=180, poll_interval=0.5, cb=lambda _s, jid, meta: polls.append(meta) or True)
    assert rc == compat.MonitorReturnCode.JOB_FINISHED
    assert polls and all(m["job_id"] == job_id for m in polls)

    meta = s.get_job_meta(job_id)
    assert meta["job_id"] == job_id
    assert meta["name"] == "hello-numpy"
    assert meta["status"] == "FINISHED:COMPLETED"
    assert set(meta["job_deploy_detail"]) == {"server: OK", "site-1: OK", "site-2: OK"}

    listed = [j for j in s.list_jobs() if j["job_id"] == job_id]
    assert len(listed) == 1 and listed[0]["status"] == "FINISHED:COMPLETED"
    assert [j["job_id"] for j in s.list_jobs(id_prefix=job_id[:8])] == [job_id]
    newest = s.list_jobs(limit=1, reverse=True)
    assert [j["job_id"] for j in newest] == [job_id]


def uploads_holding(folder: Path, name: str) -> list[Path]:
    """The uuid-named files in ``folder`` (NVFlare names an upload so) whose bytes hold ``name``."""
    found = []
    for f in folder.iterdir():
        if UUID.match(f.name):
            try:
                if name.encode() in f.read_bytes():
                    found.append(f)
            except OSError:  # a folder, or another worker's upload removed meanwhile
                continue
    return found


def test_a_refused_submission_leaves_no_zip_in_the_temporary_folder(s, tmp_path):
    """NVFlare zips the job folder into the temporary folder and removes the zip only once uploaded: a submission
    the server refuses first (here: no meta.json) left one behind per try (compat.unsent_uploads_removed)."""
    folder = tmp_path / f"no-meta-{uuid.uuid4().hex[:12]}"  # the zip names its entries after the folder
    folder.mkdir()
    (folder / "readme.txt").write_text("no meta.json here")
    with pytest.raises(compat.InvalidJobDefinition, match="meta"):
        s.submit_job(str(folder))
    assert not uploads_holding(Path(tempfile.gettempdir()), folder.name)
    assert s.list_jobs() is not None  # the session goes on


def test_same_named_folders_submitted_at_once_each_upload_their_own_zip(s, jobs_dir):
    """NVFlare zips each submission into the temporary folder, which every process on the machine shares: folders of
    the same name submitted at the same moment (two notebooks, a notebook and a script, parallel tests) are each
    uploaded from their own zip, none fails for another's, and no zip is left behind."""
    name = f"same-name-{uuid.uuid4().hex[:8]}"
    # min_clients=3 on a two-client system: accepted, never scheduled (nothing runs), aborted at the end
    folders = [fj.examples.hello_numpy(jobs_dir / f"{name}-{i}", min_clients=3, name=name) for i in range(4)]
    assert {os.path.basename(f) for f in folders} == {name}
    sessions = [fj.KernelSession(s.kit, s.username, secure=s.secure, timeout=30.0) for _ in folders]
    at_once = threading.Barrier(len(folders))
    answers: list = [None] * len(folders)

    def submit(i: int) -> None:
        at_once.wait()
        try:
            answers[i] = sessions[i].submit_job(folders[i])
        except Exception as e:  # noqa: BLE001 - what the user would have seen, asserted below
            answers[i] = e

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(folders))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert all(isinstance(a, str) and UUID.fullmatch(a) for a in answers), [str(a) for a in answers]
        assert len(set(answers)) == len(folders)
        submitted = {j["job_id"]: j["job_name"] for j in s.list_jobs()}
        assert [submitted[a] for a in answers] == [name] * len(folders)
    finally:
        for t in threads:  # a submission still under way is awaited, so that its job is aborted too
            t.join(timeout=120)
        for each in sessions:
            each.close()
        made = [j["job_id"] for j in s.list_jobs() if j["job_name"] == name]  # a failed call's job too
        for job_id in made:
            with contextlib.suppress(Exception):
                s.abort_job(job_id)
        for job_id in made:  # an abort can be lost: sent again until the job shows it (wait_finished)
            wait_finished(s, job_id, aborted=True)
    assert not uploads_holding(Path(tempfile.gettempdir()), name)


def test_live_stats_errors_status_and_app_command_of_a_running_job_then_abort(s, jobs_dir):
    job_id = s.submit_job(slow_job(jobs_dir / "api-slow"))
    try:
        server, clients = wait_live_stats(s, job_id)
        assert server["server"]["ServerRunner"]["status"] == "started"
        assert set(clients) == CLIENTS

        only_one = s.show_stats(job_id, "client", ["site-1"])
        assert set(only_one) == {"site-1"}
        assert only_one["site-1"]["ClientRunner"]["job_id"] == job_id

        server_errors = s.show_errors(job_id, "server")
        client_errors = s.show_errors(job_id, "client")
        assert set(server_errors) == {"server"} and set(client_errors) == CLIENTS
        assert frames.errors_frame(server_errors).empty and frames.errors_frame(client_errors).empty

        running = s.get_client_job_status()
        assert {r["client_name"] for r in running if r.get("job_id") == job_id} == CLIENTS
        assert [r["client_name"] for r in s.get_client_job_status(["site-2"])] == ["site-2"]

        with pytest.raises(compat.InternalError) as bad_topic:
            s.do_app_command(job_id, "no_such_topic", {"x": 1})
        line = one_line(bad_topic.value)
        assert "no_such_topic" in line and "do_app_command" in line

        assert_abort_answer(s.abort_job(job_id))
    finally:
        final = wait_finished(s, job_id, aborted=True)
    assert final == "FINISHED:ABORTED"

    for call in (lambda: s.show_stats(job_id, "server"), lambda: s.show_errors(job_id, "client")):
        # nvflare 2.5 reads FINISHED:ABORTED a moment before the job's processes end (stats answer {} meanwhile)
        not_running = wait_for(lambda c=call: raised(c, compat.JobNotRunning), timeout=30)
        assert job_id in one_line(not_running) and "not running" in str(not_running)


@pytest.mark.parametrize("op", ["show_stats", "show_errors"])
@pytest.mark.parametrize("target_type", ["server", "client"])
def test_stats_and_errors_of_a_finished_job_say_it_is_not_running(s, finished_job, op, target_type):
    with pytest.raises(compat.JobNotRunning) as e:
        getattr(s, op)(finished_job, target_type)
    line = one_line(e.value)
    assert line.startswith("JobNotRunning: ")
    assert f"job {finished_job!r} is not running" in line and op in line


def assert_holds_the_job_workspace(result: Path, job_id: str):
    names = {p.name for p in result.rglob("*")}
    assert {"meta.json", "workspace"} <= names, sorted(names)
    logs = [p for p in result.rglob("log.txt") if "Round 0 started" in p.read_text(errors="replace")]
    assert logs, f"no server log of job {job_id} under {result}"


def test_download_job_result_to_a_folder_and_to_the_kit(s, finished_job, poc_system, tmp_path):
    # NVFlare names the result after the job id (with a "__N" suffix when an earlier download is still there)
    moved = Path(s.download_job_result(finished_job, str(tmp_path / "results")))
    assert moved.parent == tmp_path / "results" and moved.name.startswith(finished_job)
    assert moved.is_dir()
    assert_holds_the_job_workspace(moved, finished_job)

    default = Path(s.download_job_result(finished_job))
    assert default.parent == Path(poc_system.kit) / "transfer" and default.name.startswith(finished_job)
    assert default.is_dir()
    assert_holds_the_job_workspace(default, finished_job)


def test_clone_abort_and_delete(s, finished_job):
    clone = s.clone_job(finished_job)
    assert UUID.match(clone) and clone != finished_job
    assert s.get_job_meta(clone)["cloned_from"] == finished_job
    try:
        # aborted once it runs: NVFlare (2.5 and 2.9 alike) can lose an abort that lands while its scheduler deploys
        # the job (it answers "Aborted the job ... before running it.", then runs it to completion)
        wait_for(lambda: s.get_job_meta(clone)["status"] == "RUNNING", timeout=120, interval=0.1)
        assert_abort_answer(s.abort_job(clone))
    finally:
        final = wait_finished(s, clone, aborted=True)
    assert final == "FINISHED:ABORTED"

    answer = s.delete_job(clone)
    assert answer is None if compat.DELETE_JOB_RETURNS_NONE else answer
    with pytest.raises(compat.JobNotFound) as gone:
        s.get_job_meta(clone)
    assert clone in one_line(gone.value)
    assert clone not in job_ids(s)
    assert finished_job in job_ids(s)


def test_the_participants_temporary_folder_is_in_the_systems_workspace(poc_system):
    """NVFlare 2.9's server receives clients' streamed job logs into ``<tmp>/<job id>/<site>`` and leaves the folders
    behind (CI's /tmp held hundreds): the embedded system's participants have TMPDIR in its workspace, so whatever
    they leave goes with it."""
    for name in ("server", *sorted(CLIENTS)):
        assert flare_process(poc_system, name).environ()["TMPDIR"] == str(poc_system.workspace / "tmp")


def test_job_log_of_the_server(s, finished_job):
    text = s.job_log(finished_job)
    assert "Round 0 started" in text and "Round 2 started" in text
    assert "validation metric" in text
    assert text == s.job_log(finished_job, "server")


# -- sites --------------------------------------------------------------------------------------------------------
def test_connected_clients_env_and_job_status(s, poc_system):
    wait_all_finished(s)
    clients = s.get_connected_client_list()
    assert {c.name for c in clients} == CLIENTS
    assert all(c.last_connect_time > 0 for c in clients)

    envs = {e["site_name"]: e for e in s.get_client_env()}
    assert set(envs) == CLIENTS
    for name, env in envs.items():
        # older releases name it <site>/startup/.. (compat): the same folder
        assert os.path.normpath(env["workspace"]) == str(poc_system.prod_dir / name)
        assert env["secure_mode"] is True
        assert env["root_url"].endswith(f":{poc_system.fl_port}")
    assert [e["site_name"] for e in s.get_client_env(["site-2"])] == ["site-2"]

    # a client reports its job until its job process has ended, a moment after the server says FINISHED
    def idle_clients():
        answer = s.get_client_job_status()
        return None if any(r.get("job_id") for r in answer) else answer

    idle = wait_for(idle_clients, timeout=30)
    assert {r["client_name"] for r in idle} == CLIENTS
    assert {r["status"] for r in idle} == {"no_jobs"}


def test_working_directory_and_files_on_targets(s, poc_system):
    prod = poc_system.prod_dir
    assert s.get_working_directory("server").strip() == str(prod / "server")
    assert s.get_working_directory("site-1").strip() == str(prod / "site-1")

    assert {"log.txt", "startup", "audit.log"} <= set(s.ls_target("server").split())
    assert {"log.txt", "startup"} <= set(s.ls_target("site-2").split())
    assert set(s.ls_target("server", path="startup").split()) >= {"fed_server.json"}

    # cat/head/tail on a file whose lines the test knows (the live log.txt can end with any line, even a blank one)
    lines = [f"line {i} of {uuid.uuid4().hex[:6]}" for i in range(1, 10)]
    known = prod / "server" / "fj-known-lines.txt"
    known.write_text("\n".join(lines) + "\n")
    try:
        assert s.cat_target("server", file=known.name).splitlines() == lines
        assert s.head_target("server", options="-n 3", file=known.name).splitlines() == lines[:3]
        assert s.tail_target("server", options="-n 2", file=known.name).splitlines() == lines[-2:]
    finally:
        known.unlink()

    server_log = (prod / "server" / "log.txt").read_text().splitlines()
    assert s.cat_target("server", file="log.txt").splitlines()[:20] == server_log[:20]

    grep = s.grep_target("server", pattern="New client site-1", file="log.txt").splitlines()
    assert grep and all("New client site-1" in line for line in grep)

    site_log = (prod / "site-1" / "log.txt").read_text().splitlines()
    assert s.head_target_log("site-1", options="-n 2").splitlines() == site_log[:2]
    assert wait_for(lambda: tail_of_a_quiet_log(s, prod / "server" / "log.txt"), timeout=30)


def tail_of_a_quiet_log(s, log: Path) -> bool:
    """Whether ``tail_target_log`` answered the log's last two lines, as NVFlare sends text (stripped); False when
    the log grew during the call (the caller polls until it did not)."""
    before = log.read_text()
    tail = s.tail_target_log("server", options="-n 2")
    if log.read_text() != before:
        return False
    assert tail.strip() == "\n".join(before.splitlines()[-2:]).strip()
    return True


def test_unknown_target_is_one_clear_line(s):
    with pytest.raises(compat.InvalidTarget) as e:
        s.ls_target("site-9")
    line = one_line(e.value)
    assert "'site-9'" in line and "not known" in line


def test_available_apps_to_upload_lists_the_kits_transfer_folder(s, poc_system):
    name = f"upload-{uuid.uuid4().hex[:8]}"
    before = s.get_available_apps_to_upload()
    assert name not in before
    fj.examples.hello_numpy(Path(poc_system.kit) / "transfer", num_rounds=1, name=name)
    assert set(s.get_available_apps_to_upload()) == set(before) | {name}


# -- system -------------------------------------------------------------------------------------------------------
def test_set_timeout(s):
    s.set_timeout(30)
    assert isinstance(s.list_jobs(), list)
    for bad in (0, -1, True, "10"):  # NVFlare's own set_timeout raises ValueError or TypeError for these
        with pytest.raises((ValueError, TypeError)) as e:
            s.set_timeout(bad)
        assert "positive number" in one_line(e.value)
    s.unset_timeout()
    assert isinstance(s.list_jobs(), list)


def test_service_providers_describe_the_single_server(s, poc_system):
    sps = s.list_sp()
    assert len(sps["sp_list"]) == 1
    sp = sps["sp_list"][0]
    assert sps["primary_sp"] == sp
    assert sp["name"] == "localhost" and sp["primary"] is True
    assert sp["admin_port"] == str(poc_system.admin_port)
    assert sp["fl_port"] == str(poc_system.fl_port)
    active = s.get_active_sp()
    if compat.HAS_SERVICE_PROVIDERS:  # NVFlare's own answers: list entries and the active SP differ in shape
        assert sp["sp_end_point"] == f"localhost:{poc_system.fl_port}:{poc_system.admin_port}"
        shared = ("name", "fl_port", "admin_port", "primary", "service_session_id")
        assert {k: active[k] for k in shared} == {k: sp[k] for k in shared}
    else:
        assert active == sp

    with pytest.raises(compat.NotSupported) as e:
        s.promote_sp(f"localhost:{poc_system.fl_port}:{poc_system.admin_port}")
    line = one_line(e.value)
    assert "nothing to promote" in line and str(compat.NVFLARE_VERSION) in line


# -- connecting ---------------------------------------------------------------------------------------------------
def test_connect_without_argument_uses_the_embedded_system(live, poc_system, monkeypatch):
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    new = fj.connect()
    assert fj.session() is new and new is not live
    assert new.kit == poc_system.kit and new.username == poc_system.username and new.origin == "poc"
    assert {c.name for c in new.get_connected_client_list()} == CLIENTS


def test_connecting_again_replaces_the_session(live, poc_system):
    old = fj.session()
    new = fj.connect(poc_system.kit)
    assert fj.session() is new and new is not old
    assert old.closed
    with pytest.raises(fj.FlareError) as e:
        old.list_jobs()
    assert "closed" in one_line(e.value)
    assert isinstance(new.list_jobs(), list)


@pytest.mark.parametrize("kit", ["/nonexistent", "{file}", "{empty}"])
def test_a_failed_connect_leaves_the_previous_session_working(live, tmp_path, kit):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a kit")
    before = fj.session()
    with pytest.raises(fj.FlareError) as e:
        fj.connect(kit.format(file=tmp_path / "file", empty=tmp_path / "empty"))
    assert "kit" in one_line(e.value)
    assert fj.session() is before and not before.closed
    assert isinstance(before.list_jobs(), list)


def test_session_repr_shows_server_user_mode_version_and_clients(live, poc_system, monkeypatch):
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    text = repr(fj.connect())
    assert f"server: localhost:{poc_system.admin_port}" in text
    assert f"user: {poc_system.username}" in text
    assert "mode: secure" in text
    assert f"nvflare: {compat.NVFLARE_VERSION}" in text and str(compat.NVFLARE_VERSION) == metadata.version("nvflare")
    assert "system: embedded (POC)" in text
    assert "clients: site-1, site-2" in text
    assert "state: connected" in text
    html = fj.session()._repr_html_()
    assert "site-1, site-2" in html and f"localhost:{poc_system.admin_port}" in html


@pytest.mark.parametrize(
    "call,says",
    [
        (lambda s: s.tail_target_log("server", options="; rm -rf /"), "options must be a string of only valid"),
        (lambda s: s.cat_target("server", file="../startup/fed_server.json"), ".. in path name is not allowed"),
    ],
    ids=["hostile-options", "dotdot-path"],
)
def test_arguments_nvflare_rejects_are_one_clear_line(s, call, says):
    with pytest.raises(fj.FlareError) as e:
        call(s)
    line = one_line(e.value)
    assert "NVFlare rejected the arguments" in line and says in line


def test_a_clients_job_log_comes_from_the_job_folder_it_keeps(s, finished_job):
    # nvflare 2.9's get_job_logs says "client log stream not available" for a client; the client keeps the job's log
    # in its job folder on every release, and that is what the session reads
    text = s.job_log(finished_job, "site-1")
    assert "Worker_process started" in text and "site-1" in text and finished_job in text


def test_job_log_of_a_target_without_one_says_why_in_one_line(s, finished_job):
    with pytest.raises(compat.NotSupported) as e:  # never a silent empty log
        s.job_log(finished_job, "site-9")
    line = one_line(e.value)
    assert f"the log of job {finished_job} on site-9 is not available" in line


def test_connecting_with_the_embedded_systems_kit_shows_it_as_embedded(live, poc_system):
    text = repr(fj.connect(poc_system.kit))
    assert "system: embedded (POC)" in text


def test_starting_a_second_embedded_system_elsewhere_is_one_clear_line_and_the_first_keeps_running(
    live, poc_system, tmp_path
):
    # one system per kernel: fj.poc.start(workspace=...) while one runs returned the running one, and a caller that
    # then stopped "its" system stopped the shared one (a browser test did, on a worker that had run integration tests)
    running = fj.poc.current()  # this worker's shared system (the kernel's, as fj.poc.start made it)
    assert running is not None and running.running()
    assert fj.poc.start(workspace=running.workspace, connect=False, progress=None) is running
    with pytest.raises(fj.FlareError) as caught:
        fj.poc.start(workspace=tmp_path / "other", progress=None)
    said = str(caught.value)
    assert said == (
        f"an embedded FLARE system is already running in {running.workspace}, not in {tmp_path / 'other'}: "
        "stop it first (fj.poc.stop() or %flare poc stop), or leave out the workspace to use it"
    )
    assert "\n" not in said and running.running() and not (tmp_path / "other").exists()
    assert {c.name for c in live.get_connected_client_list()} == set(poc_system.clients)
