"""Results of jobs on the server, as objects you can explore: federated statistics, training metrics, and
``show_stats`` over time.

fj.fedstats(job_id)          # FedStats: .frame, .summary(), .histograms(), .explore()
fj.metrics(job_id).plot()    # (round, site, metric, value) from NVFlare's metric records; .source, .summary
fj.stats_history(job_id)     # (time, target, component, key, value) recorded while a monitor watched the job

This layer sits above the widgets, because what it returns may open one (``FedStats.explore()``).
"""

from __future__ import annotations

import json
import threading

from . import compat, fedstats_result
from .connection import session
from .errors import FlareError
from .examples import METRICS_WRITER, READABLE_WRITER_ID
from .fedstats_result import find_stats_file
from .metrics import (
    METRICS_SUMMARY,
    ROUND_METRICS,
    ROUND_METRICS_READABLE,
    MetricsFrame,
    StatsHistory,
    history_frame,
    metrics_frame,
    round_metrics_rows,
)
from .poller import Poller
from .progress import FINISHED_PREFIX, key_metric_from_config, metrics_from_log
from .session import resolve_job
from .widgets.fedstats import FedStatsExplorer


class FedStats(fedstats_result.FedStats):
    """A federated statistics result (``.frame``, ``.summary()``, ``.histograms()``), with ``.explore()``."""

    def explore(self) -> FedStatsExplorer:
        """An interactive histogram: a feature selector, a count/percent toggle and site checkboxes."""
        return FedStatsExplorer(self)


def _job(job_id: str):
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
    """The metrics a job's sites reported (round, site, metric, value), running or finished, from NVFlare's own
    metric records (``metrics/round_metrics.jsonl``), each round's aggregated values as site ``"aggregated"``;
    ``.summary`` is NVFlare's ``metrics_summary.json`` once the job ended. Where a release or a job has no such
    records, the server log's "validation metric" lines; ``.source`` says which."""
    s, job, meta = _job(job_id)
    status = str(meta.get("status", ""))
    if status.startswith(FINISHED_PREFIX):
        if not meta.get("start_time"):
            return metrics_frame([], source=NEVER_RAN)
        return _finished_metrics(s, job)
    if status == "RUNNING":
        return _running_metrics(s, job)
    return metrics_frame([], source=NOT_STARTED)


#: ``MetricsFrame.source``: NVFlare's records (the artifact) or, where there are none, the server log.
FROM_RESULT = f"artifact: {ROUND_METRICS} in the job's result"
FROM_RUNNING_JOB = f"artifact: {ROUND_METRICS_READABLE} on the server (NVFlare's records, read as they are written)"
NO_ARTIFACT_RELEASE = f"server log: nvflare {compat.NVFLARE_VERSION} writes no metrics artifact"
NO_WRITER = "server log: the job has no NVFlare metrics writer (MetricsArtifactWriter)"
NOT_READABLE_WHILE_RUNNING = (
    f"server log while the job runs: NVFlare's file commands cannot read a running job's {ROUND_METRICS} "
    "(it is read from the job's result once the job ends)"
)
NOT_STARTED = "none: the job has not started"
STARTING = "none yet: the job is starting (its folder is not on the server yet)"
NEVER_RAN = "none: the job never ran"
#: A job's app configs, relative to its folder on the server (running) or its result's workspace (finished).
SERVER_CONFIG = "app_server/config/config_fed_server.json"
CLIENT_CONFIG = "app_server/config/config_fed_client.json"
#: What one download of a finished job's result is read for (metrics, summary, configs; the log without records).
_WITH_RECORDS = (ROUND_METRICS, METRICS_SUMMARY, SERVER_CONFIG, CLIENT_CONFIG)
RESULT_FILES = _WITH_RECORDS if compat.HAS_METRICS_ARTIFACT else ("log.txt", SERVER_CONFIG, CLIENT_CONFIG)
_READABLE_COPY = f'"{READABLE_WRITER_ID}"'  # how our readable copy of NVFlare's writer shows in a server config


def _finished_metrics(s, job: str) -> MetricsFrame:
    """From the job's result (downloaded once per session): NVFlare's records, else its server log."""
    files = s.finished_job_files(job, *RESULT_FILES)
    config = files[SERVER_CONFIG]
    if not compat.HAS_METRICS_ARTIFACT:
        return _from_log(files["log.txt"], config, NO_ARTIFACT_RELEASE)
    if files[ROUND_METRICS] is None and METRICS_WRITER not in (config or ""):
        return _from_log(s.job_log(job, "server"), config, NO_WRITER)
    return metrics_frame(
        round_metrics_rows(files[ROUND_METRICS] or ""), source=FROM_RESULT, summary=json_object(files[METRICS_SUMMARY])
    )


def _from_log(text: str | None, config: str | None, source: str) -> MetricsFrame:
    """The log's "validation metric" lines, each under the round NVFlare numbers it (from 0: the log's lines say
    "Round 1 started" before round 1's metrics, which ``metrics_from_log`` counts from 1), named after the job's key
    metric where its config names one."""
    key = key_metric_from_config(config) if config else None
    rows = [(rnd - 1, site, name, value) for rnd, site, name, value in metrics_from_log(text or "", key)]
    return metrics_frame(rows, source=source)


def json_object(text: str | None) -> dict:
    """``text`` read as a JSON object; {} for no text, text that is not JSON, or JSON that is not an object."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _RunningRecords:
    """A running job's round records read incrementally: each read asks the server only for what the readable copy
    of ``round_metrics.jsonl`` gained since the last one (``tail -c +N``); a line not yet complete waits for the
    next read."""

    def __init__(self, session, job: str):
        self.session, self.job = session, job
        self.config: str | None = None
        self.offset, self.pending = 0, ""
        self.rows: list = []
        self._lock = threading.Lock()  # two readers at once would both read the same new bytes

    def read(self) -> list:
        with self._lock:
            text = self.session.job_file_since(self.job, ROUND_METRICS_READABLE, self.offset)
            self.offset += len(text.encode("utf-8"))
            complete, _, self.pending = (self.pending + text).rpartition("\n")
            self.rows.extend(round_metrics_rows(complete))
            return list(self.rows)


_RUNNING: dict[str, _RunningRecords] = {}
_RUNNING_KEPT = 64  # running jobs whose read position is remembered
_running_lock = threading.Lock()


def _records(s, job: str) -> _RunningRecords:
    with _running_lock:
        found = _RUNNING.get(job)
        if found is None or found.session is not s:
            if len(_RUNNING) >= _RUNNING_KEPT:
                _RUNNING.pop(next(iter(_RUNNING)))
            found = _RUNNING[job] = _RunningRecords(s, job)
        return found


def _running_metrics(s, job: str) -> MetricsFrame:
    records = _records(s, job)
    if records.config is None:
        records.config = _config_text(Poller.shared().config(job)) or _server_config(s, job)
    config = records.config
    if config is None:  # the job's folder is not on the server yet: which records it has is not known yet
        return metrics_frame([], source=STARTING)
    if _READABLE_COPY in config:
        return metrics_frame(records.read(), source=FROM_RUNNING_JOB)
    if not compat.HAS_METRICS_ARTIFACT:
        source = NO_ARTIFACT_RELEASE
    else:
        source = NOT_READABLE_WHILE_RUNNING if METRICS_WRITER in config else NO_WRITER
    return _from_log(s.job_progress_lines(job), config, source)


def job_configs(job_id: str) -> tuple[str | None, str | None]:
    """The texts of a job's server and client app configs (``config_fed_server.json``, ``config_fed_client.json``
    of its server app): from its folder on the server while it runs, from its result once it ran (the download
    ``fj.metrics`` makes, made once); (None, None) before it runs, or for a job that never ran."""
    s, job, meta = _job(job_id)
    status = str(meta.get("status", ""))
    if status.startswith(FINISHED_PREFIX) and meta.get("start_time"):
        files = s.finished_job_files(job, *RESULT_FILES)
        return files[SERVER_CONFIG], files[CLIENT_CONFIG]
    if status != "RUNNING":
        return None, None
    try:
        client = s.cat_target("server", file=f"{job}/{CLIENT_CONFIG}")
    except Exception:
        client = None
    missing = client is None or client.startswith("cat: ")  # the server's own complaint: not there (yet)
    return _server_config(s, job), None if missing else client


def _server_config(s, job: str) -> str | None:
    """The running job's server config; None while its folder is not there yet (the next read tries again)."""
    try:
        return _config_text(s.job_server_config(job))
    except Exception:
        return None


def _config_text(text: str | None) -> str | None:
    """A config's text, or None for none or for the server's own complaint instead (``cat: ...: No such file``)."""
    return None if not text or text.startswith("cat: ") else text


def stats_history(job_id: str) -> StatsHistory:
    """``show_stats`` of a job over time, as recorded by the poller while a monitor watched the job running."""
    s, job, _meta = _job(job_id)
    snapshots = Poller.shared().history(job)
    if not snapshots:
        raise FlareError(
            f"no stats were recorded for job {job}: open fj.monitor({job!r}) while it runs, then ask again"
        )
    return history_frame(snapshots)
