"""errors.describe / errors.friendly on exceptions recorded from a real NVFlare system."""

from __future__ import annotations

import pytest
from nvflare.fuel.flare_api import api_spec
from sentences import sentence_problem

import flare_jupyter as fj
from fakes import exception, load_recording
from flare_jupyter import compat, settings
from flare_jupyter.errors import ArgumentError, FlareError, describe, friendly
from flare_jupyter.session import delete_when_stored

JOBS = load_recording()["jobs"]
FINISHED = JOBS["finished"]
NO_JOB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def tracebacks_on():
    settings.full_tracebacks = True
    yield
    settings.full_tracebacks = False


@pytest.fixture
def job_not_found(recorded_error):
    return recorded_error("get_job_meta", job_id=NO_JOB)


def raise_and_catch(exc: BaseException) -> BaseException:
    """``exc`` after being raised (so it carries a traceback)."""
    try:
        raise exc
    except BaseException as caught:
        return caught


# -- friendly -----------------------------------------------------------------------------------------------------
def test_friendly_error_is_still_caught_by_its_nvflare_type(job_not_found):
    with pytest.raises(api_spec.JobNotFound):
        raise friendly(job_not_found, "job X does not exist")
    assert isinstance(friendly(job_not_found, "m"), compat.JobNotFound)


def test_friendly_error_str_is_the_one_sentence(job_not_found):
    assert str(job_not_found) == f"no such job: {NO_JOB}"  # what NVFlare said
    fe = friendly(job_not_found, "job X does not exist: check the id")
    assert str(fe) == "job X does not exist: check the id"


def test_friendly_error_renders_as_one_line(job_not_found):
    fe = raise_and_catch(friendly(job_not_found, "job X does not exist"))
    assert fe._render_traceback_() == ["JobNotFound: job X does not exist"]


def test_show_tracebacks_gives_the_full_traceback(job_not_found, tracebacks_on):
    fe = raise_and_catch(friendly(job_not_found, "job X does not exist"))
    text = "".join(fe._render_traceback_())
    assert text.startswith("Traceback (most recent call last)")
    assert "raise_and_catch" in text
    assert text.rstrip().endswith("JobNotFound: job X does not exist")


def test_show_tracebacks_off_again_gives_one_line(job_not_found):
    settings.full_tracebacks = True
    settings.full_tracebacks = False
    fe = raise_and_catch(friendly(job_not_found, "m"))
    assert fe._render_traceback_() == ["JobNotFound: m"]


def test_friendly_keeps_the_exception_attributes(job_not_found):
    job_not_found.job_id = NO_JOB
    assert friendly(job_not_found, "m").job_id == NO_JOB


def test_friendly_of_a_friendly_error_is_unchanged(job_not_found):
    fe = friendly(job_not_found, "first")
    assert friendly(fe, "second") is fe


def test_nvflare_syntax_error_becomes_a_one_line_argument_error(recorded_error):
    # NVFlare raises the builtin SyntaxError for rejected arguments (here: a path with ".."); IPython would show any
    # SyntaxError as broken source code, so it becomes an ArgumentError (a ValueError) that keeps the sentence
    e = recorded_error("cat_target", target="server", file="../etc/passwd")
    fe = friendly(e, "NVFlare rejected the arguments: .. in path name is not allowed")
    assert isinstance(fe, ArgumentError) and isinstance(fe, ValueError)
    assert not isinstance(fe, SyntaxError)
    assert str(fe) == "NVFlare rejected the arguments: .. in path name is not allowed"
    assert fe._render_traceback_() == ["ArgumentError: NVFlare rejected the arguments: .. in path name is not allowed"]


def test_flare_error_renders_as_one_line():
    e = raise_and_catch(FlareError("not connected: run fj.connect(KIT)"))
    assert e._render_traceback_() == ["FlareError: not connected: run fj.connect(KIT)"]


def test_friendly_error_in_a_cell_shows_one_line(ip, cell, job_not_found):
    ip.user_ns["boom"] = friendly(job_not_found, "job X does not exist: check the id")
    try:
        result, seen = cell("raise boom")
    finally:
        ip.user_ns.pop("boom")
    assert isinstance(result.error_in_exec, api_spec.JobNotFound)
    assert seen.strip().splitlines() == ["JobNotFound: job X does not exist: check the id"]


# -- describe -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, arguments, context, expected",
    [
        (
            "get_job_meta",
            {"job_id": NO_JOB},
            {"op": "get_job_meta", "job_id": NO_JOB},
            f"job '{NO_JOB}' does not exist on the server: check the id with %flare list_jobs",
        ),
        (
            "show_stats",
            {"job_id": FINISHED, "target_type": "server"},
            {"op": "show_stats", "job_id": FINISHED},
            f"job '{FINISHED}' is not running, so it has no live show_stats: look at its log or result instead",
        ),
        (
            "tail_target_log",
            {"target": "site-9"},
            {"op": "tail_target_log", "target": "site-9"},
            "target 'site-9' is not known to the server (invalid target: site-9): "
            "use 'server' or a connected client name",
        ),
        (
            "submit_job",
            {"job_definition_path": "/tmp/tmphjh0a6mg/jobs"},
            {"op": "submit_job"},
            "the job folder was rejected: invalid job definition: meta.[json|conf|yml] not existing",
        ),
        (
            "cat_target",
            {"target": "server", "file": "../etc/passwd"},
            {"op": "cat_target", "target": "server"},
            "NVFlare rejected the arguments: .. in path name is not allowed",
        ),
        (
            "do_app_command",
            {"job_id": FINISHED, "topic": "no_such_topic", "cmd_data": {"x": 1}},
            {"op": "do_app_command", "job_id": FINISHED},
            "do_app_command was refused by the server: no app command func for topic no_such_topic",
        ),
    ],
    ids=["JobNotFound", "JobNotRunning", "InvalidTarget", "InvalidJobDefinition", "SyntaxError", "InternalError"],
)
def test_describe_recorded_errors_in_one_sentence(recorded_error, method, arguments, context, expected):
    sentence = describe(recorded_error(method, **arguments), **context)
    assert sentence.startswith(expected)
    assert "\n" not in sentence


def test_describe_without_job_id_names_the_job_nvflare_named(job_not_found):
    # NVFlare's "no such job: <id>" names it, so the sentence does too
    sentence = describe(job_not_found, "get_job_meta")
    assert sentence.startswith(f"job {NO_JOB!r} does not exist on the server"), sentence


def test_describe_without_any_job_id_says_the_job():
    sentence = describe(api_spec.JobNotFound("job_id is required but not specified."), "get_job_meta")
    assert sentence.startswith("the job does not exist on the server"), sentence


def test_a_server_sentence_is_never_poured_into_a_job_id_slot():
    # nvflare 2.5 raises JobNotDone(f"job {info} is still running") with the server's whole sentence as info
    said = "There are still jobs running. Please let them finish or abort_job before restart."
    sentence = describe(api_spec.JobNotDone(f"job {said} is still running"), "restart")
    assert sentence == f"restart was refused by the server: {said}"


@pytest.mark.parametrize(
    "nvflare_said, op, sentence_start",
    [  # NVFlare 2.9's words when its wait ran out (the first as CI's restart of a busy embedded system printed it)
        (
            "server did not restart within 30.0 seconds; last error: server is not reachable yet",
            "restart",
            "the restart was sent, but the server did not restart within 30 s (server is not reachable yet): ",
        ),
        (
            "clients did not stop within 90.0 seconds; last error: clients are still connected: site-2",
            "shutdown",
            "the shutdown was sent, but the clients did not stop within 90 s (clients are still connected: site-2): ",
        ),
    ],
)
def test_a_wait_that_ran_out_says_the_command_was_sent_and_how_to_wait_longer(nvflare_said, op, sentence_start):
    sentence = describe(TimeoutError(nvflare_said), op)
    assert sentence.startswith(sentence_start), sentence
    assert sentence.endswith("wait longer (timeout=... in Python, --timeout in %flare)"), sentence
    assert "failed" not in sentence and sentence_problem(sentence) is None


def test_a_command_that_raised_inside_the_server_is_not_called_a_refusal():
    # nvflare 2.5.2's answer to a delete_job right after the job ended (a clean-clone run's scale test met it): the
    # server's removal of the job's folder raised while NVFlare still stored the job's workspace into it
    sentence = describe(api_spec.InternalError("server internal error: exception <class 'OSError'>"), "delete_job")
    assert sentence == (
        "delete_job failed inside the server with OSError, not a refusal (a job that has just ended may still be "
        "being stored): try again in a few seconds; the server's log.txt says more"
    )
    assert sentence_problem(sentence) is None


def test_describe_passes_one_line_errors_through():
    sentence = "not connected: run fj.connect(KIT)"
    assert describe(FlareError(sentence), "list_jobs") == sentence


def test_describe_not_supported_is_its_own_text():
    assert describe(compat.NotSupported("nothing to promote"), "promote_sp") == "nothing to promote"


def test_describe_lost_connection_says_what_to_do():
    # before nvflare 2.8 a lost connection is the builtin ConnectionError (see compat)
    sentence = describe(ConnectionError("connection reset"), "list_jobs")
    assert sentence.startswith("lost the connection to the FLARE server (connection reset)")
    assert "%flare connect" in sentence


def test_describe_unknown_error_names_operation_type_and_detail():
    assert describe(RuntimeError("boom"), "ls_target") == "ls_target failed: RuntimeError: boom"


# -- every sentence reads as one ---------------------------------------------------------------------------------
def test_the_sentence_check_catches_what_the_issue_saw():
    seen = (
        "JobNotDone: job There are still jobs running. Please let them finish or abort_job before restart. is still "
        "running is still running: wait for it to finish or abort it first (restart needs it done)"
    )
    assert sentence_problem(seen) is not None
    assert sentence_problem("job None does not exist on the server") == "an empty slot"
    assert sentence_problem(f"job {NO_JOB!r} does not exist on the server: check the id with %flare list_jobs") is None


def test_describe_reads_as_one_sentence_for_every_error_nvflare_raised(recording):
    lines = []
    for call in recording["calls"]:
        if "raises" not in call:
            continue
        args = call["args"]
        context = {"job_id": args.get("job_id"), "target": args.get("target") or args.get("target_type")}
        lines.append(describe(exception(call["raises"]), call["method"], **context))
    assert len(lines) >= 10
    bad = [(line, why) for line in lines if (why := sentence_problem(line))]
    assert not bad, bad


class _StoringServer:
    """NVFlare's session on a server that fails ``delete_job`` inside ``failures`` times, with nvflare 2.5.2's answer
    (above)."""

    startup_path = "/recorded/kit"

    def __init__(self, failures: int, answer: str = "server internal error: exception <class 'OSError'>"):
        self.failures, self.answer, self.jobs = failures, answer, {"j1"}

    def close(self):
        pass

    def delete_job(self, job):
        if self.failures:
            self.failures -= 1
            raise api_spec.InternalError(self.answer)
        self.jobs.discard(job)

    def list_jobs(self):
        return [{"job_id": j} for j in self.jobs]


#: The session delete_when_stored is given: NVFlare's own, or the kernel session around it (what %flare delete and
#: the jobs panel pass), which raises its one-line sentence in place of NVFlare's.
SESSIONS = {"nvflare": lambda raw: raw, "kernel": lambda raw: fj.KernelSession(raw.startup_path, "admin", raw=raw)}


@pytest.mark.parametrize("through", SESSIONS)
def test_a_delete_the_server_fails_inside_is_tried_again_until_it_is_stored(through):
    server = _StoringServer(failures=2)
    delete_when_stored(SESSIONS[through](server), "j1", timeout=10, interval=0.01)
    assert server.jobs == set() and server.failures == 0


@pytest.mark.parametrize("through", SESSIONS)
def test_a_delete_still_failing_after_the_wait_raises_its_one_line_error(through):
    server = _StoringServer(failures=1000)
    with pytest.raises(api_spec.InternalError) as caught:
        delete_when_stored(SESSIONS[through](server), "j1", timeout=0.05, interval=0.01)
    assert describe(caught.value, "delete_job").startswith("delete_job failed inside the server with OSError")
    assert server.jobs == {"j1"} and server.failures < 1000 - 1  # tried more than once


@pytest.mark.parametrize("through", SESSIONS)
def test_a_refused_delete_is_not_tried_again(through):
    server = _StoringServer(failures=1, answer="not authorized")
    with pytest.raises(api_spec.InternalError):
        delete_when_stored(SESSIONS[through](server), "j1", timeout=10, interval=0.01)
    assert server.failures == 0 and server.jobs == {"j1"}
