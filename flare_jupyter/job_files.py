"""What a watched job's files told so far: its server log and, when the job writes them, its round records.

Pure: no NVFlare calls; the poller hands in the text each read returned. While a job runs its files only grow, so
each is read from where the last read ended (``progress.FileFollower``) and only new complete lines are parsed: the
log for the round started and its "validation metric" lines (``progress.LogProgress``), the round records
(``metrics.ROUND_METRICS_READABLE``, byte for byte NVFlare's ``round_metrics.jsonl``) for every site's metrics and
each round's aggregated ones. Once the job ended, its final metrics replace them once: its round records from its
result when it wrote them (exact), else its whole log.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from .metrics import ROUND_METRICS_READABLE, round_metrics_rows
from .progress import ROUND_RECORDS, SERVER_LOG, FileFollower, LogProgress, key_metric_from_config, writes_file


@dataclass
class JobFiles:
    """One watched job's files as read so far (see the module docstring)."""

    log_file: FileFollower = field(default_factory=FileFollower)
    log: LogProgress = field(default_factory=LogProgress)
    records_file: FileFollower = field(default_factory=FileFollower)
    has_records: bool | None = None  # None until the job's config was read
    records_seen: bool = False
    record_rows: list = field(default_factory=list)
    final: bool = False  # the final metrics were read, once the job ended

    def configure(self, config: str) -> None:
        """Learn from the job's server config whether it writes readable round records, and the key metric's name
        its log lines are rows of."""
        if self.has_records is not None:
            return
        self.has_records = writes_file(config, posixpath.basename(ROUND_METRICS_READABLE))
        name = key_metric_from_config(config)
        if name and name != self.log.metric:
            self.log.metric = name
            self.log.rows = [(r, site, name, v) for r, site, _m, v in self.log.rows]

    def log_grew(self, text: str) -> None:
        """What the log held from ``log_file.since()`` on."""
        self.log.add(self.log_file.take(text))

    def records_grew(self, text: str) -> None:
        """What the round records held from ``records_file.since()`` on."""
        lines = self.records_file.take(text)
        if lines:
            self.records_seen = True
            rows = round_metrics_rows("\n".join(lines))
            if rows:
                self.record_rows = self.record_rows + rows  # a new list: what widgets hold never changes

    def ended_with_records(self, text: str) -> None:
        """The job's whole round records, from its result."""
        self.record_rows, self.final = round_metrics_rows(text), True

    def ended_with_log(self, text: str) -> None:
        """The job's whole server log (it wrote no round records, or they could not be had)."""
        self.log, self.records_seen, self.final = LogProgress(self.log.metric).read(text), False, True

    def told(self) -> tuple[int | None, list, str]:
        """(rounds begun, 1-based; metrics rows; where they come from: ``ROUND_RECORDS`` or ``SERVER_LOG``)."""
        if not self.records_seen:
            return self.log.round, list(self.log.rows), SERVER_LOG  # a copy: the next read appends to the rows
        done = max((r for r, *_ in self.record_rows), default=None)  # NVFlare counts rounds from 0
        begun = max(self.log.round or 0, done + 1 if done is not None else 0) or None
        return begun, self.record_rows, ROUND_RECORDS
