"""The ``%flare`` operations: one argparse parser and one small handler each.

Every handler calls a public function users can also call from Python (a ``KernelSession`` method, a ``frames``
conversion, ``poc.start``...), so the magic stays a thin layer. User mistakes raise ``UsageError`` (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

from IPython.core.error import UsageError

from . import frames
from .render import Message, TextResult


class ToolComplaint(UsageError):
    """The target's shell tool answered with its own one-line complaint (no such file, bad option...)."""

    def _render_traceback_(self):  # IPython hides the traceback of UsageError itself only, not of subclasses
        return [f"UsageError: {self}"]


class HelpShown(Exception):
    """``-h`` was given: the parser already printed the help."""


class FlareArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose mistakes raise ``UsageError`` instead of exiting the kernel."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} -h)")

    def exit(self, status=0, message=None):
        if status:
            raise UsageError(message or f"{self.prog}: invalid arguments")
        raise HelpShown()


@dataclass
class Operation:
    name: str
    aliases: tuple[str, ...]
    summary: str
    group: str
    parser: FlareArgumentParser
    handler: object
    needs_session: bool = True
    extra: dict = field(default_factory=dict)


OPERATIONS: dict[str, Operation] = {}
#: Defaults the magics' configuration (``%config FlareMagics.*``) keeps up to date.
settings = SimpleNamespace(poll_interval=2.0, progress=True)
ALIASES: dict[str, str] = {}


def _arg(*args, **kwargs):
    """Declare one argparse argument on an operation (decorators read top to bottom)."""

    def deco(fn):
        fn.__dict__.setdefault("_flare_args", []).insert(0, (args, kwargs))
        return fn

    return deco


def operation(name: str, *aliases: str, group: str, needs_session: bool = True):
    """Register ``fn(session, args)`` as ``%flare NAME``; its docstring's first line is the summary."""

    def deco(fn):
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        parser = FlareArgumentParser(prog=f"%flare {name}", description=(fn.__doc__ or "").strip(), add_help=True)
        for args, kwargs in fn.__dict__.get("_flare_args", []):
            parser.add_argument(*args, **kwargs)
        parser.add_argument("-o", "--out", metavar="NAME", help="also store the result in this notebook variable")
        if aliases:
            parser.epilog = "aliases: " + ", ".join(aliases)
        OPERATIONS[name] = Operation(name, aliases, summary, group, parser, fn, needs_session)
        for a in aliases:
            ALIASES[a] = name
        return fn

    return deco


def lookup(word: str) -> Operation:
    name = ALIASES.get(word, word)
    if name in OPERATIONS:
        return OPERATIONS[name]
    close = difflib.get_close_matches(word, list(OPERATIONS) + list(ALIASES), n=1)
    hint = f": did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown %flare operation {word!r}{hint} (%flare help lists them)")


# -- helpers -----------------------------------------------------------------------------------------------------
def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0 or value > 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1000000")
    return value


def _nonblank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def resolve_job(session, text: str) -> str:
    """A job id from a full id or an unambiguous prefix of one (as git does for commits)."""
    if not isinstance(text, str):
        from .errors import FlareError

        raise FlareError(f"a job id is a string (e.g. '3f2a...' from %flare list_jobs), not {type(text).__name__}")
    text = text.strip()
    if len(text) >= 36:
        return text
    matches = [j["job_id"] for j in session.list_jobs(id_prefix=text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(m[:13] for m in matches[:4])
        raise UsageError(f"job id prefix {text!r} matches {len(matches)} jobs ({shown}...): give more characters")
    return text  # unknown: let the server say so


@contextlib.contextmanager
def _starting(session, job: str, what: str):
    """A job the server lists as running may not have its own process up yet (1-3 s after it starts), and NVFlare
    then answers "no such job": say that it is starting, not that it does not exist."""
    from . import compat

    try:
        yield
    except compat.JobNotFound:
        try:
            status = str(session.get_job_meta(job).get("status", ""))
        except Exception:
            status = ""
        if status in ("DISPATCHED", "RUNNING"):
            raise UsageError(
                f"job {job} is starting ({status}): its live {what} are not available yet, try again in a few seconds"
            ) from None
        raise


def _targets(args) -> tuple[str, list[str] | None]:
    return args.target_type, (args.targets or None)


TARGET_TYPES = ("server", "client", "all")
JOB = {"metavar": "JOB", "type": _nonblank, "help": "job id (or a unique prefix of one)"}
TARGET = {"metavar": "TARGET", "type": _nonblank, "help": "'server' or a client name"}
OPTIONS = {"metavar": "OPTS", "default": None, "help": "options passed to the command, e.g. --options='-n 20'"}


# -- connection ---------------------------------------------------------------------------------------------------
@operation("connect", group="connection", needs_session=False)
@_arg(
    "kit", nargs="?", default=None, help="admin startup kit folder (default: $FLARE_STARTUP_KIT or the embedded system)"
)
@_arg("--user", default=None, help="user name (default: the identity in the kit's certificate)")
@_arg("--insecure", action="store_true", help="open an insecure session (user 'admin')")
@_arg("--timeout", type=_positive, default=10.0, help="seconds to wait for the server (default 10)")
def _connect(_, args):
    """Connect the kernel to a FLARE system through a provisioned startup kit."""
    from .session import connect

    return connect(args.kit, username=args.user, secure=not args.insecure, timeout=args.timeout)


@operation("disconnect", group="connection", needs_session=False)
def _disconnect(_, args):
    """Close the kernel's session."""
    from .session import disconnect

    disconnect()
    return Message("disconnected")


@operation("session", "status", group="connection")
def _session_info(session, args):
    """Show the current session: server, user, mode, NVFlare version, connected clients."""
    return session


@operation("poc", group="connection", needs_session=False)
@_arg("action", choices=("start", "stop", "status"), help="start, stop or show the embedded local system")
@_arg("-n", "--clients", type=int, default=2, help="number of clients (start; default 2)")
@_arg("--workspace", default=None, help="workspace folder (start; default: a fresh one in the user cache)")
@_arg("--timeout", type=_positive, default=120.0, help="seconds to wait until every client is connected")
def _poc(_, args):
    """Start, stop or inspect the embedded local FLARE system (NVFlare POC mode, free ports)."""
    from . import poc

    if args.action == "start":
        say = print if settings.progress else None
        return poc.start(n_clients=args.clients, workspace=args.workspace, timeout=args.timeout, progress=say)
    if args.action == "stop":
        running = poc.current()
        poc.stop()
        return Message("embedded FLARE system stopped" if running else "no embedded FLARE system was running")
    return poc.status() or Message("no embedded FLARE system is running (%flare poc start)")


# -- jobs ---------------------------------------------------------------------------------------------------------
@operation("submit_job", "submit", group="jobs")
@_arg("path", type=_nonblank, help="job folder (the one holding meta.json)")
def _submit(session, args):
    """Submit a job folder; returns the new job id."""
    return session.submit_job(args.path)


@operation("list_jobs", "jobs", group="jobs")
@_arg("-d", "--detailed", action="store_true", help="every field of each job's meta")
@_arg("-l", "--limit", type=_count, default=None, help="at most this many jobs")
@_arg("--name-prefix", default=None, help="only jobs whose name starts with this")
@_arg("--id-prefix", default=None, help="only jobs whose id starts with this")
@_arg("-r", "--reverse", action="store_true", help="newest first")
def _list_jobs(session, args):
    """List jobs as a DataFrame (submit/start time as datetimes, duration as timedelta, status as category)."""
    jobs = session.list_jobs(
        detailed=args.detailed,
        limit=args.limit or None,
        id_prefix=args.id_prefix,
        name_prefix=args.name_prefix,
        reverse=args.reverse,
    )
    return frames.jobs_frame(jobs)


@operation("get_job_meta", "meta", group="jobs")
@_arg("job", **JOB)
def _meta(session, args):
    """A job's meta data (dict)."""
    return session.get_job_meta(resolve_job(session, args.job))


@operation("abort_job", "abort", group="jobs")
@_arg("job", **JOB)
def _abort(session, args):
    """Abort a job (cancels it if not started yet)."""
    job = resolve_job(session, args.job)
    return Message(session.abort_job(job) or f"abort requested for job {job}")


@operation("clone_job", "clone", group="jobs")
@_arg("job", **JOB)
def _clone(session, args):
    """Submit a copy of a job; returns the new job id."""
    return session.clone_job(resolve_job(session, args.job))


@operation("delete_job", "delete", group="jobs")
@_arg("job", **JOB)
def _delete(session, args):
    """Delete a finished job from the server's job store."""
    job = resolve_job(session, args.job)
    session.delete_job(job)
    return Message(f"deleted job {job}")


@operation("download_job_result", "download", group="jobs")
@_arg("job", **JOB)
@_arg("--dest", default=None, help="folder to move the result into (default: the kit's transfer folder)")
def _download(session, args):
    """Download a finished job's result; returns the folder it was written to."""
    return session.download_job_result(resolve_job(session, args.job), args.dest)


@operation("monitor_job", "monitor", group="jobs")
@_arg("job", **JOB)
@_arg("--wait", action="store_true", help="block the cell until the job ends (Ctrl-C stops waiting)")
@_arg("--text", action="store_true", help="text progress that blocks the cell, instead of the live widget")
@_arg("--timeout", type=_positive, default=None, help="with --wait or --text: stop waiting after this many seconds")
@_arg(
    "--poll-interval",
    type=_positive,
    default=None,
    help="with --text: seconds between polls (default: FlareMagics.poll_interval)",
)
def _monitor(session, args):
    """Watch a job live: a widget that updates by itself while the kernel stays free (text progress in a terminal)."""
    from .widgets._base import widgets_render_here

    if args.text or not widgets_render_here():
        return _monitor_text(session, args)
    from IPython.display import display

    from .widgets import monitor

    m = monitor(args.job)
    if not args.wait:
        return m
    display(m)
    try:
        m.wait(args.timeout)
    except KeyboardInterrupt:
        return Message(f"stopped waiting for job {m.job_id}; it keeps running on the server")
    return None


def _monitor_text(session, args):
    """Blocking text progress (terminals, --text): NVFlare's own monitor loop, one line per poll."""
    from IPython.display import display, update_display

    from .progress import job_progress, progress_text

    job = resolve_job(session, args.job)
    session.get_job_meta(job)  # an unknown job fails here, in one line, before any progress is shown
    started = time.monotonic()
    handle = f"flare-monitor-{job}-{started}"
    show = display if settings.progress else (lambda *a, **k: None)
    update = update_display if settings.progress else (lambda *a, **k: None)
    show(Message(f"job {job}: waiting for status ..."), display_id=handle)

    def on_poll(_session, job_id, meta, *a, **k):
        p = job_progress(job_id, None, meta=meta)
        update(Message(progress_text(p, time.monotonic() - started)), display_id=handle)
        return True

    try:
        rc = session.monitor_job(job, args.timeout or 0, args.poll_interval or settings.poll_interval, on_poll)
    except KeyboardInterrupt:
        return Message(f"stopped watching job {job}; it keeps running on the server")
    update(
        Message(f"job {job}: {session.get_job_meta(job).get('status')} after {time.monotonic() - started:.0f} s"),
        display_id=handle,
    )
    return rc


@operation("job_log", "logs", group="jobs")
@_arg("job", **JOB)
@_arg("--target", default="server", type=_nonblank, help="'server' (default) or a client name")
def _job_log(session, args):
    """A job's log on one target, as text."""
    job = resolve_job(session, args.job)
    return TextResult(session.job_log(job, args.target), title=f"log of job {job} on {args.target}")


@operation("show_stats", "stats", group="jobs")
@_arg("job", **JOB)
@_arg("target_type", nargs="?", default="server", choices=("server", "client"), help="server (default) or client")
@_arg("targets", nargs="*", help="client names (client only; default: all)")
def _stats(session, args):
    """A running job's statistics on the server or clients, as a DataFrame (target, component, key, value)."""
    job = resolve_job(session, args.job)
    with _starting(session, job, "stats"):
        return frames.stats_frame(session.show_stats(job, *_targets(args)))


@operation("show_errors", "errors", group="jobs")
@_arg("job", **JOB)
@_arg("target_type", nargs="?", default="server", choices=("server", "client"), help="server (default) or client")
@_arg("targets", nargs="*", help="client names (client only; default: all)")
def _errors(session, args):
    """A running job's errors on the server or clients, as a DataFrame (empty when there are none)."""
    job = resolve_job(session, args.job)
    with _starting(session, job, "errors"):
        return frames.errors_frame(session.show_errors(job, *_targets(args)))


@operation("reset_errors", group="jobs")
@_arg("job", **JOB)
def _reset_errors(session, args):
    """Clear a running job's errors on every target."""
    job = resolve_job(session, args.job)
    session.reset_errors(job)
    return Message(f"errors of job {job} cleared")


@operation("do_app_command", "app_command", group="jobs")
@_arg("job", **JOB)
@_arg("topic", type=_nonblank, help="command topic the job's app understands")
@_arg(
    "--data",
    default=None,
    help="JSON command data. IPython does not expand $variables on a line holding JSON braces: put the JSON in "
    "the %%%%flare_app_command JOB TOPIC cell magic instead",
)
def _app_command(session, args):
    """Send a command to a running job's app; returns its answer."""
    data = parse_json(args.data) if args.data else None
    return session.do_app_command(resolve_job(session, args.job), args.topic, data)


def parse_json(text: str):
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f"command data is not valid JSON: {e}") from None


@operation("get_available_apps_to_upload", "apps", group="jobs")
def _apps(session, args):
    """Job folders in the startup kit's upload (transfer) folder."""
    return session.get_available_apps_to_upload()


# -- sites --------------------------------------------------------------------------------------------------------
@operation("get_connected_client_list", "clients", group="sites")
def _clients(session, args):
    """Connected clients with their last connect time, as a DataFrame."""
    return frames.clients_frame(session.get_connected_client_list())


@operation("get_client_job_status", "client_status", group="sites")
@_arg("clients", nargs="*", help="client names (default: all)")
def _client_status(session, args):
    """What job each client runs, as a DataFrame."""
    return frames.client_job_status_frame(session.get_client_job_status(args.clients or None))


@operation("get_client_env", "env", group="sites")
@_arg("clients", nargs="*", help="client names (default: all)")
def _client_env(session, args):
    """Each client's environment (workspace, server URL, secure mode), as a DataFrame."""
    return frames.client_env_frame(session.get_client_env(args.clients or None))


@operation("get_working_directory", "pwd", group="sites")
@_arg("target", **TARGET)
def _pwd(session, args):
    """The working directory of the server or a client."""
    return TextResult(session.get_working_directory(args.target))


#: The shell tool behind each file operation: its one-line complaints ("head: invalid number of lines") are errors.
TOOLS = {
    "ls_target": "ls",
    "cat_target": "cat",
    "head_target": "head",
    "tail_target": "tail",
    "grep_target": "grep",
    "head_target_log": "head",
    "tail_target_log": "tail",
}


def _file_op(method: str, file_required: bool):
    def handler(session, args):
        call = getattr(session, method)
        if method == "grep_target":
            text = call(args.target, args.options, args.pattern, args.file)
        elif file_required:
            text = call(args.target, args.options, args.file)
        elif method == "ls_target":
            text = call(args.target, args.options, args.path)
        else:
            text = call(args.target, args.options)
        tool = TOOLS.get(method)
        if isinstance(text, str) and tool and text.startswith(f"{tool}: ") and "\n" not in text.strip():
            said = text.strip()[len(tool) + 2 :]
            if method == "grep_target":
                said += f" (pattern {args.pattern!r})"
            raise ToolComplaint(f"%flare {method}: {tool} on {args.target} said: {said}")
        return TextResult(text)

    return handler


def _register_file_ops():
    specs = [
        ("ls_target", ("ls",), "List files on the server or a client.", False),
        ("cat_target", ("cat",), "Show a file on the server or a client.", True),
        ("head_target", ("head",), "Show the first lines of a file on a target.", True),
        ("tail_target", ("tail",), "Show the last lines of a file on a target.", True),
        ("grep_target", ("grep",), "Search a file on a target for a pattern.", True),
        ("head_target_log", (), "Show the first lines of a target's log.txt.", False),
        ("tail_target_log", ("log",), "Show the last lines of a target's log.txt.", False),
    ]
    for method, aliases, doc, file_required in specs:
        handler = _file_op(method, file_required)
        handler.__doc__ = doc
        handler = _arg("--options", **OPTIONS)(handler)
        if method == "ls_target":
            handler = _arg("--path", default=None, help="folder or file to list")(handler)
        if file_required:
            handler = _arg("--file", "-f", required=True, type=_nonblank, help="file, relative to the target's folder")(
                handler
            )
        if method == "grep_target":
            handler = _arg("--pattern", "-p", required=True, type=_nonblank, help="the pattern to search for")(handler)
        handler = _arg("target", **TARGET)(handler)
        operation(method, *aliases, group="files")(handler)


_register_file_ops()


# -- system -------------------------------------------------------------------------------------------------------
@operation("restart", group="system")
@_arg("target_type", choices=TARGET_TYPES, help="server, client or all")
@_arg("clients", nargs="*", help="client names (client only; default: all)")
def _restart(session, args):
    """Restart the server, clients or everything, and wait until they are back."""
    return session.restart(args.target_type, args.clients or None)


@operation("shutdown", group="system")
@_arg("target_type", choices=TARGET_TYPES, help="server, client or all")
@_arg("clients", nargs="*", help="client names (client only; default: all)")
def _shutdown(session, args):
    """Shut down the server, clients or everything."""
    return session.shutdown(args.target_type, args.clients or None)


@operation("shutdown_system", group="system")
def _shutdown_system(session, args):
    """Shut down the whole FLARE system (server and all clients)."""
    session.shutdown_system()
    return Message("FLARE system shut down")


@operation("set_timeout", group="system")
@_arg("seconds", type=_positive, help="how long the server waits for clients' answers")
def _set_timeout(session, args):
    """Set this session's command timeout (seconds)."""
    session.set_timeout(args.seconds)
    return Message(f"command timeout set to {args.seconds:g} s")


@operation("list_sp", group="system")
def _list_sp(session, args):
    """Service providers (servers) of the system, as a DataFrame."""
    return frames.sp_frame(session.list_sp())


@operation("get_active_sp", group="system")
def _active_sp(session, args):
    """The active service provider (server)."""
    return session.get_active_sp()


@operation("promote_sp", group="system")
@_arg("sp", type=_nonblank, help="service provider end point, e.g. host:fl_port:admin_port")
def _promote_sp(session, args):
    """Make another service provider the active one (HA systems with an overseer only)."""
    return session.promote_sp(args.sp)


GROUPS = {
    "connection": "Connection and the embedded system",
    "jobs": "Jobs",
    "sites": "Server and clients",
    "files": "Files and logs on a target",
    "system": "System",
    "widgets": "Live widgets (they update by themselves; the kernel stays free)",
    "analysis": "Results as DataFrames with plots",
}


def help_text() -> str:
    """Every operation, grouped, with its aliases and summary."""
    lines = ["%flare OPERATION [ARGS] [-o NAME]    (%flare help OP, or %flare OP -h, for an operation's arguments)"]
    for group, title in GROUPS.items():
        lines.append(f"\n{title}:")
        for op in OPERATIONS.values():
            if op.group == group:
                names = op.name + (f" ({', '.join(op.aliases)})" if op.aliases else "")
                lines.append(f"  {names:<44} {op.summary}")
    lines.append("\nCell magics:")
    lines.append(f"  {'%%flare_cat TARGET [--options OPTS]':<44} cat every file named in the cell (one per line)")
    lines.append(f"  {'%%flare_app_command JOB TOPIC':<44} send the cell's JSON to a running job's app")
    return "\n".join(lines)


from . import kit_commands, widget_commands  # noqa: E402,F401  (register check_kit and the widget operations)
