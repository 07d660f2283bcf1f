"""The live job monitor: returns at once, updates itself from the shared poller while the kernel stays free.

m = fj.monitor(job_id)      # or %flare monitor_job JOB
m.wait()                    # block until the job ends; returns NVFlare's MonitorReturnCode
m.metrics                   # DataFrame (round, site, metric, value)

The chart shows one metric at a time (a picker lists every metric the sites reported), every round, a line per site
and one for the aggregated values when the rows hold them. A job that ends in an abnormal state (not COMPLETED, not
ABORTED) gets its triage under the chart: where the failure started, and each target's first error and exception.
"""

from __future__ import annotations

import threading

import ipywidgets as w

from .. import compat, render
from ..connection import session as current_session
from ..failures import ended_abnormally, failures, failures_text, job_logs, origin
from ..metrics import MetricsFrame, metrics_frame
from ..progress import Progress, elapsed_seconds, job_progress, progress_text
from ..session import resolve_job
from ._base import Confirm, LiveWidget, button

BAR_STYLES = {"COMPLETED": "success", "ABORTED": "warning", "ABANDONED": "warning"}


class JobMonitor(LiveWidget):
    """A live view of one job: status, round k of N, each site's task, metrics, and Abort / Errors / Download."""

    def __init__(self, job_id: str, poller=None, name: str = "", meta: dict | None = None):
        super().__init__(poller=poller, layout=w.Layout(border="1px solid #ddd", padding="6px", width="100%"))
        self.job_id = job_id
        self.progress = job_progress(job_id, None, meta=meta) if meta else Progress(job_id, name=name)
        self._finished = threading.Event()
        self._final_fetched = False
        self._shown = None  # what the bar, sites and chart last showed (see _render)
        self.header = w.HTML()
        self.bar = w.IntProgress(value=0, min=0, max=1, bar_style="info", layout=w.Layout(width="60%"))
        self.bar_label = w.HTML()
        self.sites = w.HTML()
        self.metric_picker = w.Dropdown(description="metric", options=[], layout=w.Layout(width="auto", display="none"))
        self.metric_picker.observe(self.guarded(self._draw_chart), names="value")
        self.chart = w.HTML()
        self.triage = w.HTML()
        self.failures: list = []  # each target's first error, once the job ended in an abnormal state
        self._triage_read = False
        self.detail = w.HTML()
        self.abort_button = button("Abort", "abort this job on the server (asks first)", "danger", "stop")
        self.errors_button = button("Errors", "error lines of the job's server log", icon="exclamation-triangle")
        self.download_button = button(
            "Download", "download the job's result to the kit's transfer folder", icon="download"
        )
        self.confirm = Confirm(self)
        self._meta = meta  # the job's meta (its submitter decides what a lead or org_admin may do with it)
        self.abort_button.on_click(self.guarded(self._ask_abort))
        self.errors_button.on_click(self.guarded(self._errors))
        self.download_button.on_click(self.guarded(self._download))
        self.buttons = w.HBox([self.abort_button, self.errors_button, self.download_button])
        self.children = [
            self.header,
            w.HBox([self.bar, self.bar_label]),
            self.banner,
            self.sites,
            self.metric_picker,
            self.chart,
            self.triage,
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
    def metrics(self) -> MetricsFrame:
        """The metrics the sites reported so far: one row per (round, site, metric); ``.source`` says where from
        (the job's round records, with each round's aggregated values, or its server log)."""
        return metrics_frame(self.progress.metrics, source=self.progress.metrics_source)

    def wait(self, timeout: float | None = None):
        """Block until the job ends (or ``timeout`` seconds pass): NVFlare's ``MonitorReturnCode``."""
        if self._hidden and not self._closed:  # its output was cleared: watch again for whoever waits
            self._hidden = False
            self._poller.add(self)
        if self._finished.wait(timeout):
            return compat.MonitorReturnCode.JOB_FINISHED
        return compat.MonitorReturnCode.TIMEOUT

    def _text(self) -> str:
        text = progress_text(self.progress, elapsed_seconds(self.progress))
        return text + ("\n" + failures_text(self.failures) if self.failures else "")

    # -- subscriber protocol (poller thread) -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._closed or self._hidden or self._finished.is_set()

    def status_jobs(self) -> set:
        return {self.job_id}

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
            self.poll_failed(
                f"job {self.job_id} is not in the server's job list (deleted, or the server lost it): still watching"
            )
            return
        d = snapshot.details.get(self.job_id)
        progress = job_progress(
            self.job_id,
            entry,
            meta=d.meta if d else None,
            server_stats=d.server_stats if d else None,
            client_stats=d.client_stats if d else None,
            config=d.config if d else None,
            previous=self.progress,
            log_round=d.round if d else None,
            metrics=d.metrics if d else None,
            metrics_source=d.metrics_source if d else "",
        )
        if d and d.errors:
            self.poll_failed(d.errors[0])
        else:
            self.poll_succeeded()
        if progress.finished and d is not None:
            self._final_fetched = True
            self._read_triage(session, progress)
        self.progress = progress  # after the triage: who sees the status FINISHED sees why it ended too
        self._meta = (d.meta if d else None) or self._meta
        self.permit_buttons(session)
        self._render()
        if self.progress.finished and self._final_fetched:
            self._finished.set()

    # -- drawing (traits only) ---------------------------------------------------------------------------------
    def _render(self) -> None:
        p = self.progress
        elapsed = elapsed_seconds(p)
        self.header.value = render.job_header(p.name, p.job_id, p.status, elapsed)
        # the rest is drawn again only when what it shows changed (most ticks change only the elapsed time)
        shown = (p.status, p.round, p.num_rounds, p.started is None, list(p.sites.values()), p.metrics)
        if shown == self._shown:
            return
        self._shown = shown
        self._render_bar(p)
        rows = [{"site": s.site, "task": s.task, "state": s.state} for s in p.sites.values()]
        never_ran = p.finished and p.started is None
        empty = "the job never ran on any site" if never_ran else "no site has the job yet"
        self.sites.value = render.table(rows, ["site", "task", "state"], empty=empty)
        self._offer_metrics([m for _r, _s, m, _v in p.metrics])
        self._draw_chart()
        self.abort_button.layout.display = "none" if p.finished else ""
        ended = "" if p.finished and not never_ran else "none"
        self.errors_button.layout.display = ended
        self.download_button.layout.display = ended

    def _offer_metrics(self, names: list[str]) -> None:
        """The picker lists every metric reported so far, in the order they first came; the choice is kept."""
        offered = list(dict.fromkeys(names))
        picker = self.metric_picker
        if offered != list(picker.options):
            chosen = picker.value if picker.value in offered else (offered[0] if offered else None)
            picker.options = offered  # (selects the first one; each change redraws the chart)
            picker.value = chosen
        picker.layout.display = "" if offered else "none"

    def _draw_chart(self, _change=None) -> None:
        """The picked metric, every round: a line per site, and the aggregated values where the rows hold them."""
        metric = self.metric_picker.value
        series: dict[str, list] = {}
        for rnd, site, name, value in self.progress.metrics:
            if name == metric:
                series.setdefault(f"{site} {name}", []).append((rnd, value))
        self.chart.value = render.line_chart(series, title=f"{metric} by round") if series else ""

    def _read_triage(self, session, progress: Progress) -> None:
        """Once, when the job ended in an abnormal state: each target's job log read and its first error shown."""
        if self._triage_read or not ended_abnormally(progress.status) or progress.started is None:
            return
        self._triage_read = True
        found = failures(job_logs(session, self.job_id, ["server", *progress.sites]))
        first = origin(found)
        self.failures = found
        heading = f"why job {progress.name or self.job_id} ended {progress.status}"
        self.triage.value = render.triage(heading, first.target if first else None, [f.view() for f in found])

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

    def permit_buttons(self, session) -> None:
        """Abort, Errors and Download as the session's user may use them on this job (see ``LiveWidget.permit``)."""
        job = {**self._meta, "job_id": self.job_id} if self._meta else None
        log_operations = compat.job_log_operations("server", self.progress.finished)
        self.permit(self.abort_button, session, "abort_job", job=job)
        self.permit(self.errors_button, session, *log_operations, job=job)
        self.permit(self.download_button, session, "download_job_result", job=job)

    # -- buttons (kernel thread: they only queue work for the poller) ------------------------------------------
    def _ask_abort(self, _button=None):
        job = self.job_id
        self.confirm_then_act(
            f"Abort job {job}?",
            f"aborting job {job}",
            lambda s: self._poller.abort(s, job, on_again=self.show_info),
            lambda _r: self.show_info(f"abort of job {job} sent"),
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
    """A live monitor of ``job_id`` (an id or a unique prefix); returns at once. ``.wait()`` blocks."""
    s = current_session()
    job = resolve_job(s, job_id)
    meta = s.get_job_meta(job)  # an unknown id fails here, in one line, not in the widget
    m = JobMonitor(job, poller=poller, meta=meta)
    m.permit_buttons(s)  # what this user may do with the job is known from its meta: shown at once
    return m
