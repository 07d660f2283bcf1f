"""``%flare`` operations on runs as experiments: compare them, explain a failure, write a report to share."""

from __future__ import annotations

from ..compare import compare as compare_runs
from ..render import Message
from ..report import report as run_report
from ..triage import triage as triage_run
from .registry import JOB, Group, arg, nonblank

EXPERIMENTS = Group("experiments", "Experiments (runs compared, failures explained, reports shared)")


@EXPERIMENTS.operation(
    "compare",
    args=[
        arg("jobs", nargs="+", metavar="JOB", type=nonblank, help="job ids (or unique prefixes), e.g. $run1 $run2"),
        arg("--all", dest="show_all", action="store_true", help="also the settings every run shares"),
    ],
)
def compare(session, args):
    """What differs between runs (settings, outcome, key metric) as a DataFrame; .plot(metric) overlays them."""
    return compare_runs(*args.jobs, show_all=args.show_all)


@EXPERIMENTS.operation("triage", args=[arg("job", **JOB)])
def triage(session, args):
    """Where a job's failure started: each target's first error, exception and the line that raised it."""
    return triage_run(args.job)


@EXPERIMENTS.operation(
    "report",
    args=[
        arg("job", **JOB),
        arg("--save", metavar="PATH", default=None, type=nonblank, help="also write it as one HTML file there"),
    ],
)
def report(session, args):
    """A run as one page: identity, timeline, settings, sites, metrics and plot, triage if it failed."""
    page = run_report(args.job)
    if args.save:
        return Message(f"report of job {page.job_id} saved to {page.save(args.save)}")
    return page
