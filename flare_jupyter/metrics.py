"""Training metrics and stats over time as DataFrames you can plot (pure: no IPython, no widgets, no NVFlare calls).

``MetricsFrame`` (round, site, metric, value) and ``StatsHistory`` (time, target, component, key, value) are what
``fj.metrics`` and ``fj.stats_history`` return and what the job monitor shows; ``.plot()`` draws them.

The source of truth for metrics is NVFlare's own artifact (nvflare >= 2.9, every job built on ``BaseFedJob``, so
every recipe): ``metrics/round_metrics.jsonl``, one JSON object per round with ``round`` (NVFlare's numbering, from
0), ``aggregated_metrics`` and ``sites`` (each site's ``metrics`` under the names its client used), each metric
``{"name": ..., "value": ...}``; and ``metrics/metrics_summary.json`` (key metric, best round, final values).
``round_metrics_rows`` reads the first; a round's aggregated values become rows of site ``AGGREGATED``.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from . import frames

METRIC_COLUMNS = ["round", "site", "metric", "value"]
HISTORY_COLUMNS = ["time", "target", "component", "key", "value"]
#: The site name of a round's aggregated values (NVFlare's ``aggregated_metrics``).
AGGREGATED = "aggregated"
#: Where NVFlare's metrics writer puts its artifacts, relative to the job's folder (running) or workspace (result).
ROUND_METRICS = "metrics/round_metrics.jsonl"
METRICS_SUMMARY = "metrics/metrics_summary.json"
#: NVFlare's file commands (cat, tail, grep ...) refuse ``.jsonl`` files, so a running job's ``round_metrics.jsonl``
#: cannot be read on the server. Jobs we build or submit carry a second copy of NVFlare's own writer
#: (``examples.add_readable_metrics``) that writes the same records from the same events under this name, which
#: they read; the test suite checks both files hold the same records.
ROUND_METRICS_READABLE = "metrics/round_metrics.jsonl.txt"


class MetricsFrame(pd.DataFrame):
    """A DataFrame (round, site, metric, value) whose ``plot()`` draws one line per site for each metric.

    ``source`` says where the rows come from: NVFlare's ``round_metrics.jsonl`` artifact, or the server log where a
    release or a job has none. ``summary`` is NVFlare's ``metrics_summary.json`` (key metric, best round, final
    values) once the job wrote it, else ``{}``."""

    _metadata = ["source", "summary"]
    source: str = ""
    summary: dict = {}

    @property
    def _constructor(self):
        return MetricsFrame

    def plot(self, *args, **kwargs):  # noqa: D401 - replaces pandas' accessor on purpose
        """One axis per metric, one line per site, value against round. Returns a matplotlib Figure."""
        from .plots import metrics_figure  # deferred: matplotlib takes about half a second to import

        return metrics_figure(pd.DataFrame(self))


class StatsHistory(pd.DataFrame):
    """``show_stats`` snapshots over time (time, target, component, key, value); ``plot()`` draws the numbers."""

    @property
    def _constructor(self):
        return StatsHistory

    def plot(self, *args, **kwargs):
        from .plots import stats_history_figure  # deferred: matplotlib takes about half a second to import

        return stats_history_figure(pd.DataFrame(self))


def metrics_frame(rows, source: str = "", summary: dict | None = None) -> MetricsFrame:
    """(round, site, metric, value) rows as a typed ``MetricsFrame``."""
    df = MetricsFrame(pd.DataFrame(list(rows), columns=METRIC_COLUMNS))
    df = df.astype({"round": "int64", "site": "string", "metric": "string", "value": "float64"})
    df.source = source
    df.summary = dict(summary or {})
    return df


def round_metrics_rows(text: str) -> list[tuple[int, str, str, float]]:
    """(round, site, metric, value) for every numeric metric of every complete line of a ``round_metrics.jsonl``
    text: each site's, in the order NVFlare wrote them, then the round's aggregated ones (site ``AGGREGATED``).
    A line that is not (yet) a whole JSON record is left out."""
    rows = []
    for line in (text or "").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or isinstance(record.get("round"), bool):
            continue
        rnd = record.get("round")
        if not isinstance(rnd, int):
            continue
        for site in record.get("sites") or []:
            if isinstance(site, dict):
                rows.extend((rnd, str(site.get("name")), name, v) for name, v in _numeric(site.get("metrics")))
        rows.extend((rnd, AGGREGATED, name, v) for name, v in _numeric(record.get("aggregated_metrics")))
    return rows


def _numeric(metrics) -> list[tuple[str, float]]:
    out = []
    for m in metrics or []:
        value = m.get("value") if isinstance(m, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append((str(m.get("name")), float(value)))
    return out


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
