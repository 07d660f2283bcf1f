"""User mistakes against the real system: each one is ONE clear line, changes nothing on the server, and leaves the
session usable (the next ``%flare jobs`` works)."""

from __future__ import annotations

import json
import shutil
import uuid

import pandas as pd
import pytest
from IPython.core.error import UsageError
from live_jobs import one_line, usage_error_line, wait_all_finished

import flare_jupyter as fj
from flare_jupyter import compat


def snapshot(s) -> list[tuple]:
    return sorted((j["job_id"], j["job_name"], j["status"], j["submit_time"]) for j in s.list_jobs())


@pytest.fixture(autouse=True)
def server_unchanged(live, poc_system):
    """Nothing changes on the server for a mistake: the job list (ids, names, statuses) is the same afterwards."""
    wait_all_finished(live)
    before = snapshot(live)
    assert before, "the finished job should be listed"
    yield
    s = fj.current() or fj.connect(poc_system.kit)
    assert snapshot(s) == before


@pytest.fixture
def mistake(cell):
    """Run a cell that holds a mistake: returns the one line the user saw, after checking the session still works."""

    def run(source: str) -> str:
        result, out = cell(source)
        assert not result.success
        assert isinstance(result.error_in_exec, UsageError), repr(result.error_in_exec)
        line = usage_error_line(out)
        after, after_out = cell("%flare jobs")
        assert after.success, after_out
        assert isinstance(after.result, pd.DataFrame) and len(after.result) >= 1
        return line

    return run


@pytest.fixture
def paths(tmp_path, jobs_dir):
    not_a_job = tmp_path / "not-a-job"
    not_a_job.mkdir()
    (not_a_job / "readme.txt").write_text("no meta.json here")
    return {"tmp": tmp_path, "not_a_job": not_a_job, "file": not_a_job / "readme.txt"}


CASES = [
    # (cell, what the line must say)
    ("%flare nope", ["unknown %flare operation 'nope'", "%flare help"]),
    ("%flare subnit {job}", ["unknown %flare operation 'subnit'", "did you mean 'submit'"]),
    ("%flare submit", ["%flare submit_job", "required: path"]),
    ("%flare meta", ["%flare get_job_meta", "required: JOB"]),
    ("%flare cat server", ["%flare cat_target", "required", "--file"]),
    ("%flare stats {job} everywhere", ["%flare show_stats", "invalid choice: 'everywhere'"]),
    ("%flare jobs --limit many", ["%flare list_jobs", "'many' is not a whole number"]),
    ("%flare jobs -o 1st", ["-o needs a Python variable name", "'1st'"]),
    ("%flare cat server --file 'log.txt", ["cannot read the arguments", "check the quotes"]),
    ("%flare meta {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare abort {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare delete {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare clone {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare download {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare logs {unknown}", ["job '{unknown}' does not exist on the server"]),
    ("%flare ls site-9", ["target 'site-9' is not known to the server"]),
    ("%flare cat site-9 --file log.txt", ["target 'site-9' is not known to the server"]),
    ("%flare pwd site-9", ["target 'site-9' is not known to the server"]),
    ("%flare stats {job}", ["job '{job}' is not running", "show_stats"]),
    ("%flare stats {job} client", ["job '{job}' is not running", "show_stats"]),
    ("%flare errors {job}", ["job '{job}' is not running", "show_errors"]),
    ("%flare errors {job} client site-1", ["job '{job}' is not running", "show_errors"]),
    ("%flare submit {not_a_job}", ["the job folder was rejected", "meta."]),
    ("%flare submit {file}", ["the job folder was rejected", "is not a valid folder"]),
    ("%flare submit {tmp}/no-such-folder", ["the job folder was rejected", "is not a valid folder"]),
    pytest.param(
        "%flare log server --options '; rm -rf /'",
        ["NVFlare rejected the arguments", "options must be a string of only valid characters"],
        id="options-nvflare-rejects",
    ),
    pytest.param(
        "%flare cat server --file ../startup/fed_server.json",
        ["NVFlare rejected the arguments", ".. in path name is not allowed"],
        id="path-with-dotdot",
    ),
    pytest.param(
        "%flare logs {job} --target site-9",
        ["the log of job {job} on site-9 is not available"],
        id="job-log-of-unknown-target",
    ),
    ('%%flare_app_command {job} some_topic\n{{"x": 1,', ["command data is not valid JSON"]),
    ("%%flare_app_command {job} some_topic\n", ["%%flare_app_command is a cell magic", "cell body is empty"]),
    ('%%flare_app_command {job}\n{{"x": 1}}', ["%flare do_app_command", "required: topic"]),
    ("%%flare_app_command {job} some_topic\n  \n", ["%%flare_app_command: the cell is empty", "JSON"]),
    ("%%flare_cat server\n", ["%%flare_cat is a cell magic", "cell body is empty"]),
    ("%%flare_cat server\n\n  \n", ["%%flare_cat: the cell is empty", "one file name per line"]),
    ("%%flare_cat site-9\nlog.txt", ["target 'site-9' is not known to the server"]),
    ("%flare set_timeout 0", ["%flare set_timeout", "'0' must be a positive number"]),
    ("%flare set_timeout soon", ["%flare set_timeout", "'soon' is not a number"]),
    ("%flare monitor {job} --timeout -1", ["%flare monitor_job", "'-1' must be 0 (no timeout) or a positive number"]),
    ("%flare connect --timeout -1", ["%flare connect", "'-1' must be a positive number"]),
    ("%flare connect /nonexistent/kit", ["startup kit folder '/nonexistent/kit' does not exist"]),
    ("%flare connect {not_a_job}", ["is not an admin startup kit", "startup/fed_admin.json is missing"]),
    ("%flare connect {file}", ["is a file, not a folder"]),
]


@pytest.mark.parametrize("source,expected", CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_each_mistake_is_one_clear_line(mistake, finished_job, paths, source, expected):
    values = {"job": finished_job, "unknown": str(uuid.uuid4()), **{k: str(v) for k, v in paths.items()}}
    previous = fj.session()
    line = mistake(source.format(**values))
    for part in expected:
        assert part.format(**values) in line, line
    assert fj.session() is previous and not previous.closed


def test_no_session_yet_then_connect_again(cell, monkeypatch):
    fj.disconnect()
    result, out = cell("%flare jobs")
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    line = usage_error_line(out)
    assert "not connected to a FLARE system" in line and "%flare connect" in line

    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    connected, out = cell("%flare connect")
    assert connected.success, out
    assert fj.session() is connected.result and connected.result.origin == "poc"
    again, out = cell("%flare jobs")
    assert again.success and isinstance(again.result, pd.DataFrame), out


def test_unreachable_server_names_it_and_keeps_the_previous_session(mistake, poc_system, tmp_path):
    kit = tmp_path / "admin-kit-copy"
    shutil.copytree(poc_system.kit, kit)
    config_file = kit / "startup" / "fed_admin.json"
    config = json.loads(config_file.read_text())
    port = fj.poc.free_ports(1)[0]
    assert port not in (poc_system.admin_port, poc_system.fl_port)
    agent = config["admin"].get("overseer_agent")
    if agent:  # an HA-era kit (nvflare < 2.7) names the server in its overseer agent's sp_end_point (compat)
        host, fl_port, _ = agent["args"]["sp_end_point"].split(":")
        agent["args"]["sp_end_point"] = f"{host}:{fl_port}:{port}"
    else:
        config["admin"]["port"] = port
    config_file.write_text(json.dumps(config, indent=2))

    previous = fj.session()
    line = mistake(f"%flare connect {kit} --timeout 3")
    assert f"cannot reach the FLARE server at localhost:{port} within 3 s" in line
    assert fj.session() is previous and not previous.closed
    assert {c.name for c in previous.get_connected_client_list()} == {"site-1", "site-2"}


def test_python_api_mistakes_are_one_line_too(live, finished_job):
    with pytest.raises(compat.InvalidJobDefinition) as e:  # the type NVFlare's own submit_job raises for it
        live.submit_job("")
    assert "needs the path of a job folder" in one_line(e.value)
    with pytest.raises(fj.FlareError) as e:
        fj.connect(timeout=0)
    assert "positive number" in one_line(e.value)
    assert fj.session() is live
