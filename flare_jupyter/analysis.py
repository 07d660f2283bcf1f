"""Results as DataFrames you can plot: federated statistics, training metrics, and ``show_stats`` over time.

fj.fedstats(job_id)          # FedStats: .frame, .summary(), .histograms(), .explore()
fj.metrics(job_id).plot()    # (round, site, metric, value), one line per site per metric
fj.stats_history(job_id)     # (time, target, component, key, value) recorded while a monitor watched the job
"""

from __future__ import annotations

import pandas as pd

from . import frames
from .errors import FlareError
from .fedstats_result import FedStats, find_stats_file
from .progress import FINISHED_PREFIX, key_metric_from_config, metrics_from_log

METRIC_COLUMNS = ["round", "site", "metric", "value"]
HISTORY_COLUMNS = ["time", "target", "component", "key", "value"]


class MetricsFrame(pd.DataFrame):
    """A DataFrame (round, site, metric, value) whose ``plot()`` draws one line per site for each metric."""

    @property
    def _constructor(self):
        return MetricsFrame

    def plot(self, *args, **kwargs):  # noqa: D401 - replaces pandas' accessor on purpose
        """One axis per metric, one line per site, value against round. Returns a matplotlib Figure."""
        from .plots import metrics_figure

        return metrics_figure(pd.DataFrame(self))


class StatsHistory(pd.DataFrame):
    """``show_stats`` snapshots over time (time, target, component, key, value); ``plot()`` draws the numbers."""

    @property
    def _constructor(self):
        return StatsHistory

    def plot(self, *args, **kwargs):
        from .plots import stats_history_figure

        return stats_history_figure(pd.DataFrame(self))


def metrics_frame(rows) -> MetricsFrame:
    df = MetricsFrame(pd.DataFrame(list(rows), columns=METRIC_COLUMNS))
    return df.astype({"round": "int64", "site": "string", "metric": "string", "value": "float64"})


def history_frame(snapshots) -> StatsHistory:
    """Tidy rows from ``(time, answer)`` pairs of ``show_stats`` answers."""
    parts = []
    for t, answer in snapshots:
        df = frames.stats_frame(answer)
        if len(df):
            df.insert(0, "time", pd.Timestamp(t, unit="s", tz="UTC"))
            parts.append(df)
    if not parts:
        empty = pd.DataFrame(columns=HISTORY_COLUMNS)
        empty["time"] = pd.to_datetime(empty["time"], utc=True)
        return StatsHistory(empty)
    return StatsHistory(pd.concat(parts, ignore_index=True)[HISTORY_COLUMNS])


def _job(job_id: str):
    from .commands import resolve_job
    from .session import session

    s = session()
    job = resolve_job(s, job_id)
    return s, job, s.get_job_meta(job)


def fedstats(job_id: str, dest: str | None = None) -> FedStats:
    """The federated statistics a finished statistics job computed (downloads its result; ``dest`` is where)."""
    s, job, meta = _job(job_id)
    status = str(meta.get("status", ""))
    if not status.startswith(FINISHED_PREFIX):
        raise FlareError(
            f"job {job} is {status}: its statistics are written when it finishes (wait with fj.monitor(job).wait())"
        )
    if status != "FINISHED:COMPLETED":
        raise FlareError(f"job {job} ended {status}, so it wrote no statistics: see %flare logs {job}")
    folder = s.download_job_result(job, dest)
    return FedStats.from_file(find_stats_file(folder))


def metrics(job_id: str) -> MetricsFrame:
    """The metrics a job's sites reported (round, site, metric, value), from its server log, running or finished."""
    from .poller import Poller

    s, job, meta = _job(job_id)
    status = str(meta.get("status", ""))
    config = Poller.shared().config(job)
    if status == "RUNNING":
        text = s.job_progress_lines(job)
        if config is None:
            try:
                config = s.job_server_config(job)
            except Exception:
                config = None
    elif status.startswith(FINISHED_PREFIX) and meta.get("start_time"):
        text = s.job_log(job, "server")
    else:
        text = ""
    return metrics_frame(metrics_from_log(text, key_metric_from_config(config) if config else None))


def stats_history(job_id: str) -> StatsHistory:
    """``show_stats`` of a job over time, as recorded by the poller while a monitor watched the job running."""
    from .poller import Poller

    s, job, _meta = _job(job_id)
    snapshots = Poller.shared().history(job)
    if not snapshots:
        raise FlareError(
            f"no stats were recorded for job {job}: open fj.monitor({job!r}) while it runs, then ask again"
        )
    return history_frame(snapshots)
