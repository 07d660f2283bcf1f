"""``%flare`` operations that open live widgets (registered into ``commands.OPERATIONS``)."""

from __future__ import annotations

from .commands import JOB, TARGET, _arg, _count, operation


@operation("jobs_panel", "jobs_widget", group="widgets")
@_arg("--limit", type=_count, default=50, help="rows shown (default 50)")
def _jobs_panel(session, args):
    """The jobs as a live table with filters, and monitor / abort / clone / delete / download of the selected job."""
    from .widgets import jobs_panel

    return jobs_panel(limit=max(1, args.limit))


@operation("clients_panel", "clients_widget", group="widgets")
def _clients_panel(session, args):
    """Connected clients live: last connect time, their jobs, env; restart or shut one down."""
    from .widgets import clients_panel

    return clients_panel()


@operation("log_viewer", "log_widget", group="widgets")
@_arg("target", nargs="?", default="server", type=TARGET["type"], help="'server' (default) or a client name")
@_arg("--job", metavar="JOB", default=None, type=JOB["type"], help="show this job's log on TARGET instead")
@_arg("--lines", type=_count, default=100, help="lines shown (default 100)")
@_arg("--follow", action="store_true", help="keep appending new lines at each tick")
def _log_viewer(session, args):
    """The tail of a target's (or a job's) log with a grep filter and a follow mode."""
    from .widgets import log_viewer

    return log_viewer(args.target, job=args.job, lines=max(1, args.lines), follow=args.follow)


@operation("dashboard", group="widgets")
def _dashboard(session, args):
    """The connection at a glance, with the jobs, clients and server-log panels in tabs."""
    from .widgets import dashboard

    return dashboard()


# -- results for analysis (DataFrames with plots) ---------------------------------------------------------------
@operation("fedstats", "fed_stats", group="analysis")
@_arg("job", **JOB)
@_arg("--dest", default=None, help="folder to download the job's result into (default: the kit's transfer folder)")
def _fedstats(session, args):
    """The federated statistics of a finished statistics job (FedStats: .frame, .summary(), .histograms())."""
    from .analysis import fedstats

    return fedstats(args.job, args.dest)


@operation("metrics", group="analysis")
@_arg("job", **JOB)
def _metrics(session, args):
    """The metrics the sites reported, round by round, as a DataFrame (.plot() draws them)."""
    from .analysis import metrics

    return metrics(args.job)


@operation("stats_history", group="analysis")
@_arg("job", **JOB)
def _stats_history(session, args):
    """show_stats of a job over time, as recorded while a monitor watched it run (.plot() draws the numbers)."""
    from .analysis import stats_history

    return stats_history(args.job)
