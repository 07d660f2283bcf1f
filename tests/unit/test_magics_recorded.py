"""%flare, %%flare_cat and %%flare_app_command on answers recorded from a real NVFlare system, as a user sees them."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from nvflare.fuel.flare_api import api_spec
from traitlets import TraitError

import flare_jupyter as fj
from fakes import RecordedSession, load_recording
from flare_jupyter import compat, frames, settings
from flare_jupyter.magics import TABLE, FlareMagics
from flare_jupyter.render import Message, TextResult

JOBS = load_recording()["jobs"]
F, C, H = JOBS["finished"], JOBS["clone"], JOBS["hostile"]
NO_JOB = "00000000-0000-0000-0000-000000000000"
JOB_FOLDER = "/tmp/tmphjh0a6mg/jobs/hello-numpy"  # the folder record.py submitted
NO_SUCH_FILE = "cat: no_such_file.txt: No such file or directory\n"  # what the server said
NOT_CONNECTED = r"not connected to a FLARE system: run fj.connect\(KIT\) / %flare connect"

#: A line per operation that the recording answers (each is what a user would type after "%flare OP ").
OP_ARGS = {
    "session": "",
    "poc": "status",
    "disconnect": "",
    "submit_job": JOB_FOLDER,
    "list_jobs": "",
    "get_job_meta": F,
    "abort_job": C,
    "clone_job": F,
    "delete_job": C,
    "download_job_result": F,
    "monitor_job": F,
    "job_log": F,
    "show_stats": f"{F} client",
    "show_errors": f"{F} client",
    "do_app_command": f"{F} no_such_topic --data '{{\"x\": 1}}'",  # recorded: the app refuses the topic
    "get_available_apps_to_upload": "",
    "get_connected_client_list": "",
    "get_client_job_status": "",
    "get_client_env": "",
    "get_working_directory": "server",
    "ls_target": "server",
    "cat_target": "server -f log.txt",
    "head_target": "server -f log.txt --options='-n 3'",
    "tail_target": "server -f log.txt --options='-n 3'",
    "grep_target": "server -p Client -f log.txt",
    "head_target_log": "site-1 --options='-n 2'",
    "tail_target_log": "server --options='-n 2'",
    "set_timeout": "10",
    "promote_sp": "localhost:8002:8003",
}
#: Need a kit on disk (tested with the recorded_with_kit fixture below).
KIT_OPS = {"list_sp", "get_active_sp"}
#: connect needs a live server: only its mistakes are tested here.
LIVE_ONLY = {"connect"}
#: Never recorded by tests/record.py, so not tested here.
NOT_RECORDED = {"reset_errors", "restart", "shutdown", "shutdown_system"}
#: Open live widgets: tested in test_widgets.py and tests/integration/test_widgets_live.py.
WIDGET_OPS = {"jobs_panel", "clients_panel", "log_viewer", "dashboard"}
#: Results for analysis: tested in test_fedstats.py / test_plots.py and tests/integration/test_fedstats_live.py.
ANALYSIS_OPS = {"fedstats", "metrics", "stats_history"}
#: Startup-kit checks on real provisioned kits: tested in test_kit_checks.py and tests/integration/test_kit_live.py.
KIT_CHECK_OPS = {"check_kit"}
#: Runs compared, triaged, reported: tested in test_experiments.py and tests/integration/test_experiments_live.py.
EXPERIMENT_OPS = {"compare", "triage", "report"}


@pytest.fixture
def magics(ip):
    """The FlareMagics instance; its configuration is put back after the test."""
    m = ip.magics_manager.registry["FlareMagics"]
    saved = (m.poll_interval, m.progress, m.full_tracebacks)
    yield m
    m.poll_interval, m.progress, m.full_tracebacks = saved


def outcome(flare, line):
    """What ``%flare line`` gives: its result, or the UsageError message."""
    try:
        return flare(line)
    except UsageError as e:
        return ("UsageError", str(e))


def assert_same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert type(a) is type(b) and a == b


def test_every_operation_is_tested_or_known_unrecorded():
    tested = (
        set(OP_ARGS) | KIT_OPS | LIVE_ONLY | NOT_RECORDED | WIDGET_OPS | ANALYSIS_OPS | KIT_CHECK_OPS | EXPERIMENT_OPS
    )
    assert set(TABLE.operations) == tested


# -- every operation ----------------------------------------------------------------------------------------------
RESULT_TYPES = {
    "session": fj.KernelSession,
    "poc": Message,
    "disconnect": Message,
    "submit_job": str,
    "list_jobs": pd.DataFrame,
    "get_job_meta": dict,
    "abort_job": Message,
    "clone_job": str,
    "delete_job": Message,
    "download_job_result": str,
    "monitor_job": compat.MonitorReturnCode,
    "job_log": TextResult,
    "show_stats": pd.DataFrame,
    "show_errors": pd.DataFrame,
    "get_available_apps_to_upload": list,
    "get_connected_client_list": pd.DataFrame,
    "get_client_job_status": pd.DataFrame,
    "get_client_env": pd.DataFrame,
    "get_working_directory": TextResult,
    "ls_target": TextResult,
    "cat_target": TextResult,
    "head_target": TextResult,
    "tail_target": TextResult,
    "grep_target": TextResult,
    "head_target_log": TextResult,
    "tail_target_log": TextResult,
    "set_timeout": Message,
}


@pytest.fixture
def no_embedded_system(monkeypatch):
    """The unit tests see no embedded system, even when the integration tests' one runs in this process."""
    monkeypatch.setattr(fj.poc, "_current", None)


@pytest.mark.parametrize("name", sorted(RESULT_TYPES))
def test_operation_answers_with_its_documented_type(flare, recorded, no_embedded_system, name):
    assert isinstance(flare(f"{name} {OP_ARGS[name]}"), RESULT_TYPES[name])


def test_list_jobs_is_the_jobs_frame_of_the_answer(flare, recorded, answers):
    pd.testing.assert_frame_equal(flare("list_jobs"), frames.jobs_frame(answers("list_jobs")[-1]))


@pytest.mark.parametrize(
    "line, job_ids",
    [
        ("jobs -l 1 -r", [H]),
        ("jobs --name-prefix hello", [F]),
        ("jobs --id-prefix a355e106", [F]),
        ("jobs -d", [F, H]),
    ],
)
def test_list_jobs_options_reach_nvflare(flare, recorded, line, job_ids):
    assert list(flare(line)["job_id"]) == job_ids


def test_detailed_list_jobs_has_the_detail_columns(flare, recorded):
    assert "submitter_name" in flare("jobs --detailed").columns


def test_get_job_meta_is_the_recorded_meta(flare, recorded, answers):
    assert flare(f"get_job_meta {F}") == answers("get_job_meta", job_id=F)[-1]


def test_submit_returns_the_job_id(flare, recorded):
    assert flare(f"submit_job {JOB_FOLDER}") == F


def test_abort_shows_the_server_message(flare, recorded):
    assert flare(f"abort_job {C}") == f"Aborted the job {C} before running it."


def test_clone_returns_the_new_job_id(flare, recorded):
    assert flare(f"clone_job {F}") == C


def test_delete_says_which_job(flare, recorded):
    assert flare(f"delete_job {C}") == f"deleted job {C}"


def test_download_returns_the_result_folder(flare, recorded):
    assert flare(f"download_job_result {F}").endswith(f"/transfer/{F}")


def test_monitor_finished_job_shows_its_status(flare, recorded, magics, capsys):
    assert flare(f"monitor_job {F}") == compat.MonitorReturnCode.JOB_FINISHED
    assert f"job {F}: FINISHED:COMPLETED" in capsys.readouterr().out


def test_monitor_without_progress_prints_nothing(flare, recorded, magics, capsys):
    magics.progress = False
    assert flare(f"monitor_job {F}") == compat.MonitorReturnCode.JOB_FINISHED
    assert capsys.readouterr().out == ""


def test_job_log_is_the_server_log_with_a_title(flare, recorded, answers):
    log = flare(f"job_log {F}")
    assert log == answers("get_job_logs", job_id=F)[-1]["logs"]["server"]
    assert log.title == f"log of job {F} on server"


def test_client_stats_of_one_client(flare, recorded):
    df = flare(f"show_stats {F} client site-1")
    assert set(df["target"]) == {"site-1"} and len(df) == 2


def test_clean_client_errors_are_an_empty_frame(flare, recorded):
    df = flare(f"show_errors {F} client")
    assert len(df) == 0 and list(df.columns) == frames.NESTED_COLUMNS


def test_app_command_sends_the_json_data_and_shows_the_refusal(flare, recorded):
    with pytest.raises(UsageError, match="no app command func for topic no_such_topic"):
        flare(OP_ARGS["do_app_command"].join(["do_app_command ", ""]))
    assert recorded.calls[-1] == ("do_app_command", {"job_id": F, "topic": "no_such_topic", "cmd_data": {"x": 1}})


def test_sites_frames(flare, recorded):
    assert list(flare("get_connected_client_list")["name"]) == ["site-2", "site-1"]
    assert list(flare("get_client_job_status site-1")["client_name"]) == ["site-1"]
    assert list(flare("get_client_env site-2")["site_name"]) == ["site-2"]


def test_working_directory_of_a_client(flare, recorded):
    assert flare("get_working_directory site-1") == "/tmp/tmphjh0a6mg/poc/poc/fjpoc/prod_00/site-1\n"


@pytest.mark.parametrize(
    "op, method, arguments",
    [
        ("ls_target", "ls_target", {"target": "server"}),
        ("cat_target", "cat_target", {"target": "server", "file": "log.txt"}),
        ("head_target", "head_target", {"target": "server", "options": "-n 3", "file": "log.txt"}),
        ("tail_target", "tail_target", {"target": "server", "options": "-n 3", "file": "log.txt"}),
        ("grep_target", "grep_target", {"target": "server", "pattern": "Client", "file": "log.txt"}),
        ("head_target_log", "head_target_log", {"target": "site-1", "options": "-n 2"}),
        ("tail_target_log", "tail_target_log", {"target": "server", "options": "-n 2"}),
    ],
)
def test_file_operation_shows_the_target_text(flare, recorded, answers, op, method, arguments):
    assert flare(f"{op} {OP_ARGS[op]}") == answers(method, **arguments)[-1]


def test_set_timeout_confirms(flare, recorded):
    assert flare("set_timeout 10") == "command timeout set to 10 s"
    assert recorded.calls == [("set_timeout", {"value": 10.0})]


def test_session_is_the_kernel_session(flare, recorded):
    assert flare("session") is fj.session()


def test_poc_status_without_embedded_system(flare, no_embedded_system):
    assert flare("poc status") == "no embedded FLARE system is running (%flare poc start)"


def test_disconnect_closes_the_session(flare, recorded):
    assert flare("disconnect") == "disconnected"
    assert fj.current() is None and recorded.closed


def test_list_sp_is_one_primary_server(flare, recorded_with_kit):
    df = flare("list_sp")
    assert len(df) == 1
    assert (df["name"][0], df["fl_port"][0], df["admin_port"][0], bool(df["primary"][0])) == (
        "localhost",
        55807,
        57561,
        True,
    )


def test_get_active_sp_is_the_server(flare, recorded_with_kit):
    assert flare("get_active_sp")["name"] == "localhost"


def test_promote_sp_says_there_is_nothing_to_promote(flare, recorded):
    with pytest.raises(UsageError, match="runs without an HA overseer.*nothing to promote"):
        flare("promote_sp localhost:8002:8003")


# -- aliases, -o, job id prefixes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "alias, name", sorted((a, n) for a, n in TABLE.aliases.items() if n not in WIDGET_OPS | ANALYSIS_OPS)
)
def test_alias_does_what_the_operation_does(flare, recorded, alias, name):
    assert_same(outcome(flare, f"{alias} {OP_ARGS[name]}"), outcome(flare, f"{name} {OP_ARGS[name]}"))


@pytest.mark.parametrize(
    "alias, name", sorted((a, n) for a, n in TABLE.aliases.items() if n in WIDGET_OPS | ANALYSIS_OPS)
)
def test_a_widget_alias_opens_the_same_widget(alias, name):
    # the widgets themselves are tested in test_widgets.py; an alias must name the same operation
    assert TABLE.lookup(alias) is TABLE.lookup(name)


def test_out_stores_the_result_in_a_notebook_variable(flare, recorded, ip):
    try:
        df = flare("jobs -o my_jobs")
        assert ip.user_ns["my_jobs"] is df
        meta = flare(f"meta {F} --out my_meta")
        assert ip.user_ns["my_meta"] is meta
    finally:
        ip.user_ns.pop("my_jobs", None)
        ip.user_ns.pop("my_meta", None)


def test_out_is_not_set_when_the_operation_fails(flare, recorded, ip):
    with pytest.raises(UsageError):
        flare(f"meta {NO_JOB} -o missing_meta")
    assert "missing_meta" not in ip.user_ns


def test_out_refuses_a_python_keyword(flare, recorded, ip):
    try:
        with pytest.raises(UsageError, match="-o needs a Python variable name"):
            flare("jobs -o class")  # `class` cannot be typed as a variable in the next cell
    finally:
        ip.user_ns.pop("class", None)


@pytest.mark.parametrize("line", ["meta a355e106", "logs a355e106", "download a355e106"])
def test_unique_job_id_prefix_resolves_to_the_job(flare, recorded, line):
    flare(line)
    assert recorded.calls[0] == (
        "list_jobs",
        {"detailed": False, "limit": None, "id_prefix": "a355e106", "name_prefix": None, "reverse": False},
    )
    assert recorded.calls[1][1]["job_id"] == F


def test_job_id_prefix_gives_the_full_meta(flare, recorded):
    assert flare("meta a355e106")["job_id"] == F


# -- help -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["help", "", "?", "--help"])
def test_help_lists_every_operation_and_alias(flare, line):
    text = flare(line)
    assert isinstance(text, TextResult)
    for name in [*TABLE.operations, *TABLE.aliases, "%%flare_cat", "%%flare_app_command"]:
        assert name in text


@pytest.mark.parametrize("word", ["list_jobs", "jobs"])
def test_help_of_one_operation_shows_its_arguments(flare, word):
    text = flare(f"help {word}")
    assert text.startswith("usage: %flare list_jobs")
    assert "--limit" in text and "aliases: jobs" in text


@pytest.mark.parametrize("name", sorted(TABLE.operations))
def test_dash_h_prints_help_and_returns_none(flare, capsys, name):
    assert flare(f"{name} -h") is None
    assert f"usage: %flare {name}" in capsys.readouterr().out


def test_magic_docstring_lists_every_operation():
    for name in [*TABLE.operations, *TABLE.aliases]:
        assert name in FlareMagics.flare.__doc__


def test_question_mark_shows_the_operations(cell):
    result, seen = cell("%flare?")
    assert result.success
    assert "list_jobs (jobs)" in seen and "tail_target_log (log)" in seen


# -- cell magics ----------------------------------------------------------------------------------------------------
def test_flare_cat_shows_each_file_under_its_name(ip, recorded, answers):
    text = ip.run_cell_magic("flare_cat", "server", "log.txt\nno_such_file.txt\n")
    log = answers("cat_target", target="server", file="log.txt")[-1]
    assert isinstance(text, TextResult)
    complaint = NO_SUCH_FILE.strip().removeprefix("cat: ")
    said = f"(error) %flare cat_target: cat on server said: {complaint}"
    assert text == f"==> log.txt <==\n{log}\n==> no_such_file.txt <==\n{said}"


def test_flare_cat_one_file_is_just_its_text(ip, recorded, answers):
    log = answers("cat_target", target="server", file="log.txt")[-1]
    assert ip.run_cell_magic("flare_cat", "server", "log.txt") == log


def test_flare_cat_of_a_missing_file_is_one_line_naming_it(ip, recorded):
    # the server's cat answers with its complaint as text: that is an error, not the file's content
    assert NO_SUCH_FILE.startswith("cat: ")
    with pytest.raises(UsageError, match="cat on server said: no_such_file.txt: No such file or directory"):
        ip.run_cell_magic("flare_cat", "server", "no_such_file.txt")


def test_flare_cat_empty_cell_is_a_usage_error(ip, recorded):
    with pytest.raises(UsageError, match="the cell is empty: write one file name per line"):
        ip.run_cell_magic("flare_cat", "server", "\n  \n")
    assert recorded.calls == []


def test_app_command_cell_with_malformed_json_names_json(ip, recorded):
    with pytest.raises(UsageError, match="command data is not valid JSON"):
        ip.run_cell_magic("flare_app_command", f"{F} no_such_topic", '{"x": 1\n')
    assert recorded.calls == []


def test_app_command_empty_cell_is_a_usage_error(ip, recorded):
    with pytest.raises(UsageError, match="the cell is empty: write the command data as JSON"):
        ip.run_cell_magic("flare_app_command", f"{F} no_such_topic", "\n")
    assert recorded.calls == []


def test_app_command_cell_sends_its_json(ip, recorded):
    with pytest.raises(UsageError, match="no app command func for topic no_such_topic"):
        ip.run_cell_magic("flare_app_command", "a355e106 no_such_topic", '{"x": 1}\n')
    assert recorded.calls[-1] == ("do_app_command", {"job_id": F, "topic": "no_such_topic", "cmd_data": {"x": 1}})


def test_cell_magic_mistakes_show_one_line(recorded, cell):
    for source in ["%%flare_app_command\n{}", f"%%flare_app_command {F} topic\n{{oops", "%%flare_cat server\n"]:
        result, seen = cell(source)
        assert isinstance(result.error_in_exec, UsageError), source
        assert seen.strip().splitlines() == [f"UsageError: {result.error_in_exec}"], source


# -- user mistakes ------------------------------------------------------------------------------------------------
#: (line, what the one-line message says); none of these reaches the server.
PARSE_MISTAKES = [
    ("lst_jobs", "unknown %flare operation 'lst_jobs': did you mean 'list_jobs'?"),
    ("help lst_jobs", "did you mean 'list_jobs'?"),
    ("meta", "%flare get_job_meta: the following arguments are required: JOB (see %flare get_job_meta -h)"),
    ("cat server", "the following arguments are required: --file/-f"),
    ("grep server -f log.txt", "the following arguments are required: --pattern/-p"),
    ("jobs -l -1", "argument -l/--limit: '-1' must be between 0 and 1000000"),
    ("jobs --limit many", "'many' is not a whole number"),
    ("set_timeout abc", "argument seconds: 'abc' is not a number"),
    ("set_timeout 0", "'0' must be a positive number"),
    (f"monitor {F} --timeout soon", "argument --timeout: 'soon' is not a number"),
    (f"monitor {F} --poll-interval 0", "'0' must be a positive number"),
    ("connect --timeout x", "'x' is not a number"),
    (f"stats {F} everywhere", "invalid choice: 'everywhere'"),
    ("jobs --bogus", "unrecognized arguments: --bogus"),
    ('cat server -f "log.txt', "cannot read the arguments (No closing quotation): check the quotes"),
    ("jobs -o 1abc", "-o needs a Python variable name, not '1abc'"),
    ("jobs -o my-jobs", "-o needs a Python variable name, not 'my-jobs'"),
    ('meta ""', "argument JOB: must not be empty"),
    ("connect /no/such/kit", "startup kit folder '/no/such/kit' does not exist"),
]
#: (line, what the one-line message says); the recorded server (or compat) refuses these.
REFUSED = [
    (f"meta {NO_JOB}", f"job '{NO_JOB}' does not exist on the server: check the id with %flare list_jobs"),
    (f"abort {NO_JOB}", f"job '{NO_JOB}' does not exist on the server"),
    (f"stats {F}", f"job '{F}' is not running, so it has no live show_stats"),
    (f"errors {F}", f"job '{F}' is not running"),
    ("log site-9", "target 'site-9' is not known to the server (invalid target: site-9)"),
    ("submit /tmp/tmphjh0a6mg/jobs", "the job folder was rejected: invalid job definition"),
    ("grep server -p Client -f log.txt --options=-c", "grep_target failed: InternalError: error: unrecognized arg"),
    ("cat server -f ../etc/passwd", "NVFlare rejected the arguments: .. in path name is not allowed"),
    ("log server --options='; rm -rf /'", "NVFlare rejected the arguments: options must be a string of only valid"),
    ("promote_sp localhost:8002:8003", "runs without an HA overseer"),
]
MISTAKES = PARSE_MISTAKES + REFUSED


@pytest.mark.parametrize("line, message", MISTAKES)
def test_mistake_is_a_usage_error_that_says_what_is_wrong(flare, recorded, line, message):
    with pytest.raises(UsageError) as caught:
        flare(line)
    assert message in str(caught.value)


@pytest.mark.parametrize("line, message", PARSE_MISTAKES)
def test_argument_mistake_never_reaches_the_server(flare, recorded, line, message):
    with pytest.raises(UsageError):
        flare(line)
    assert recorded.calls == []


@pytest.mark.parametrize("line, message", MISTAKES)
def test_mistake_in_a_cell_shows_one_line_and_the_next_command_works(recorded, cell, line, message):
    result, seen = cell(f"%flare {line}")
    assert isinstance(result.error_in_exec, UsageError)
    assert "Traceback" not in seen
    assert seen.strip().splitlines() == [f"UsageError: {result.error_in_exec}"]
    after, _ = cell("%flare jobs")
    assert after.success and len(after.result) == 2


def test_connect_to_a_folder_that_is_not_a_kit(flare, recorded, tmp_path):
    with pytest.raises(UsageError, match="is not an admin startup kit: startup/fed_admin.json is missing"):
        flare(f"connect {tmp_path}")
    assert fj.current() is not None  # the old session is kept


def test_without_session_operations_say_how_to_connect(flare, recorded):
    fj.disconnect()
    for line in ("jobs", "session", f"meta {F}"):
        with pytest.raises(UsageError, match=NOT_CONNECTED):
            flare(line)


def test_without_session_a_cell_shows_one_line_and_help_still_works(recorded, cell):
    fj.disconnect()
    result, seen = cell("%flare jobs")
    assert isinstance(result.error_in_exec, UsageError)
    assert seen.strip().splitlines() == [f"UsageError: {result.error_in_exec}"]
    assert cell("%flare help")[0].success


def test_after_reconnecting_the_next_command_works(flare, recorded, install):
    fj.disconnect()
    with pytest.raises(UsageError):
        flare("jobs")
    install(RecordedSession())
    assert len(flare("jobs")) == 2


def test_full_tracebacks_lets_nvflare_errors_through(flare, recorded, magics, cell):
    magics.full_tracebacks = True
    with pytest.raises(api_spec.JobNotFound):
        flare(f"meta {NO_JOB}")
    _, seen = cell(f"%flare meta {NO_JOB}")
    assert "Traceback" in seen


# -- configuration ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -1, 3601])
def test_poll_interval_out_of_range_raises_trait_error(magics, value):
    with pytest.raises(TraitError, match="poll_interval must be between 0 and 3600 seconds"):
        magics.poll_interval = value
    assert magics.poll_interval == 2.0


def test_config_poll_interval_zero_is_refused_and_reported(ip, magics, caplog):
    ip.run_line_magic("config", "FlareMagics.poll_interval = 0")
    assert "FlareMagics.poll_interval must be between 0 and 3600 seconds, not 0" in caplog.text
    assert magics.poll_interval == 2.0
    assert settings.poll_interval == 2.0


def test_config_valid_poll_interval_is_used(ip, magics):
    ip.run_line_magic("config", "FlareMagics.poll_interval = 0.5")
    assert magics.poll_interval == 0.5
    assert settings.poll_interval == 0.5
