"""``%flare`` operations on jobs: submit, list, meta, abort, clone, delete, download, monitor, logs, stats, errors,
app commands."""

from __future__ import annotations

import os

from IPython.core.error import UsageError
from IPython.display import display

from .. import compat, frames
from ..inline import widgets_render_here
from ..render import Message, TextResult
from ..runs import submit as submit_run
from ..session import delete_when_stored, job_starting, resolve_job
from ..widgets import monitor as monitor_widget
from ..widgets.textmonitor import watch
from .registry import JOB, Group, arg, count, nonblank, parse_json, positive, seconds_or_zero

JOBS = Group("jobs", "Jobs")
STATS_TARGETS = [
    arg("target_type", nargs="?", default="server", choices=("server", "client"), help="server (default) or client"),
    arg("targets", nargs="*", help="client names (client only; default: all)"),
]


def _targets(args) -> tuple[str, list[str] | None]:
    return args.target_type, (args.targets or None)


@JOBS.operation(
    "submit_job",
    "submit",
    args=[
        arg(
            "path",
            type=nonblank,
            help="a notebook variable holding a Recipe or FedJob, else a job folder (the one holding meta.json)",
        )
    ],
)
def submit(session, args):
    """Submit a Recipe or FedJob held in a notebook variable, or a job folder; returns its Run (its job id)."""
    namespace = getattr(args, "user_ns", {})
    held = namespace.get(args.path)
    if compat.job_kind(held):
        return submit_run(held)
    if args.path in namespace and not isinstance(held, (str, os.PathLike)) and not os.path.isdir(args.path):
        raise UsageError(
            f"{args.path} holds a {type(held).__name__}, not an NVFlare Recipe or FedJob (nor is it a job folder)"
        )
    return submit_run(held if isinstance(held, (str, os.PathLike)) else args.path)


@JOBS.operation(
    "list_jobs",
    "jobs",
    args=[
        arg("-d", "--detailed", action="store_true", help="every field of each job's meta"),
        arg("-l", "--limit", type=count, default=None, help="at most this many jobs (0: all)"),
        arg("--name-prefix", default=None, help="only jobs whose name starts with this"),
        arg("--id-prefix", default=None, help="only jobs whose id starts with this"),
        arg("-r", "--reverse", action="store_true", help="newest first"),
    ],
)
def list_jobs(session, args):
    """List jobs as a DataFrame (submit/start time as datetimes, duration as timedelta, status as category)."""
    jobs = session.list_jobs(
        detailed=args.detailed,
        limit=args.limit or None,
        id_prefix=args.id_prefix,
        name_prefix=args.name_prefix,
        reverse=args.reverse,
    )
    return frames.jobs_frame(jobs)


@JOBS.operation("get_job_meta", "meta", args=[arg("job", **JOB)])
def meta(session, args):
    """A job's meta data (dict)."""
    return session.get_job_meta(resolve_job(session, args.job))


@JOBS.operation("abort_job", "abort", args=[arg("job", **JOB)])
def abort(session, args):
    """Abort a job (cancels it if not started yet)."""
    job = resolve_job(session, args.job)
    return Message(session.abort_job(job) or f"abort requested for job {job}")


@JOBS.operation("clone_job", "clone", args=[arg("job", **JOB)])
def clone(session, args):
    """Submit a copy of a job; returns the new job id."""
    return session.clone_job(resolve_job(session, args.job))


@JOBS.operation("delete_job", "delete", args=[arg("job", **JOB)])
def delete(session, args):
    """Delete a finished job from the server's job store (tried again for a few seconds while the server fails it
    inside: a job that has just ended may still be being stored)."""
    job = resolve_job(session, args.job)
    delete_when_stored(session, job)
    return Message(f"deleted job {job}")


@JOBS.operation(
    "download_job_result",
    "download",
    args=[
        arg("job", **JOB),
        arg("--dest", default=None, help="folder to move the result into (default: the kit's transfer folder)"),
    ],
)
def download(session, args):
    """Download a finished job's result; returns the folder it was written to."""
    return session.download_job_result(resolve_job(session, args.job), args.dest)


@JOBS.operation(
    "monitor_job",
    "monitor",
    args=[
        arg("job", **JOB),
        arg("--wait", action="store_true", help="block the cell until the job ends (Ctrl-C stops waiting)"),
        arg("--text", action="store_true", help="text progress that blocks the cell, instead of the live widget"),
        arg(
            "--timeout",
            type=seconds_or_zero,
            default=0.0,
            help="with --wait or --text: stop waiting after this many seconds (0, the default: never)",
        ),
        arg(
            "--poll-interval",
            type=positive,
            default=None,
            help="with --text: seconds between polls (default: FlareMagics.poll_interval)",
        ),
    ],
)
def monitor(session, args):
    """Watch a job live: a widget that updates by itself while the kernel stays free (text progress in a terminal).
    With --wait (or --text, or in a terminal) it blocks and returns NVFlare's MonitorReturnCode."""
    if args.text or not widgets_render_here():
        job = resolve_job(session, args.job)
        try:
            return watch(session, job, args.timeout, args.poll_interval)
        except KeyboardInterrupt:
            return Message(f"stopped watching job {job}; it keeps running on the server")
    m = monitor_widget(args.job)
    if not args.wait:
        return m
    display(m)
    try:
        return m.wait(args.timeout or None)
    except KeyboardInterrupt:
        return Message(f"stopped waiting for job {m.job_id}; it keeps running on the server")


@JOBS.operation(
    "job_log",
    "logs",
    args=[arg("job", **JOB), arg("--target", default="server", type=nonblank, help="'server' (default) or a client")],
)
def job_log(session, args):
    """A job's log on one target, as text."""
    job = resolve_job(session, args.job)
    return TextResult(session.job_log(job, args.target), title=f"log of job {job} on {args.target}")


@JOBS.operation("show_stats", "stats", args=[arg("job", **JOB), *STATS_TARGETS])
def stats(session, args):
    """A running job's statistics on the server or clients, as a DataFrame (target, component, key, value)."""
    job = resolve_job(session, args.job)
    with job_starting(session, job, "stats"):
        return frames.stats_frame(session.show_stats(job, *_targets(args)))


@JOBS.operation("show_errors", "errors", args=[arg("job", **JOB), *STATS_TARGETS])
def errors(session, args):
    """A running job's errors on the server or clients, as a DataFrame (empty when there are none)."""
    job = resolve_job(session, args.job)
    with job_starting(session, job, "errors"):
        return frames.errors_frame(session.show_errors(job, *_targets(args)))


@JOBS.operation("reset_errors", args=[arg("job", **JOB)])
def reset_errors(session, args):
    """Clear a running job's errors (NVFlare clears the server's; each client keeps its last ones until newer come)."""
    job = resolve_job(session, args.job)
    session.reset_errors(job)
    return Message(f"errors of job {job} reset on the server (NVFlare's clients keep theirs until newer ones come)")


@JOBS.operation(
    "do_app_command",
    "app_command",
    args=[
        arg("job", **JOB),
        arg("topic", type=nonblank, help="command topic the job's app understands"),
        arg(
            "--data",
            default=None,
            help="JSON command data. IPython does not expand $variables on a line holding JSON braces: put the JSON "
            "in the %%%%flare_app_command JOB TOPIC cell magic instead",
        ),
    ],
)
def app_command(session, args):
    """Send a command to a running job's app; returns its answer."""
    data = parse_json(args.data) if args.data else None
    return session.do_app_command(resolve_job(session, args.job), args.topic, data)


@JOBS.operation("get_available_apps_to_upload", "apps")
def apps(session, args):
    """Job folders in the startup kit's upload (transfer) folder."""
    return session.get_available_apps_to_upload()
