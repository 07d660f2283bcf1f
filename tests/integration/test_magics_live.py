"""The ``%flare`` magics (and their aliases) against the real embedded FLARE system: what a notebook user sees."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from live_jobs import CLIENTS, UUID, slow_job, wait_finished, wait_live_stats

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.render import Message, TextResult
from polling import wait_for


@pytest.fixture
def s(live):
    return live


def test_submit_meta_monitor_and_jobs_frame(s, flare, cell, ip, jobs_dir):
    path = fj.examples.hello_numpy(jobs_dir / "magic-submit", num_rounds=1)
    job_id = flare(f"submit {path}")
    assert UUID.match(job_id), job_id

    ip.user_ns["j"] = job_id
    result, _ = cell("%flare meta $j")
    assert result.success and result.result["job_id"] == job_id

    rc = flare(f"monitor {job_id} --poll-interval 0.5 --timeout 180")
    assert rc == compat.MonitorReturnCode.JOB_FINISHED
    assert flare(f"get_job_meta {job_id}")["status"] == "FINISHED:COMPLETED"

    df = flare("jobs --limit 5 --reverse")
    assert isinstance(df, pd.DataFrame) and 1 <= len(df) <= 5
    assert df["job_id"].iloc[0] == job_id  # newest first
    assert isinstance(df["submit_time"].dtype, pd.DatetimeTZDtype)
    assert isinstance(df["start_time"].dtype, pd.DatetimeTZDtype)
    assert pd.api.types.is_timedelta64_dtype(df["duration"])
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    row = df.set_index("job_id").loc[job_id]
    assert row["name"] == "hello-numpy" and row["status"] == "FINISHED:COMPLETED"
    assert row["duration"] > pd.Timedelta(0)

    # the plain listing has no start time; the detailed one has it, as a datetime too
    detailed = flare(f"list_jobs --detailed --id-prefix {job_id[:8]}")
    assert detailed["job_id"].tolist() == [job_id]
    assert isinstance(detailed["start_time"].dtype, pd.DatetimeTZDtype)
    assert detailed["submit_time"].iloc[0] <= detailed["start_time"].iloc[0] <= pd.Timestamp.now(tz="UTC")
    assert detailed["status"].iloc[0] == "FINISHED:COMPLETED"


def test_out_option_and_dollar_expansion_store_and_reuse_results(flare, cell, ip, finished_job):
    ip.user_ns.pop("my_jobs", None)
    df = flare("jobs -o my_jobs")
    assert ip.user_ns["my_jobs"] is df and finished_job in df["job_id"].tolist()

    ip.user_ns["j"] = finished_job
    result, _ = cell("%flare meta $j -o my_meta")
    assert result.success
    assert ip.user_ns["my_meta"]["job_id"] == finished_job == result.result["job_id"]

    # a unique prefix of a job id works like the id
    assert flare(f"meta {finished_job[:8]}")["job_id"] == finished_job


def test_stats_errors_and_client_status_of_a_running_job_then_abort(s, flare, jobs_dir):
    job_id = flare(f"submit {slow_job(jobs_dir / 'magic-slow')}")
    try:
        wait_live_stats(s, job_id)

        stats = flare(f"stats {job_id} client")
        assert list(stats.columns) == ["target", "component", "key", "value"]
        runner = stats[(stats["component"] == "ClientRunner") & (stats["key"] == "job_id")]
        assert set(runner["target"]) == CLIENTS and set(runner["value"]) == {job_id}
        one = flare(f"show_stats {job_id} client site-2")
        assert set(one["target"]) == {"site-2"}
        server = flare(f"stats {job_id}")
        assert job_id in server.loc[server["component"] == "ServerRunner", "value"].tolist()

        for line in (f"errors {job_id}", f"show_errors {job_id} client"):
            errors = flare(line)
            assert errors.empty and list(errors.columns) == ["target", "component", "key", "value"]

        status = flare("client_status")
        assert set(status.loc[status["job_id"] == job_id, "client_name"]) == CLIENTS
        assert flare("get_client_job_status site-1")["client_name"].tolist() == ["site-1"]

        message = flare(f"abort {job_id}")
        assert isinstance(message, Message) and message.strip()
    finally:
        final = wait_finished(s, job_id, aborted=True)
    assert final == "FINISHED:ABORTED"
    assert flare(f"meta {job_id}")["status"] == "FINISHED:ABORTED"


def test_clients_env_client_status_list_sp_and_pwd(s, flare, poc_system):
    clients = flare("clients")
    assert set(clients["name"]) == CLIENTS
    assert isinstance(clients["last_connect_time"].dtype, pd.DatetimeTZDtype)
    assert clients["last_connect_time"].notna().all()

    env = flare("env")
    assert set(env["site_name"]) == CLIENTS
    assert env["secure_mode"].dtype == "boolean" and env["secure_mode"].all()
    # older releases name it <site>/startup/.. (compat): the same folder
    assert {os.path.normpath(w) for w in env["workspace"]} == {str(poc_system.prod_dir / c) for c in CLIENTS}
    assert flare("get_client_env site-1")["site_name"].tolist() == ["site-1"]

    status = flare("client_status")
    assert set(status["client_name"]) == CLIENTS
    assert isinstance(status["status"].dtype, pd.CategoricalDtype)

    sp = flare("list_sp")
    assert len(sp) == 1
    assert sp["admin_port"].iloc[0] == poc_system.admin_port
    assert sp["fl_port"].iloc[0] == poc_system.fl_port
    assert bool(sp["primary"].iloc[0]) is True
    assert flare("get_active_sp")["admin_port"] == str(poc_system.admin_port)

    assert flare("pwd server").strip() == str(poc_system.prod_dir / "server")


def test_cat_and_the_flare_cat_cell_magic(flare, ip, poc_system):
    server = poc_system.prod_dir / "server"
    text = flare("cat server --file log.txt")
    assert isinstance(text, TextResult)
    first_lines = (server / "log.txt").read_text().splitlines()[:5]
    assert text.splitlines()[:5] == first_lines

    both = ip.run_cell_magic("flare_cat", "server", "log.txt\naudit.log\n")
    assert isinstance(both, TextResult)
    assert both.startswith("==> log.txt <==\n")
    assert "\n==> audit.log <==\n" in both
    log_part, audit_part = both.split("\n==> audit.log <==\n")
    assert log_part.splitlines()[1:6] == first_lines
    audit_lines = (server / "audit.log").read_text().splitlines()
    assert audit_lines and audit_part.splitlines()[0] == audit_lines[0]

    head = flare("head server --file log.txt --options='-n 2'")
    assert head.splitlines() == first_lines[:2]
    assert len(flare("log site-1 --options='-n 3'").splitlines()) == 3
    grep = flare("grep server --pattern 'New client' --file log.txt").splitlines()
    assert grep and all("New client" in line for line in grep)
    assert {"log.txt", "startup"} <= set(flare("ls site-2").split())


def test_download_clone_abort_and_delete(s, flare, finished_job, tmp_path):
    dest = tmp_path / "downloads"
    folder = Path(flare(f"download {finished_job} --dest {dest}"))
    assert folder.parent == dest and folder.name.startswith(finished_job) and folder.is_dir()
    assert (folder / "meta.json").is_file() and any(p.name == "workspace" for p in folder.iterdir())

    clone = flare(f"clone {finished_job}")
    assert UUID.match(clone) and clone != finished_job
    assert flare(f"meta {clone}")["cloned_from"] == finished_job
    try:
        # aborted once it runs: NVFlare can lose an abort that lands while its scheduler deploys the job
        wait_for(lambda: s.get_job_meta(clone)["status"] == "RUNNING", timeout=120, interval=0.1)
        assert flare(f"abort_job {clone}").strip()
    finally:
        final = wait_finished(s, clone, aborted=True)
    assert final == "FINISHED:ABORTED"

    assert flare(f"delete {clone}") == f"deleted job {clone}"
    assert clone not in flare("jobs")["job_id"].tolist()
    with pytest.raises(UsageError, match="does not exist on the server"):
        flare(f"meta {clone}")


def test_logs_of_a_finished_job(flare, finished_job):
    text = flare(f"logs {finished_job}")
    assert isinstance(text, TextResult)
    assert text.title == f"log of job {finished_job} on server"
    assert "Round 0 started" in text and "validation metric" in text
    assert flare(f"job_log {finished_job} --target server") == text


def test_session_and_help(flare, poc_system):
    shown = repr(flare("session"))
    assert f"localhost:{poc_system.admin_port}" in shown and "clients: site-1, site-2" in shown
    assert flare("status") is fj.session()
    help_text = flare("help")
    assert "submit_job (submit)" in help_text and "%%flare_cat" in help_text
    assert "%flare list_jobs" in flare("help jobs")
