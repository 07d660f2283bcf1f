"""Runs side by side: what differs between them, how each ended and how good it got.

    fj.compare(run1, run2, job_id3)          # one row per run; settings all runs share are hidden
    fj.compare(run1, run2, show_all=True)    # every setting
    fj.compare(run1, run2).plot("accuracy")  # the aggregated metric per round of every run, overlaid

A run's settings are read from the job itself, so any job compares (not only ones this kernel submitted): its meta
(name, minimum clients, sites) and its server app's configs (every workflow's and component's arguments, the
client's script and its arguments), from the job's folder on the server while it runs and from its result after.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from . import analysis
from .connection import session
from .errors import ArgumentError
from .metrics import AGGREGATED, MetricsFrame, metrics_frame
from .progress import job_sites, num_rounds_from_config
from .session import resolve_job
from .values import duration_seconds

#: Always shown: which run, how it ended, how good it got.
IDENTITY = ["job_id", "name"]
OUTCOME = ["status", "duration", "key_metric", "final", "best", "best_round"]
#: The settings people change most, shown first (when they differ).
HEADLINE = ["rounds", "min_clients", "sites", "script", "script_args"]
#: Config arguments that the headline settings already show.
_SHOWN_AS_HEADLINE = ("num_rounds", "task_script_path", "task_script_args")


@dataclass
class RunFacts:
    """What one run is made of and how it went, as the server tells."""

    job_id: str
    meta: dict
    settings: dict = field(default_factory=dict)
    metrics: MetricsFrame = field(default_factory=lambda: metrics_frame([]))
    key_metric: str = ""

    @property
    def label(self) -> str:
        return f"{self.meta.get('name') or 'job'} ({self.job_id[:8]})"


def run_facts(job_id) -> RunFacts:
    """Settings, outcome and metrics of one job (see the module docstring for where each comes from)."""
    s = session()
    job = resolve_job(s, job_id)
    meta = s.get_job_meta(job)
    server_text, client_text = analysis.job_configs(job)
    server, client = analysis.json_object(server_text), analysis.json_object(client_text)
    metrics = analysis.metrics(job)
    facts = RunFacts(job, meta, metrics=metrics)
    facts.settings = {**headline_settings(meta, server, client), **config_settings(server, client)}
    facts.key_metric = _key_metric(metrics.summary, server)
    return facts


def headline_settings(meta: dict, server: dict, client: dict) -> dict:
    """rounds, min_clients, sites, script and script_args of a job (None where the job does not say)."""
    executor = _first_executor(client)
    return {
        "rounds": num_rounds_from_config(server) if server else None,
        "min_clients": meta.get("min_clients"),
        "sites": ", ".join(job_sites(meta)) or None,
        "script": executor.get("task_script_path"),
        "script_args": executor.get("task_script_args", "" if executor else None),
    }


def _first_executor(client: dict) -> dict:
    for entry in client.get("executors") or []:
        args = (entry.get("executor") or {}).get("args") if isinstance(entry, dict) else None
        if isinstance(args, dict):
            return args
    return {}


def config_settings(server: dict, client: dict) -> dict:
    """Every argument of the job's server workflows and components and of its client executors and components,
    as ``server.<id>.<argument>`` / ``client.<id>.<argument>`` (nested arguments dotted further, lists as JSON),
    and each one's class as ``<side>.<id>.class``."""
    out: dict = {}
    for side, config, sections in (
        ("server", server, ("workflows", "components")),
        ("client", client, ("components",)),
    ):
        for section in sections:
            for item in config.get(section) or []:
                if isinstance(item, dict):
                    _component(out, f"{side}.{item.get('id', section)}", item)
    for i, entry in enumerate(client.get("executors") or []):
        if isinstance(entry, dict) and isinstance(entry.get("executor"), dict):
            _component(out, "client.executor" + (f"{i}" if i else ""), entry["executor"])
    return out


def _component(out: dict, prefix: str, item: dict) -> None:
    out[f"{prefix}.class"] = str(item.get("path", "")).rsplit(".", 1)[-1] or None
    _flatten(out, prefix, item.get("args") or {})


def _flatten(out: dict, prefix: str, args: dict) -> None:
    for key, value in args.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict) and value:
            _flatten(out, name, value)
        elif key not in _SHOWN_AS_HEADLINE:
            out[name] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _key_metric(summary: dict, server: dict) -> str:
    """NVFlare's key metric: the summary's, else the model selector's ``key_metric`` argument, else ''."""
    named = (summary.get("key_metric") or {}).get("name") if isinstance(summary.get("key_metric"), dict) else None
    if named:
        return str(named)
    for item in server.get("components") or []:
        args = item.get("args") if isinstance(item, dict) else None
        if isinstance(args, dict) and isinstance(args.get("key_metric"), str):
            return args["key_metric"]
    return ""


def outcome(facts: RunFacts) -> dict:
    """How the run ended and its key metric: final and best value (NVFlare's summary where it wrote one, else the
    aggregated rows, else the mean over the sites of each round), and the round of the best."""
    meta, metric, summary = facts.meta, facts.key_metric, facts.metrics.summary
    per_round = round_values(facts.metrics, metric) if metric else pd.Series(dtype="float64")
    final = float(per_round.iloc[-1]) if len(per_round) else None
    best, best_round = _best(summary, per_round, metric)
    return {
        "status": meta.get("status"),
        "duration": meta.get("duration"),
        "key_metric": metric or None,
        "final": _summary_value(summary, "final_aggregated_metrics", metric, final),
        "best": best,
        "best_round": best_round,
    }


def round_values(metrics: MetricsFrame, metric: str) -> pd.Series:
    """``metric`` per round: the aggregated value where NVFlare recorded one, else the sites' mean."""
    if not len(metrics):
        return pd.Series(dtype="float64")
    rows = metrics[metrics["metric"] == metric]
    aggregated = rows[rows["site"] == AGGREGATED]
    chosen = aggregated if len(aggregated) else rows
    return chosen.groupby("round")["value"].mean().sort_index()


def _summary_value(summary: dict, key: str, metric: str, default):
    for item in (summary or {}).get(key) or []:
        if isinstance(item, dict) and item.get("name") == metric and isinstance(item.get("value"), (int, float)):
            return float(item["value"])
    return default


def _best(summary: dict, per_round: pd.Series, metric: str):
    if summary.get("best_round") is not None:
        return _summary_value(summary, "best_metrics", metric, None), summary.get("best_round")
    if not len(per_round):
        return None, None
    mode = (summary.get("key_metric") or {}).get("mode") if isinstance(summary.get("key_metric"), dict) else None
    best_round = per_round.idxmin() if mode == "min" else per_round.idxmax()
    return float(per_round[best_round]), int(best_round)


class Comparison(pd.DataFrame):
    """One row per run: identity, the settings that differ (all of them with ``show_all``), outcome and key metric.
    ``plot(metric)`` overlays that metric per round of every run; ``hidden`` names the settings all runs share."""

    _metadata = ["run_metrics", "hidden"]
    run_metrics: dict = {}
    hidden: list = []

    @property
    def _constructor(self):
        return Comparison

    def plot(self, metric: str | None = None, *args, **kwargs):  # noqa: D401 - replaces pandas' accessor on purpose
        """The aggregated ``metric`` (default: the first run's key metric) per round, one line per run. A Figure."""
        from .plots import comparison_figure  # deferred: matplotlib takes about half a second to import

        if metric is None:
            named = [m for m in self.get("key_metric", pd.Series(dtype=object)) if isinstance(m, str) and m]
            if not named:
                raise ArgumentError("name the metric to plot: these runs have no key metric (e.g. .plot('loss'))")
            metric = named[0]
        lines = {label: round_values(frame, metric) for label, frame in self.run_metrics.items()}
        return comparison_figure(lines, metric)


def compare(*jobs, show_all: bool = False) -> Comparison:
    """Compare runs (``Run`` handles, job ids or unique id prefixes): see the module docstring."""
    if len(jobs) == 1 and isinstance(jobs[0], (list, tuple)):
        jobs = tuple(jobs[0])
    if not jobs:
        raise ArgumentError("compare needs at least one run or job id (e.g. fj.compare(run1, run2))")
    facts = [run_facts(job) for job in jobs]
    return comparison_frame(facts, show_all)


def comparison_frame(facts: list[RunFacts], show_all: bool = False) -> Comparison:
    """The comparison table of ``run_facts`` answers (pure: no server call)."""
    keys = list(dict.fromkeys(k for f in facts for k in [*HEADLINE, *f.settings]))
    settings = {k: [f.settings.get(k) for f in facts] for k in keys}
    shown = [k for k in keys if show_all or _differ(settings[k])]
    rows = []
    for f in facts:
        row = {"job_id": f.job_id, "name": f.meta.get("name")}
        row.update({k: f.settings.get(k) for k in shown})
        row.update(outcome(f))
        rows.append(row)
    frame = Comparison(pd.DataFrame(rows, columns=[*IDENTITY, *shown, *OUTCOME]))
    frame["duration"] = pd.to_timedelta([duration_seconds(d) for d in frame["duration"]], unit="s")
    frame = frame.astype({"final": "float64", "best": "float64", "best_round": "Int64"})
    frame.run_metrics = {f.label: f.metrics for f in facts}
    frame.hidden = [k for k in keys if k not in shown]
    return frame


def _differ(values: list) -> bool:
    """Whether a setting's values are not all the same (a missing value counts as one of them)."""
    seen = {json.dumps(_plain(v), sort_keys=True, default=str) for v in values}
    return len(seen) > 1


def _plain(value):
    return None if isinstance(value, float) and math.isnan(value) else value
