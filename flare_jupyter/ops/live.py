"""``%flare`` operations that open live widgets, and those that return results to explore (DataFrames, plots)."""

from __future__ import annotations

from .. import analysis, widgets
from .registry import JOB, TARGET, Group, arg, count

WIDGETS = Group("widgets", "Live widgets (they update by themselves; the kernel stays free)")
ANALYSIS = Group("analysis", "Results as DataFrames with plots")


@WIDGETS.operation(
    "jobs_panel", "jobs_widget", args=[arg("--limit", type=count, default=50, help="rows shown (0: all jobs)")]
)
def jobs_panel(session, args):
    """The jobs as a live table with filters, and monitor / abort / clone / delete / download of the selected job."""
    return widgets.jobs_panel(limit=args.limit)


@WIDGETS.operation("clients_panel", "clients_widget")
def clients_panel(session, args):
    """Connected clients live: last connect time, their jobs, env; restart or shut one down."""
    return widgets.clients_panel()


@WIDGETS.operation(
    "log_viewer",
    "log_widget",
    args=[
        arg("target", nargs="?", default="server", type=TARGET["type"], help="'server' (default) or a client name"),
        arg("--job", metavar="JOB", default=None, type=JOB["type"], help="show this job's log on TARGET instead"),
        arg("--lines", type=count, default=100, help="lines shown (default 100)"),
        arg("--follow", action="store_true", help="keep appending new lines at each tick"),
    ],
)
def log_viewer(session, args):
    """The tail of a target's (or a job's) log with a grep filter and a follow mode."""
    return widgets.log_viewer(args.target, job=args.job, lines=max(1, args.lines), follow=args.follow)


@WIDGETS.operation("dashboard")
def dashboard(session, args):
    """The connection at a glance, with the jobs, clients and server-log panels in tabs."""
    return widgets.dashboard()


@ANALYSIS.operation(
    "fedstats",
    "fed_stats",
    args=[
        arg("job", **JOB),
        arg(
            "--dest", default=None, help="folder to download the job's result into (default: the kit's transfer folder)"
        ),
    ],
)
def fedstats(session, args):
    """The federated statistics of a finished statistics job (FedStats: .frame, .summary(), .histograms())."""
    return analysis.fedstats(args.job, args.dest)


@ANALYSIS.operation("metrics", args=[arg("job", **JOB)])
def metrics(session, args):
    """The metrics NVFlare recorded, per site and aggregated, round by round, as a DataFrame (.source, .plot())."""
    return analysis.metrics(args.job)


@ANALYSIS.operation("stats_history", args=[arg("job", **JOB)])
def stats_history(session, args):
    """show_stats of a job over time, as recorded while a monitor watched it run (.plot() draws the numbers)."""
    return analysis.stats_history(args.job)
