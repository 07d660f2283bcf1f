"""A job's progress from what the server tells: round k of N, each site's task, and the metrics the sites report.

Pure: no IPython, no widgets, no NVFlare calls. The inputs are NVFlare's own answers (a ``list_jobs`` entry, the
job meta, ``show_stats`` dicts, the job's server config and log text), so every function here is tested on answers
recorded from real jobs.

Where the numbers come from:

* N (rounds planned): ``num_rounds`` in the job's server config (FedAvg, ScatterAndGather, most recipes), else
  ``num_rounds`` in ScatterAndGather's ``show_stats``.
* k (current round): ``current_round`` in ``show_stats`` (ScatterAndGather reports it); NVFlare's ``FedAvg`` does
  not, so its server log is read instead ("Round 2 started." means round 3 of N: the log counts from 0).
* metrics: the job's round records (NVFlare's ``round_metrics.jsonl``, read by the poller with ``metrics``) when the
  job writes them; else the server log's "validation metric 0.7 from client site-1" lines (NVFlare's model
  selectors), each under the round it was logged in, named after the selector's ``key_metric`` when the config
  names one.

A running job's files only grow, so they are read from where the last read ended (``FileFollower``) and only the
new complete lines are parsed (``LogProgress``): a tick costs the same in round 500 as in round 5.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .values import duration_seconds, timestamp

ROUND_STARTED = re.compile(r"Round (\d+) started")
#: What a server job log says once the job's engine is ready (NVFlare 2.5 to 2.9: ``ServerRunner``'s first line).
RUNNER_STARTED = re.compile(r"Server runner starting")
#: What it says once the run began to end (2.5 to 2.9: ``ServerRunner``, under a second before the job's process
#: stops answering; a command that reaches it then leaves an ERROR in the job's log).
RUNNER_ENDING = re.compile(r"ABOUT_TO_END_RUN fired")
METRIC_LINE = re.compile(r"validation metric ([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?) from client (\S+)")
#: How the job's status reads when it is over (NVFlare's RunStatus values start with FINISHED).
FINISHED_PREFIX = "FINISHED"
#: Where a job's metrics were read from (``Progress.metrics_source``): NVFlare's round records, or the server log.
ROUND_RECORDS = "round_metrics.jsonl"
SERVER_LOG = "server log"


@dataclass
class SiteState:
    """One site of a job: what it is doing now."""

    site: str
    task: str = ""
    state: str = "waiting"


@dataclass
class Progress:
    """Everything the monitor shows about one job."""

    job_id: str
    name: str = ""
    status: str = "UNKNOWN"
    round: int | None = None  # rounds begun (1-based), None when the job has no rounds (or none started yet)
    num_rounds: int | None = None
    sites: dict[str, SiteState] = field(default_factory=dict)
    metrics: list[tuple[int, str, str, float]] = field(default_factory=list)  # (round, site, metric, value)
    metrics_source: str = ""  # where the metrics come from: ROUND_RECORDS or SERVER_LOG ('' before any)
    submitted: datetime | None = None
    started: datetime | None = None
    duration: str = ""

    @property
    def finished(self) -> bool:
        return self.status.startswith(FINISHED_PREFIX)

    @property
    def outcome(self) -> str:
        """COMPLETED, ABORTED, EXCEPTION... for a finished job, else ''."""
        return self.status.split(":", 1)[1] if self.finished and ":" in self.status else ""

    def round_text(self) -> str:
        if self.num_rounds and self.round is not None:
            return f"round {self.round} of {self.num_rounds}"
        if self.num_rounds:
            return f"{self.num_rounds} rounds planned"
        if self.round is not None:
            return f"round {self.round}"
        return ""


# -- N: rounds planned -----------------------------------------------------------------------------------------
def num_rounds_from_config(config) -> int | None:
    """``num_rounds`` of the job's workflows in its server config (text or parsed JSON); None if it has none."""
    config = _parsed(config)
    if not isinstance(config, dict):
        return None
    for wf in config.get("workflows") or []:
        n = _find_int(wf.get("args") if isinstance(wf, dict) else None, "num_rounds")
        if n is not None:
            return n
    return _find_int(config, "num_rounds")


def key_metric_from_config(config) -> str | None:
    """The name of the metric the job's model selector follows (``key_metric``), if the config names one."""
    found = _find_value(_parsed(config), "key_metric")
    return found if isinstance(found, str) and found else None


def _parsed(config):
    """A config given as JSON text parsed (None when it is not JSON); anything else unchanged."""
    if isinstance(config, (str, bytes)):
        try:
            return json.loads(config)
        except ValueError:
            return None
    return config


def _find_value(node, key: str):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_value(child, key)
        if found is not None:
            return found
    return None


def _find_int(node, key: str) -> int | None:
    value = _find_value(node, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


# -- k: the current round --------------------------------------------------------------------------------------
def round_from_stats(server_stats) -> tuple[int | None, int | None]:
    """(current round 1-based, rounds planned) from a server ``show_stats`` answer (ScatterAndGather reports
    ``current_round`` counting from 0); (None, None) for workflows that report no round, like FedAvg."""
    if not isinstance(server_stats, dict):
        return None, None
    current = _find_int(server_stats, "current_round")
    planned = _find_int(server_stats, "num_rounds")
    return (current + 1 if current is not None else None), planned


def round_from_log(log_text: str) -> int | None:
    """The last round the server log says has started, 1-based; None if none has."""
    return LogProgress().read(log_text).round


def metrics_from_log(log_text: str, metric: str | None = None) -> list[tuple[int, str, str, float]]:
    """(round, site, metric, value) for each "validation metric V from client S" line of a server log.

    The round is the one the log last said had started (1-based; 0 before any). ``metric`` names the value
    (the selector's key metric); by default "validation metric".
    """
    return LogProgress(metric).read(log_text).rows


@dataclass
class LogProgress:
    """What a server log said so far, fed its lines in order as they come: the last round started (1-based, None
    before any) and a metrics row for each "validation metric" line, under the round started before it."""

    metric: str | None = None
    round: int | None = None
    rows: list[tuple[int, str, str, float]] = field(default_factory=list)
    runner_started: bool = False  # the job's engine is ready: it answers commands (``RUNNER_STARTED``)
    runner_ending: bool = False  # the run began to end: its process is about to stop answering (``RUNNER_ENDING``)

    def add(self, lines) -> bool:
        """Take the next complete lines of the log; whether they told anything new."""
        told = False
        name = self.metric or "validation metric"
        for line in lines:
            if not self.runner_started and RUNNER_STARTED.search(line):
                self.runner_started = True
            if not self.runner_ending and RUNNER_ENDING.search(line):
                self.runner_ending = True
            started = ROUND_STARTED.search(line)
            if started:
                self.round, self.runner_started = int(started.group(1)) + 1, True
                told = True
                continue
            m = METRIC_LINE.search(line)
            if m:
                self.rows.append((self.round or 0, m.group(2).rstrip(".,;"), name, float(m.group(1))))
                told = True
        return told

    def read(self, text: str) -> LogProgress:
        self.add((text or "").splitlines())
        return self


@dataclass
class FileFollower:
    """Where a growing file (a running job's log or round records) was read up to: the byte just past its last
    complete line. The next read asks for the file from the byte before that (``since``), which must be the newline
    the last read ended on: if it is not, the file was replaced (NVFlare's log rotation) and is read again from its
    start. An empty answer changes nothing: the file is gone (a job's folder is removed as it ends), not there yet,
    or not yet past where we were (a replaced file is noticed once it is). A last line still being written is left
    for the next read."""

    offset: int = 0
    bytes_read: int = 0  # everything the reads returned, for the benchmarks

    def since(self) -> int:
        return self.offset - 1 if self.offset else 0

    def take(self, text: str) -> list[str]:
        """The complete lines new in ``text`` (what the file held from ``since()`` on)."""
        text = text or ""
        self.bytes_read += len(text)
        if not text:  # nothing new: no file (not yet, or the job's folder is gone), or one not past where we were
            return []
        if self.offset:
            if not text.startswith("\n"):  # shorter than before, or another file: start again from its beginning
                self.offset = 0
                return []
            text = text[1:]
        end = text.rfind("\n")
        if end < 0:
            return []
        self.offset += len(text[: end + 1].encode("utf-8"))
        return text[:end].split("\n")


def writes_file(config, file_name: str) -> bool:
    """Whether a component of the job's server config (text or parsed JSON) writes ``file_name`` (a component
    argument ending in ``_file_name`` names it): how the poller knows a job keeps readable round records."""
    config = _parsed(config)
    found, todo = False, [config]
    while todo and not found:
        node = todo.pop()
        if isinstance(node, dict):
            found = any(k.endswith("_file_name") and v == file_name for k, v in node.items())
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


# -- sites -----------------------------------------------------------------------------------------------------
def job_sites(meta: dict | None) -> list[str]:
    """The client sites a job was deployed to, from its meta (``job_deploy_detail`` once deployed, else the
    ``deploy_map`` when it names sites rather than ``@ALL``)."""
    meta = meta or {}
    sites = []
    for line in meta.get("job_deploy_detail") or []:
        site = str(line).split(":", 1)[0].strip()
        if site and site != "server" and site not in sites:
            sites.append(site)
    if sites:
        return sorted(sites)
    for targets in (meta.get("deploy_map") or {}).values():
        for t in targets if isinstance(targets, list) else []:
            if isinstance(t, str) and not t.startswith("@") and t != "server" and t not in sites:
                sites.append(t)
    return sorted(sites)


def site_states(sites, client_stats, finished: bool = False) -> dict[str, SiteState]:
    """Each site's current task and state from a client ``show_stats`` answer.

    A site whose answer is not a dict (NVFlare says ``"invalid_reply"`` when a client's reply cannot be read) is
    shown as such; a site that has not started the job's runner yet is "waiting"."""
    client_stats = client_stats if isinstance(client_stats, dict) else {}
    names = list(sites) or sorted(client_stats)
    out = {}
    for site in names:
        if finished:
            out[site] = SiteState(site, "", "done")
            continue
        answer = client_stats.get(site)
        if answer is None or answer == {}:
            out[site] = SiteState(site, "", "waiting")
        elif not isinstance(answer, dict):
            out[site] = SiteState(site, "", f"no reply ({answer})")
        else:
            runner = answer.get("ClientRunner") or {}
            tasks = runner.get("current_tasks") or []
            task = ", ".join(str(t) for t in tasks)
            out[site] = SiteState(site, task, "running task" if task else "idle")
    return out


def job_progress(
    job_id: str,
    listing: dict | None,
    meta: dict | None = None,
    server_stats=None,
    client_stats=None,
    config=None,
    log_text: str | None = None,
    previous: Progress | None = None,
    log_round: int | None = None,
    metrics: list | None = None,
    metrics_source: str = "",
) -> Progress:
    """Combine what is known about a job into one ``Progress``.

    ``log_text`` is a whole log (or its progress lines) to read here; ``log_round`` and ``metrics`` (with their
    ``metrics_source``) are what the poller already read from the job's files, a few new lines per tick. Any input
    may be missing (None): the answer keeps what ``previous`` knew, so a poll whose details failed does not make
    the round go back or the sites disappear.
    """
    prev = previous or Progress(job_id)
    listing = listing or {}
    meta = meta or {}
    p = Progress(
        job_id=job_id,
        name=str(listing.get("job_name") or meta.get("name") or prev.name),
        status=str(listing.get("status") or meta.get("status") or prev.status),
        round=prev.round,
        num_rounds=prev.num_rounds,
        sites=dict(prev.sites),
        metrics=prev.metrics,
        metrics_source=prev.metrics_source,
        submitted=timestamp(listing.get("submit_time")) or timestamp(meta.get("submit_time_iso")) or prev.submitted,
        started=timestamp(meta.get("start_time")) or prev.started,
        duration=str(listing.get("duration") or meta.get("duration") or prev.duration or ""),
    )
    planned = num_rounds_from_config(config) if config is not None else None
    current, stats_planned = round_from_stats(server_stats)
    p.num_rounds = planned or stats_planned or p.num_rounds
    if log_text is not None:
        read = LogProgress(key_metric_from_config(config) if config is not None else None).read(log_text)
        log_round = max(log_round or 0, read.round or 0) or None
        if metrics is None:
            metrics, metrics_source = read.rows, SERVER_LOG
    for k in (current, log_round):
        if k is not None:
            p.round = max(k, p.round or 0)
    if metrics is not None and (metrics or not p.metrics):
        p.metrics = metrics if isinstance(metrics, list) else list(metrics)
        p.metrics_source = metrics_source
    sites = job_sites(meta) or list(prev.sites)
    if client_stats is not None or p.finished or (sites and not p.sites):
        p.sites = site_states(sites, client_stats, finished=p.finished)
    return p


def elapsed_seconds(p: Progress, now: datetime | None = None) -> float | None:
    """Seconds since the job started (or was submitted) until now, or its run time once it finished."""
    if p.finished:
        run_time = duration_seconds(p.duration)
        if run_time == run_time:  # not NaN
            return run_time
    start = p.started or p.submitted
    if start is None:
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (now - start).total_seconds())


def progress_text(p: Progress, elapsed: float | None = None) -> str:
    """The monitor as one readable block of text (terminals, nbconvert, reprs)."""
    head = f"job {p.name or '?'} ({p.job_id}): {p.status}"
    extra = [x for x in (p.round_text(), f"{elapsed:.0f} s" if elapsed is not None else "") if x]
    lines = [head + (", " + ", ".join(extra) if extra else "")]
    if p.sites:
        lines.append("  " + "; ".join(f"{s.site}: {s.state}{' ' + s.task if s.task else ''}" for s in p.sites.values()))
    if p.metrics:
        last = {}
        for rnd, site, metric, value in p.metrics:
            last[(site, metric)] = (rnd, value)
        lines.append("  " + "; ".join(f"{m} {site} = {v:g} (round {r})" for (site, m), (r, v) in sorted(last.items())))
    return "\n".join(lines)
