"""A campaign of hostile inputs against the real embedded system, one table across every ``%flare`` operation, the
cell magics, the Python API and the widgets' text fields.

Each input must give ONE clear line (a ``UsageError`` line, a one-line exception with no traceback, or a one-line
widget banner; a few are legitimately *handled*, e.g. a shell-looking grep pattern searched for literally), must
change nothing on the server (job ids, names, statuses, submit times, connected clients), and must leave the
kernel's session working (``%flare jobs`` and ``live.list_jobs()`` right after). All three are asserted per case.
The cases of ``test_mistakes_live.py`` are not repeated here.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hostile_inputs import (
    CONTROL,
    CONTROL_LINES,
    HTML,
    LONG,
    LONG_PATH,
    UNICODE,
    api,
    clients_panel_click,
    html_of,
    huge_json,
    job_folders,
    jobs_panel_click,
    jobs_panel_with,
    log_viewer_with,
    longest_shared_prefix,
    magic,
    monitor_of,
    widget,
)
from IPython.core.error import UsageError
from live_jobs import delete_all, usage_error_line, wait_all_finished
from sentences import sentence_problem

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.magics import TABLE
from flare_jupyter.poller import Poller
from flare_jupyter.widgets._base import LiveWidget
from polling import wait_for

AMBIGUOUS = ("job id prefix '{prefix}' matches", "give more characters")
UNKNOWN_JOB = ("does not exist on the server",)
REJECTED = ("NVFlare rejected the arguments",)
# Where releases differ. nvflare 2.5's server runs its file commands through a shell: options reach GNU head/tail
# as they are (a valid command there), and a grep pattern with shell syntax is refused by us before it is sent
# (newer servers search for it literally). Its promote_sp checks the endpoint's form before anything else.
SHELL = compat.SERVER_COMMANDS_USE_A_SHELL
SHELL_PATTERN = ("holds shell syntax", "refused") if SHELL else ()
PROMOTE_SHELL = ("sp_string must be of the format",) if compat.HAS_SERVICE_PROVIDERS else ("nothing to promote",)


def empty_frame(result, ctx):
    return isinstance(result, pd.DataFrame) and len(result) == 0


def error_row(result, ctx):
    return isinstance(result, pd.DataFrame) and (result["level"].astype(str) == "error").any()


CASES = [
    # -- %flare: connection ------------------------------------------------------------------------------------------
    magic("connect-long-path", "%flare connect $LONG_PATH", "File name too long"),
    magic("connect-nul", "%flare connect $NUL", "NUL character"),
    magic("disconnect-extra", "%flare disconnect now", "unrecognized arguments: now"),
    magic("session-control-chars", "%flare status $CONTROL", "%flare session", "unrecognized arguments"),
    magic("poc-unknown-action", "%flare poc explode", "invalid choice: 'explode'"),
    magic("poc-negative-clients", "%flare poc start -n -3", "-3"),
    magic("check-kit-long-path", "%flare check_kit $LONG_PATH", "File name too long"),
    magic("check-kit-on-a-file", "%flare check_kit {a_file}", handled=True, check=error_row),
    # -- %flare: jobs ------------------------------------------------------------------------------------------------
    magic("submit-control-chars", "%flare submit $CONTROL", "the job folder was rejected", "is not a valid folder"),
    magic("submit-relative-dotdot", "%flare submit {relative}", "the job folder was rejected", "meta."),
    magic("submit-meta-json-array", "%flare submit {array_meta}", "the job folder was rejected"),
    magic("jobs-negative-limit", "%flare jobs --limit -1", "'-1' must be between 0 and 1000000"),
    magic("jobs-huge-limit", "%flare jobs --limit 99999999999999999999", "must be between 0 and 1000000"),
    magic("jobs-nul-id-prefix", "%flare jobs --id-prefix $NUL", handled=True, check=empty_frame),
    magic("jobs-shell-name-prefix", "%flare jobs --name-prefix '$(touch {canary})'", handled=True, check=empty_frame),
    magic("meta-100k-id", "%flare meta $LONG", *UNKNOWN_JOB),
    magic("meta-unicode-id", "%flare meta $UNICODE", *UNKNOWN_JOB),
    magic("meta-ambiguous-prefix", "%flare meta {prefix}", *AMBIGUOUS),
    magic("abort-ambiguous-prefix", "%flare abort {prefix}", *AMBIGUOUS),
    magic("clone-ambiguous-prefix", "%flare clone {prefix}", *AMBIGUOUS),
    magic("delete-ambiguous-prefix", "%flare delete {prefix}", *AMBIGUOUS),
    magic("delete-glob", "%flare delete '*'", "job '*' does not exist on the server"),
    magic("download-ambiguous-prefix", "%flare download {prefix}", *AMBIGUOUS),
    magic("download-dest-is-a-file", "%flare download {job} --dest {a_file}", "File exists"),
    magic("monitor-unknown-job", "%flare monitor {unknown}", *UNKNOWN_JOB),
    magic("monitor-nan-poll-interval", "%flare monitor {job} --poll-interval nan", "'nan' must be a positive number"),
    magic("logs-ambiguous-prefix", "%flare logs {prefix}", *AMBIGUOUS),
    magic("logs-dotdot-target", "%flare logs {job} --target ../server", "../server"),
    magic("stats-shell-client", "%flare stats {job} client 'site-1;rm'", *REJECTED, "invalid target"),
    magic("errors-shell-client", "%flare errors {job} client '$(touch {canary})'", *REJECTED, "invalid target"),
    magic("reset-errors-ambiguous-prefix", "%flare reset_errors {prefix}", *AMBIGUOUS),
    magic("app-command-malformed-data", "%flare app_command {job} topic --data '[1,2'", "not valid JSON"),
    magic("apps-control-chars", "%flare apps $CONTROL", "unrecognized arguments"),
    # -- %flare: sites and files -------------------------------------------------------------------------------------
    magic("clients-extra", "%flare clients site-1", "unrecognized arguments: site-1"),
    magic("client-status-shell", "%flare client_status '$(touch {canary})'", *REJECTED, "invalid target"),
    magic("env-shell", "%flare env '; ls'", "not known to the server"),
    magic("env-unicode", "%flare env $UNICODE"),
    magic("pwd-dotdot-target", "%flare pwd ../server", *REJECTED),
    magic("ls-dotdot-path", "%flare ls server --path ../..", ".. in path name is not allowed"),
    magic("ls-absolute-path", "%flare ls server --path /etc", "absolute path is not allowed"),
    magic("ls-shell-options", "%flare ls server --options '$(touch {canary})'", "options must be a string of only"),
    magic("cat-absolute-path", "%flare cat server --file /etc/passwd", "absolute path is not allowed"),
    # nvflare 2.5's server hands options to GNU head/tail in a shell, where "-n -5" means "all but the last 5"
    magic(
        "head-negative-lines",
        "%flare head server --file log.txt --options '-n -5'",
        *([] if SHELL else ["-5"]),
        handled=SHELL,
    ),
    magic("tail-shell-file", "%flare tail server --file 'log.txt; touch {canary}'", "unsupported characters in path"),
    magic(
        "grep-dollar-paren",
        "%flare grep server --file log.txt --pattern '$(touch {canary})'",
        *SHELL_PATTERN,
        handled=not SHELL,
    ),
    magic(
        "grep-backticks",
        "%flare grep server --file log.txt --pattern '`touch {canary}`'",
        *SHELL_PATTERN,
        handled=not SHELL,
    ),
    magic("grep-invalid-regex", "%flare grep server --file log.txt --pattern '['", "["),
    magic("head-log-pipe", "%flare head_target_log server --options '| cat /etc/passwd'", "options must be a string"),
    magic("log-negative-lines", "%flare log server --options '-n -1'", *([] if SHELL else ["-1"]), handled=SHELL),
    # -- %flare: system ----------------------------------------------------------------------------------------------
    magic("restart-unknown-target", "%flare restart everything", "invalid choice: 'everything'"),
    magic("shutdown-unknown-target", "%flare shutdown nowhere", "invalid choice: 'nowhere'"),
    magic("shutdown-system-extra", "%flare shutdown_system now", "unrecognized arguments: now"),
    magic("set-timeout-nan", "%flare set_timeout nan", "'nan' must be a positive number"),
    magic("set-timeout-overflow", "%flare set_timeout 1e400", "'1e400' must be a positive number"),
    magic("list-sp-extra", "%flare list_sp extra", "unrecognized arguments: extra"),
    magic("active-sp-control-chars", "%flare get_active_sp $CONTROL", "unrecognized arguments"),
    magic("promote-sp-shell", "%flare promote_sp '$(touch {canary})'", *PROMOTE_SHELL),
    # -- %flare: widgets and analysis --------------------------------------------------------------------------------
    magic("jobs-panel-float-limit", "%flare jobs_panel --limit 1e9", "'1e9' is not a whole number"),
    magic("clients-panel-extra", "%flare clients_panel extra", "unrecognized arguments: extra"),
    magic("log-viewer-unknown-target", "%flare log_viewer site-9", "target 'site-9' is not known", handled=True),
    magic("log-viewer-negative-lines", "%flare log_viewer server --lines -1", "must be between 0 and 1000000"),
    magic("log-viewer-ambiguous-job", "%flare log_viewer server --job {prefix}", *AMBIGUOUS),
    magic("dashboard-extra", "%flare dashboard extra", "unrecognized arguments: extra"),
    magic("fedstats-ambiguous-prefix", "%flare fedstats {prefix}", *AMBIGUOUS),
    magic("metrics-control-chars", "%flare metrics $CONTROL", *UNKNOWN_JOB),
    magic("stats-history-unicode", "%flare stats_history $UNICODE", *UNKNOWN_JOB),
    # -- %flare: experiments -----------------------------------------------------------------------------------------
    magic("compare-ambiguous-prefix", "%flare compare {job} {prefix}", *AMBIGUOUS),
    magic("compare-control-chars", "%flare compare $CONTROL", *UNKNOWN_JOB),
    magic("triage-control-chars", "%flare triage $CONTROL", *UNKNOWN_JOB),
    magic("triage-unicode", "%flare triage $UNICODE", *UNKNOWN_JOB),
    magic("report-ambiguous-prefix", "%flare report {prefix}", *AMBIGUOUS),
    magic("report-save-long-path", "%flare report {job} --save $LONG_PATH", "cannot write the report there"),
    # -- cell magics -------------------------------------------------------------------------------------------------
    magic("cat-cell-control-chars", "%%flare_cat server\n{control_lines}\n", "unsupported characters in path"),
    magic("cat-cell-tab-formfeed", "%%flare_cat server\n\t\x0b\x0c\n", "the cell is empty"),
    magic("cat-cell-dotdot", "%%flare_cat server\nlog.txt\n../../etc/passwd\n", ".. in path name is not allowed"),
    magic("cat-cell-shell", "%%flare_cat server\nlog.txt; touch {canary}\n", "unsupported characters in path"),
    magic("cat-cell-no-target", "%%flare_cat\nlog.txt\n", "required: TARGET"),
    magic("app-cell-json-array", "%%flare_app_command {job} topic\n[1, 2, 3]\n", "is not running"),
    magic("app-cell-huge-json", "%%flare_app_command {job} topic\n{huge_json}\n", "is not running"),
    magic("app-cell-huge-bad-json", "%%flare_app_command {job} topic\n{huge_bad_json}\n", "not valid JSON"),
    magic("app-cell-control-in-json", '%%flare_app_command {job} topic\n{{"a": "\x07"}}\n', "not valid JSON"),
    magic("app-cell-ambiguous-job", '%%flare_app_command {prefix} topic\n{{"a": 1}}\n', *AMBIGUOUS),
    # -- Python API --------------------------------------------------------------------------------------------------
    api("api-meta-empty", 'live.get_job_meta("")', *UNKNOWN_JOB),
    api("api-meta-none", "live.get_job_meta(None)", *UNKNOWN_JOB),
    api("api-meta-int", "live.get_job_meta(123)", *UNKNOWN_JOB),
    api("api-meta-100k", "live.get_job_meta(LONG)", *UNKNOWN_JOB),
    api("api-meta-unicode", "live.get_job_meta(UNICODE)", *UNKNOWN_JOB),
    api("api-meta-nul", 'live.get_job_meta("\\x00")', *UNKNOWN_JOB),
    api("api-list-negative-limit", "live.list_jobs(limit=-1)", "limit"),
    api("api-list-str-limit", 'live.list_jobs(limit="x")', "limit must be a whole number"),
    api("api-cat-dotdot", 'live.cat_target("server", file="../../etc/passwd")', ".. in path name is not allowed"),
    api(
        "api-grep-dollar",
        'live.grep_target("server", pattern=f"$(touch {CANARY})", file="log.txt")',
        *SHELL_PATTERN,
        handled=not SHELL,
    ),
    api("api-grep-semicolon", 'live.grep_target("server", pattern=f"; touch {CANARY}", file="log.txt")', handled=True),
    api(
        "api-grep-backticks",
        'live.grep_target("server", pattern=f"`touch {CANARY}`", file="log.txt")',
        *SHELL_PATTERN,
        handled=not SHELL,
    ),
    api("api-app-command-bad-json", 'live.do_app_command(JOB, "topic", "{not json")', "is not running"),
    api("api-app-command-huge", 'live.do_app_command(JOB, "topic", HUGE)', "is not running"),
    api("api-submit-file", "live.submit_job(A_FILE)", "the job folder was rejected", "is not a valid folder"),
    api("api-submit-no-meta", "live.submit_job(NOT_A_JOB)", "the job folder was rejected", "meta."),
    api("api-submit-10k-files", "live.submit_job(MANY_FILES)", "the job folder was rejected", "meta.", max_seconds=60),
    api("api-submit-symlink", "live.submit_job(SYMLINKED)", "the job folder was rejected", "symbolic link"),
    api("api-submit-nul", 'live.submit_job("\\x00")', "the job folder was rejected"),
    api("api-connect-folder-not-kit", "fj.connect(NOT_A_JOB)", "is not an admin startup kit"),
    api("api-connect-nul", 'fj.connect("\\x00")', "NUL character"),
    api("api-connect-100k", "fj.connect(LONG)", "too long"),
    api("api-connect-str-timeout", 'fj.connect(KIT, timeout="x")', "timeout must be a positive number"),
    api("api-monitor-unknown", 'fj.monitor("nope")', "job 'nope' does not exist on the server"),
    api("api-monitor-none", "fj.monitor(None)", "job"),
    api("api-fedstats-int", "fj.fedstats(123)", "job"),
    api("api-metrics-none", "fj.metrics(None)", "job"),
    api("api-stats-history-none", "fj.stats_history(None)", "job"),
    api("api-submit-int", "fj.submit(123)", "fj.submit takes a job folder, an NVFlare Recipe or a FedJob"),
    api("api-fj-submit-no-meta", "fj.submit(NOT_A_JOB)", "the job folder was rejected", "meta."),
    api("api-run-unknown", 'fj.run("nope")', "job 'nope' does not exist on the server"),
    api("api-compare-none", "fj.compare(None)", "job"),
    api("api-triage-unknown", 'fj.triage("nope")', "job 'nope' does not exist on the server"),
    api("api-report-int", "fj.report(123)", "job"),
    api("api-report-save-nul", 'fj.report(JOB).save("\\x00")', "cannot write the report there"),
    api("api-stats-history-unknown", 'fj.stats_history("nope")', "job 'nope' does not exist on the server"),
    api("api-log-viewer-int-job", 'fj.log_viewer("server", job=123)', "job"),
    api("api-log-viewer-str-lines", 'fj.log_viewer("server", lines="x")', "lines"),
    api("api-log-viewer-unknown-target", 'fj.log_viewer("site-9")', "target 'site-9' is not known", handled=True),
    api("api-jobs-panel-str-limit", 'fj.jobs_panel(limit="x")', "limit"),
    api("api-check-kit-file", "fj.check_kit(A_FILE)", handled=True, check=error_row),
    api("api-check-kit-nul", 'fj.check_kit("\\x00")', "NUL character"),
    api("api-check-kit-100k", "fj.check_kit(LONG)", "too long"),
    # -- widgets' text fields ----------------------------------------------------------------------------------------
    widget("jobs-name-filter-html", lambda c: jobs_panel_with(c, name_filter=HTML)),
    widget("jobs-name-filter-100k", lambda c: jobs_panel_with(c, name_filter=LONG)),
    widget("jobs-id-filter-control", lambda c: jobs_panel_with(c, id_filter=CONTROL)),
    widget(
        "jobs-id-filter-prefix",
        lambda c: jobs_panel_with(c, id_filter=lambda c: c.prefix),
        check=lambda panel, c: len(panel.shown) >= 2,
    ),
    widget(
        "jobs-panel-huge-limit", lambda c: jobs_panel_with(c, limit=10**30), check=lambda p, c: p.limit.value == 100_000
    ),
    widget(
        "jobs-panel-negative-limit",
        lambda c: jobs_panel_with(c, limit=-(10**30)),
        check=lambda p, c: p.limit.value == 0,  # the box's least: 0, every job
    ),
    widget("jobs-delete-nothing-selected", lambda c: jobs_panel_click(c, "Delete"), "select a job first"),
    widget("jobs-abort-nothing-selected", lambda c: jobs_panel_click(c, "Abort"), "select a job first"),
    widget("log-pattern-invalid-regex", lambda c: log_viewer_with(c, pattern="(?P<")),
    widget("log-pattern-100k", lambda c: log_viewer_with(c, pattern=LONG)),
    widget("log-pattern-control", lambda c: log_viewer_with(c, pattern=CONTROL)),
    widget("log-pattern-html", lambda c: log_viewer_with(c, pattern=HTML)),
    widget("log-huge-lines", lambda c: log_viewer_with(c, lines=10**30), check=lambda v, c: v.lines.value == 5000),
    widget("log-target-html", lambda c: log_viewer_with(c, target=HTML), "target must be a string"),
    widget("log-job-html", lambda c: log_viewer_with(c, job=HTML), *UNKNOWN_JOB),
    widget("clients-env-nothing-selected", lambda c: clients_panel_click(c, "env_button"), "select a client first"),
    widget(
        "clients-restart-nothing-selected",
        lambda c: clients_panel_click(c, "restart_button"),
        "select a client first",
    ),
    widget("monitor-html-job-id", lambda c: monitor_of(c, HTML), "is not in the server's job list"),
    # -- last: inputs that, when accepted, replace or retune the kernel's session ------------------------------------
    magic("connect-foreign-user", "%flare connect {kit} --user '$(id)'", "$(id)"),
    api("api-connect-nan-timeout", 'fj.connect(KIT, timeout=float("nan"))', "timeout must be a positive number"),
    api("api-set-timeout-nan", 'live.set_timeout(float("nan"))', "timeout must be a positive number"),
]


# -- fixtures ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared(poc_system, finished_job, tmp_path_factory):
    """What the cases refer to: the bad folders, a canary file, and an id prefix two jobs share (clones of the
    finished job, aborted at once, until two ids start alike; deleted at the end)."""
    s = fj.current() or fj.connect(poc_system.kit)
    root = tmp_path_factory.mktemp("hostile")
    folders = job_folders(root / "folders")
    clones = []
    while not longest_shared_prefix([j["job_id"] for j in s.list_jobs()]):
        assert len(clones) < 16, "17 uuids always share a first hex digit"
        clones.append(s.clone_job(finished_job))
        s.abort_job(clones[-1])
    wait_all_finished(s)
    prefix = longest_shared_prefix([j["job_id"] for j in s.list_jobs()])
    big = huge_json()
    values = {
        "job": finished_job,
        "prefix": prefix,
        "unknown": str(uuid.uuid4()),
        "canary": str(root / "canary"),
        "kit": poc_system.kit,
        "huge_json": big,
        "huge_bad_json": big[:-1],
        "control_lines": CONTROL_LINES,
        **{k: str(v) for k, v in folders.items()},
    }
    yield SimpleNamespace(values=values, prefix=prefix, job=finished_job, canary=Path(values["canary"]), **folders)
    s = fj.current() or fj.connect(poc_system.kit)
    wait_all_finished(s)
    delete_all(s, clones)


@pytest.fixture
def notebook(ip, live, shared):
    """The notebook variables the cells use."""
    v = shared.values
    names = {
        "fj": fj,
        "live": live,
        "JOB": v["job"],
        "PREFIX": v["prefix"],
        "KIT": v["kit"],
        "CANARY": v["canary"],
        "LONG": LONG,
        "LONG_PATH": LONG_PATH,
        "CONTROL": CONTROL,
        "NUL": "\x00",
        "UNICODE": UNICODE,
        "HTML": HTML,
        "HUGE": {"data": v["huge_json"]},
        "NOT_A_JOB": v["not_a_job"],
        "A_FILE": v["a_file"],
        "MANY_FILES": v["many_files"],
        "SYMLINKED": v["symlinked"],
    }
    ip.user_ns.update(names)
    yield
    for name in names:
        ip.user_ns.pop(name, None)


def snapshot(s) -> tuple:
    """What must not change: the job list (ids, names, statuses, submit times) and the connected clients."""
    wait_all_finished(s)
    jobs = sorted((j["job_id"], j["job_name"], j["status"], j["submit_time"]) for j in s.list_jobs())
    return jobs, sorted(c.name for c in s.get_connected_client_list())


# -- the campaign --------------------------------------------------------------------------------------------------
def _short(text) -> str:
    text = str(text)
    return text if len(text) < 1500 else text[:1500] + f"... ({len(text)} characters)"


def _one_exception_line(result, out: str) -> str:
    """A Python call that failed: one line naming the exception, no traceback."""
    exc = result.error_in_exec
    assert exc is not None, f"accepted without a word, returned {_short(repr(result.result))}"
    assert "Traceback" not in out, f"{type(exc).__name__} shown with a traceback:\n{_short(out)}"
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"{len(lines)} lines:\n{_short(out)}"
    assert "\n" not in str(exc)
    assert lines[0].startswith(f"{type(exc).__name__}: "), _short(lines[0])
    return lines[0]


def _check_handled(case, value, ctx) -> None:
    """An input the product may accept: a widget shows at most one banner line (escaped), and ``check`` holds."""
    if isinstance(value, LiveWidget):
        try:
            assert "\n" not in value.message, _short(value.message)
            for part in case.says:
                assert part.format(**ctx.values) in value.message, _short(value.message)
            for html in html_of(value):
                assert HTML not in html, f"unescaped input in the widget's HTML: {_short(html)}"
        finally:
            value.close()
    else:
        assert not case.says, "says is for widget banners and error lines"
    if case.check is not None:
        assert case.check(value, ctx), _short(repr(value))


def shown(case, value):
    """``value``; a widget expected to say something once it has said it (its banner comes with the first update,
    which the widgets' background thread makes: polled, with a deadline)."""
    if isinstance(value, LiveWidget) and case.says:
        try:
            wait_for(lambda: value.message, timeout=30)
        except AssertionError:
            pass  # no banner: the check below says so, with what the widget shows
    return value


#: Every one-line error and banner the campaign produced, with the case it came from (checked at the end).
LINES: list[tuple[str, str]] = []


def _answer(case, cell, ctx) -> None:
    """Give the input; assert the answer is one clear line (or, for a handled input, what ``check`` says)."""
    if case.kind == "widget":
        value = shown(case, case.source(ctx))
        if isinstance(value, LiveWidget) and value.message:
            LINES.append((case.id, value.message))
        _check_handled(case, value, ctx)
        return
    source = case.source.format(**ctx.values) if case.kind == "magic" else case.source
    result, out = cell(source)
    if case.handled:
        assert result.success, _short(out)
        value = shown(case, result.result)
        if isinstance(value, LiveWidget) and value.message:
            LINES.append((case.id, value.message))
        _check_handled(case, value, ctx)
    elif case.kind == "magic":
        assert isinstance(result.error_in_exec, UsageError), f"{result.error_in_exec!r}: {_short(out)}"
        line = usage_error_line(out)
        LINES.append((case.id, line))
        for part in case.says:
            assert part.format(**ctx.values) in line, _short(line)
    else:
        line = _one_exception_line(result, out)
        LINES.append((case.id, line))
        for part in case.says:
            assert part in line, _short(line)


def _session_works(cell, live, previous) -> None:
    assert fj.current() is previous and not previous.closed, "the kernel's session was replaced or closed"
    after, after_out = cell("%flare jobs")
    assert after.success, _short(after_out)
    assert isinstance(after.result, pd.DataFrame) and len(after.result) >= 1
    assert live.list_jobs()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input(case, cell, live, shared, notebook, poc_system):
    """The three promises, each checked (and reported) even when another one failed."""
    before = snapshot(live)
    assert before[0] and before[1], "the finished job and both clients should be there"
    previous = fj.current()
    ctx = SimpleNamespace(live=live, poller=Poller(session_fn=lambda: live, autostart=False), **vars(shared))
    broken = []
    started = time.monotonic()
    try:
        _answer(case, cell, ctx)
    except AssertionError as e:
        broken.append(f"not one clear line: {e}")
    # the line reads as one sentence: no phrase said twice, no prose in a slot meant for a value, no unfilled slot
    broken += [
        f"not one sentence ({why}): {line[:300]}"
        for c, line in LINES
        if c == case.id and (why := sentence_problem(line))
    ]
    elapsed = time.monotonic() - started
    if elapsed > case.max_seconds:
        broken.append(f"took {elapsed:.1f} s")
    poller = Poller.shared()  # a widget a magic opened was closed: its background thread ends
    if poller.running:
        poller.wake()
        wait_for(lambda: not poller.running, timeout=30)
    if shared.canary.exists():
        broken.append("a shell ran the input (the canary file exists)")
    s = fj.current() or fj.connect(poc_system.kit)
    if snapshot(s) != before:
        broken.append(f"the server changed: {_short(snapshot(s))} (was {_short(before)})")
    try:
        _session_works(cell, live, previous)
    except AssertionError as e:
        broken.append(f"the session does not work as before: {e}")
    if case.max_seconds > 30:  # a slow input: its time is part of the report (pytest -rA or -s shows it)
        print(f"{case.id}: answered in {elapsed:.1f} s")
    assert not broken, "\n".join(broken)


def _operation_of(source: str) -> str:
    first = source.split("\n", 1)[0].split()
    if first[0] == "%%flare_cat":
        return "cat_target"
    if first[0] == "%%flare_app_command":
        return "do_app_command"
    assert first[0] == "%flare", source
    return TABLE.lookup(first[1]).name


def test_every_flare_operation_has_a_hostile_case():
    covered = {_operation_of(c.source) for c in CASES if c.kind == "magic"}
    missing = sorted(set(TABLE.operations) - covered)
    assert not missing, f"operations without a hostile input: {missing}"


def test_the_campaign_is_big_and_its_inputs_distinct():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    sources = [c.source for c in CASES if isinstance(c.source, str)]
    assert len(set(sources)) == len(sources)
    assert {c.kind for c in CASES} == {"magic", "api", "widget"}
