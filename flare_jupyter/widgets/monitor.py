"""The live job monitor: returns at once, updates itself from the shared poller while the kernel stays free.

m = fj.monitor(job_id)      # or %flare monitor_job JOB
m.wait()                    # block until the job ends; returns NVFlare's MonitorReturnCode
m.metrics                   # DataFrame (round, site, metric, value)
"""

from __future__ import annotations

import threading

import ipywidgets as w
import pandas as pd

from .. import compat, render
from ..progress import Progress, elapsed_seconds, job_progress, progress_text
from ._base import Confirm, LiveWidget, button

BAR_STYLES = {"COMPLETED": "success", "ABORTED": "warning", "ABANDONED": "warning"}


class JobMonitor(LiveWidget):
    """A live view of one job: status, round k of N, each site's task, metrics, and Abort / Errors / Download."""

    wants_jobs = True

    def __init__(self, job_id: str, poller=None, name: str = "", meta: dict | None = None):
        super().__init__(poller=poller, layout=w.Layout(border="1px solid #ddd", padding="6px", width="100%"))
        self.job_id = job_id
        self.progress = job_progress(job_id, None, meta=meta) if meta else Progress(job_id, name=name)
        self._finished = threading.Event()
        self._final_fetched = False
        self._missing = 0
        self.header = w.HTML()
        self.bar = w.IntProgress(value=0, min=0, max=1, bar_style="info", layout=w.Layout(width="60%"))
        self.bar_label = w.HTML()
        self.sites = w.HTML()
        self.chart = w.HTML()
        self.detail = w.HTML()
        self.abort_button = button("Abort", "abort this job on the server (asks first)", "danger", "stop")
        self.errors_button = button("Errors", "error lines of the job's server log", icon="exclamation-triangle")
        self.download_button = button(
            "Download", "download the job's result to the kit's transfer folder", icon="download"
        )
        self.confirm = Confirm(self)
        self.abort_button.on_click(self.guarded(self._ask_abort))
        self.errors_button.on_click(self.guarded(self._errors))
        self.download_button.on_click(self.guarded(self._download))
        self.buttons = w.HBox([self.abort_button, self.errors_button, self.download_button])
        self.children = [
            self.header,
            w.HBox([self.bar, self.bar_label]),
            self.banner,
            self.sites,
            self.chart,
            self.buttons,
            self.confirm,
            self.detail,
        ]
        self._render()
        self._start()

    # -- what users read ---------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.progress.status

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def metrics(self) -> pd.DataFrame:
        """The metrics the sites reported so far: one row per (round, site, metric)."""
        frame = pd.DataFrame(self.progress.metrics, columns=["round", "site", "metric", "value"])
        return frame.astype({"round": "int64", "site": "string", "metric": "string", "value": "float64"})

    def wait(self, timeout: float | None = None):
        """Block until the job ends (or ``timeout`` seconds pass): NVFlare's ``MonitorReturnCode``."""
        if self._hidden and not self._closed:  # its output was cleared: watch again for whoever waits
            self._hidden = False
            self._poller.add(self)
        if self._finished.wait(timeout):
            return compat.MonitorReturnCode.JOB_FINISHED
        return compat.MonitorReturnCode.TIMEOUT

    def _text(self) -> str:
        return progress_text(self.progress, elapsed_seconds(self.progress))

    # -- subscriber protocol (poller thread) -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._closed or self._hidden or self._finished.is_set()

    def watched_jobs(self, snapshot) -> set:
        entry = (snapshot.jobs or {}).get(self.job_id)
        if entry is None:
            return set()
        status = str(entry.get("status", ""))
        if status == "RUNNING" or (status.startswith("FINISHED") and not self._final_fetched):
            return {self.job_id}
        return set()

    def update(self, session, snapshot) -> None:
        if snapshot.jobs is None:
            return
        entry = snapshot.jobs.get(self.job_id)
        if entry is None:
            self._missing += 1
            self.poll_failed(
                f"job {self.job_id} is not in the server's job list (deleted, or the server lost it): still watching"
            )
            return
        self._missing = 0
        d = snapshot.details.get(self.job_id)
        self.progress = job_progress(
            self.job_id,
            entry,
            meta=d.meta if d else None,
            server_stats=d.server_stats if d else None,
            client_stats=d.client_stats if d else None,
            config=d.config if d else None,
            log_text=d.log_text if d else None,
            previous=self.progress,
        )
        if d and d.errors:
            self.poll_failed(d.errors[0])
        else:
            self.poll_succeeded()
        if self.progress.finished and d is not None:
            self._final_fetched = True
        self._render()
        if self.progress.finished and self._final_fetched:
            self._finished.set()

    # -- drawing (traits only) ---------------------------------------------------------------------------------
    def _render(self) -> None:
        p = self.progress
        elapsed = elapsed_seconds(p)
        self.header.value = (
            f"<b>{render.esc(p.name or 'job')}</b> <code>{render.esc(p.job_id)}</code> {render.status_badge(p.status)}"
            + (f" <span style='color:#666'>{elapsed:.0f} s</span>" if elapsed is not None else "")
        )
        self._render_bar(p)
        rows = [{"site": s.site, "task": s.task, "state": s.state} for s in p.sites.values()]
        never_ran = p.finished and p.started is None
        empty = "the job never ran on any site" if never_ran else "no site has the job yet"
        self.sites.value = render.table(rows, ["site", "task", "state"], empty=empty)
        series: dict[str, list] = {}
        for rnd, site, metric, value in p.metrics:
            series.setdefault(f"{site} {metric}", []).append((rnd, value))
        self.chart.value = render.line_chart(series, title="metrics by round") if series else ""
        self.abort_button.layout.display = "none" if p.finished else ""
        shown = "" if p.finished and not never_ran else "none"
        self.errors_button.layout.display = shown
        self.download_button.layout.display = shown

    def _render_bar(self, p: Progress) -> None:
        outcome = p.outcome
        if p.num_rounds:
            self.bar.max = p.num_rounds
            self.bar.value = min(p.round or 0, p.num_rounds)
            self.bar_label.value = render.esc(p.round_text())
        else:  # no rounds known: a full, neutral bar that only says the job is alive
            self.bar.max = 1
            self.bar.value = 1 if p.status == "RUNNING" or p.finished else 0
            self.bar_label.value = render.esc(p.round_text() or ("running" if p.status == "RUNNING" else ""))
        if p.finished:
            self.bar.bar_style = BAR_STYLES.get(outcome, "danger")
        else:
            self.bar.bar_style = "info" if p.status == "RUNNING" else ""

    # -- buttons (kernel thread: they only queue work for the poller) ------------------------------------------
    def _ask_abort(self, _button=None):
        job = self.job_id
        self.confirm.ask(
            f"Abort job {job}?",
            lambda: self.act(
                f"aborting job {job}", lambda s: s.abort_job(job), lambda _r: self.show_info(f"abort of job {job} sent")
            ),
        )

    def _errors(self, _button=None):
        job = self.job_id

        def show(log_text):
            lines = [ln for ln in (log_text or "").splitlines() if " - ERROR - " in ln or "Traceback" in ln]
            self.clear_banner()
            text = "\n".join(lines) if lines else "no errors in the job's server log"
            self.detail.value = render.pre(text, f"errors of job {job} (server log)")

        self.act(f"reading the log of job {job}", lambda s: s.job_log(job, "server"), show)

    def _download(self, _button=None):
        job = self.job_id

        def show(path):
            self.show_info(f"result of job {job} downloaded to {path}")

        self.act(f"downloading the result of job {job}", lambda s: s.download_job_result(job), show)


def monitor(job_id: str, poller=None) -> JobMonitor:
    """A live monitor of ``job_id`` (an id or a unique prefix); returns at once."""
    from ..commands import resolve_job
    from ..session import session

    s = session()
    job = resolve_job(s, job_id)
    meta = s.get_job_meta(job)  # an unknown id fails here, in one line, not in the widget
    return JobMonitor(job, poller=poller, meta=meta)
