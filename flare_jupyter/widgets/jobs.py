"""The jobs panel: the server's jobs as a filterable table, and actions on the selected job.

It reads the poller's shared job listing, so it costs no extra call per tick; actions queue on the poller thread.
"""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from .. import frames, render
from ._base import Confirm, LiveWidget, button, whole_number
from .monitor import JobMonitor

STATUSES = [
    "any",
    "SUBMITTED",
    "DISPATCHED",
    "RUNNING",
    "FINISHED",
    "FINISHED:COMPLETED",
    "FINISHED:ABORTED",
    "FINISHED:EXECUTION_EXCEPTION",
]
ORDERS = {"newest first": True, "oldest first": False}


def filter_jobs(
    frame: pd.DataFrame,
    name: str = "",
    job_id: str = "",
    status: str = "any",
    limit: int = 50,
    newest_first: bool = True,
) -> pd.DataFrame:
    """The rows of a ``jobs_frame`` that match the panel's filters (pure, so it is tested on its own)."""
    out = frame
    if name.strip():
        out = out[out["name"].astype(str).str.startswith(name.strip())]
    if job_id.strip():
        out = out[out["job_id"].astype(str).str.startswith(job_id.strip())]
    if status and status != "any":
        st = out["status"].astype(str)
        out = out[st.str.startswith(status)] if status == "FINISHED" else out[st == status]
    out = out.sort_values("submit_time", ascending=not newest_first, kind="stable", na_position="last")
    return out.head(max(0, int(limit))).reset_index(drop=True)


class JobsPanel(LiveWidget):
    """Jobs with filters (name prefix, id prefix, status), limit and order; refresh and auto-refresh; and for the
    selected job: monitor, abort, clone, delete (both destructive ones ask first), download, meta, errors, stats."""

    def __init__(self, poller=None, limit: int = 50, auto_refresh: bool = True):
        super().__init__(poller=poller)
        self.frame = frames.jobs_frame([])
        self.shown = self.frame
        self._refresh_pending = True
        self.name_filter = w.Text(placeholder="name starts with", layout=w.Layout(width="160px"))
        self.id_filter = w.Text(placeholder="id starts with", layout=w.Layout(width="140px"))
        self.status_filter = w.Dropdown(options=STATUSES, value="any", layout=w.Layout(width="200px"))
        self.limit = w.BoundedIntText(
            value=limit, min=1, max=100_000, description="limit", layout=w.Layout(width="140px")
        )
        self.order = w.Dropdown(options=list(ORDERS), value="newest first", layout=w.Layout(width="130px"))
        self.refresh_button = button("Refresh", icon="refresh")
        self.auto = w.Checkbox(
            value=auto_refresh, description="auto-refresh", indent=False, layout=w.Layout(width="120px")
        )
        self.table = w.HTML()
        self.count = w.HTML()
        self.select = w.Dropdown(options=[], description="job", layout=w.Layout(width="480px"))
        self.buttons = {
            label: button(label)
            for label in ("Monitor", "Abort", "Clone", "Delete", "Download", "Meta", "Errors", "Stats")
        }
        self.buttons["Abort"].button_style = self.buttons["Delete"].button_style = "danger"
        self.confirm = Confirm(self)
        self.detail = w.HTML()
        self.monitors = w.VBox()
        for widget in (self.name_filter, self.id_filter, self.status_filter, self.limit, self.order):
            widget.observe(self.guarded(self._filters_changed), names="value")
        self.refresh_button.on_click(self.guarded(self.refresh))
        self.auto.observe(self.guarded(self._filters_changed), names="value")
        for label, b in self.buttons.items():
            b.on_click(self.guarded(getattr(self, f"_{label.lower()}")))
        self.children = [
            w.HBox([self.name_filter, self.id_filter, self.status_filter, self.limit, self.order]),
            w.HBox([self.refresh_button, self.auto, self.count]),
            self.banner,
            self.table,
            w.HBox([self.select]),
            w.HBox(list(self.buttons.values())),
            self.confirm,
            self.detail,
            self.monitors,
        ]
        self._start()

    # -- subscriber protocol -----------------------------------------------------------------------------------
    @property
    def wants_jobs(self) -> bool:
        return self.auto.value or self._refresh_pending

    def update(self, session, snapshot) -> None:
        if snapshot.jobs is None:
            return
        self._refresh_pending = False
        self.frame = frames.jobs_frame(list(snapshot.jobs.values()))
        self.poll_succeeded()
        self._redraw()

    def refresh(self, _button=None) -> None:
        """Fetch the job list at the next tick (now)."""
        self._refresh_pending = True
        self._poller.wake()

    def _filters_changed(self, _change=None) -> None:
        self.refresh()

    def _redraw(self) -> None:
        self.shown = filter_jobs(
            self.frame,
            self.name_filter.value,
            self.id_filter.value,
            self.status_filter.value,
            self.limit.value,
            ORDERS[self.order.value],
        )
        cols = [c for c in ("job_id", "name", "status", "submit_time", "duration") if c in self.shown.columns]
        self.table.value = render.frame_html(self.shown[cols]) if len(self.shown) else "<i>no job matches</i>"
        self.count.value = render.esc(f"{len(self.shown)} of {len(self.frame)} jobs")
        options = [(f"{r.name} · {r.job_id[:8]} · {r.status}", r.job_id) for r in self.shown.itertuples()]
        current = self.select.value
        self.select.options = options
        ids = [v for _, v in options]
        self.select.value = current if current in ids else (ids[0] if ids else None)

    def _text(self) -> str:
        if not len(self.frame):
            return "jobs panel: no jobs"
        return f"jobs panel ({len(self.shown)} of {len(self.frame)} jobs)\n" + self.shown.to_string(index=False)

    # -- actions on the selected job ---------------------------------------------------------------------------
    def _job(self) -> str:
        job = self.select.value
        if not job:
            raise ValueError("select a job first")
        return job

    def _monitor(self, _b=None):
        job = self._job()
        name = self.frame.loc[self.frame["job_id"] == job, "name"]
        m = JobMonitor(job, poller=self._poller, name=str(name.iloc[0]) if len(name) else "")
        self.monitors.children = (m, *self.monitors.children)[:5]

    def _abort(self, _b=None):
        job = self._job()
        self.confirm.ask(
            f"Abort job {job}?",
            lambda: self.act(
                f"aborting job {job}", lambda s: s.abort_job(job), lambda _r: self._done(f"abort of job {job} sent")
            ),
        )

    def _delete(self, _b=None):
        job = self._job()
        self.confirm.ask(
            f"Delete job {job} and its results from the server?",
            lambda: self.act(
                f"deleting job {job}", lambda s: s.delete_job(job), lambda _r: self._done(f"job {job} deleted")
            ),
        )

    def _clone(self, _b=None):
        job = self._job()
        self.act(f"cloning job {job}", lambda s: s.clone_job(job), lambda new: self._done(f"job {job} cloned as {new}"))

    def _download(self, _b=None):
        job = self._job()
        self.act(
            f"downloading the result of job {job}",
            lambda s: s.download_job_result(job),
            lambda path: self._done(f"result of job {job} downloaded to {path}"),
        )

    def _meta(self, _b=None):
        job = self._job()
        self.act(
            f"reading the meta of job {job}",
            lambda s: s.get_job_meta(job),
            lambda meta: self._detail(render.key_value_table(f"meta of job {job}", meta)),
        )

    def _errors(self, _b=None):
        job = self._job()
        self.act(
            f"reading the errors of job {job}",
            lambda s: _errors_of(s, job),
            lambda frame: self._detail(_frame_or(frame, f"no errors reported for job {job}")),
        )

    def _stats(self, _b=None):
        job = self._job()
        self.act(
            f"reading the stats of job {job}",
            lambda s: frames.stats_frame(s.show_stats(job, "server")),
            lambda frame: self._detail(_frame_or(frame, f"no stats for job {job}")),
        )

    def _done(self, message: str) -> None:
        self.show_info(message)
        self.refresh()

    def _detail(self, html: str) -> None:
        self.clear_banner()
        self.detail.value = html


def _errors_of(session, job: str) -> pd.DataFrame:
    parts = [
        frames.errors_frame(session.show_errors(job, "server")),
        frames.errors_frame(session.show_errors(job, "client")),
    ]
    return pd.concat(parts, ignore_index=True)


def _frame_or(frame: pd.DataFrame, empty: str) -> str:
    return render.frame_html(frame) if len(frame) else f"<i>{render.esc(empty)}</i>"


def jobs_panel(poller=None, limit: int = 50) -> JobsPanel:
    from ..session import session

    session()  # not connected: one clear line now, not an empty panel
    panel = JobsPanel(poller=poller, limit=whole_number("limit", limit))
    panel._poller.prime(panel)  # shown with its jobs at once, not empty until the first tick
    return panel
