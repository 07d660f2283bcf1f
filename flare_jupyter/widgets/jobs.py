"""The jobs panel: the server's jobs as a filterable table, and actions on the selected job.

Its rows are a page of the job list as the server filters it (``job_list.JobQuery``: name and id prefix, the newest
``limit`` jobs, in the chosen order), listed when the filters change, on Refresh, and automatically as often as the
poller finds a listing cheap enough on this server (a listing's cost grows with every job the server keeps); in
between, the poller's status calls keep its unfinished rows current. The server cannot filter by status, so the
status filter applies to the page, and the panel says so. Actions queue on the poller thread.
"""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from .. import frames, policy, render
from ..connection import session as current_session
from ..job_list import JobQuery
from ..session import delete_when_stored
from ..values import whole_number
from ._base import Confirm, LiveWidget, button
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
#: Unfinished rows whose status the poller refreshes every tick between listings (the newest first).
LIVE_ROWS = 10
#: The session operations behind each action button on the selected job (what the user's role must allow).
JOB_ACTIONS = {
    "Monitor": ("get_job_meta",),
    "Abort": ("abort_job",),
    "Clone": ("clone_job",),
    "Delete": ("delete_job",),
    "Download": ("download_job_result",),
    "Meta": ("get_job_meta",),
    "Errors": ("show_errors",),
    "Stats": ("show_stats",),
}


def filter_jobs(
    frame: pd.DataFrame,
    name: str = "",
    job_id: str = "",
    status: str = "any",
    limit: int = 50,
    newest_first: bool = True,
) -> pd.DataFrame:
    """The rows of a ``jobs_frame`` that match the panel's filters (pure, so it is tested on its own); ``limit`` 0
    shows them all, as NVFlare's ``list_jobs`` reads it."""
    out = frame
    if name.strip():
        out = out[out["name"].astype(str).str.startswith(name.strip())]
    if job_id.strip():
        out = out[out["job_id"].astype(str).str.startswith(job_id.strip())]
    if status and status != "any":
        st = out["status"].astype(str)
        out = out[st.str.startswith(status)] if status == "FINISHED" else out[st == status]
    out = out.sort_values("submit_time", ascending=not newest_first, kind="stable", na_position="last")
    limit = int(limit or 0)
    return (out.head(limit) if limit > 0 else out).reset_index(drop=True)


class JobsPanel(LiveWidget):
    """Jobs with filters (name prefix, id prefix, status), limit and order; refresh and auto-refresh; and for the
    selected job: monitor, abort, clone, delete (both destructive ones ask first), download, meta, errors, stats."""

    def __init__(self, poller=None, limit: int = 50, auto_refresh: bool = True):
        """``limit``: the newest jobs shown (0: all)."""
        super().__init__(poller=poller)
        self.frame = frames.jobs_frame([])  # the page the server listed
        self.shown = self.frame  # the page, filtered by status
        self.total: int | None = None  # jobs on the server, when the page was taken from a whole listing
        self._entries: dict[str, dict] = {}  # the page's list_jobs entries by id, in the server's order
        self._refresh_pending = self._redraw_pending = True
        self._listed_tick: int | None = None
        self.name_filter = w.Text(placeholder="name starts with", layout=w.Layout(width="160px"))
        self.id_filter = w.Text(placeholder="id starts with", layout=w.Layout(width="140px"))
        self.status_filter = w.Dropdown(options=STATUSES, value="any", layout=w.Layout(width="200px"))
        self.limit = w.BoundedIntText(
            value=limit, min=0, max=100_000, description="limit", tooltip="0: all jobs", layout=w.Layout(width="140px")
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
        self._metas: dict[str, dict] = {}  # jobs' meta, read once each where the user's role needs the submitter
        self.track_choice(self.select)
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

    # -- subscriber protocol ---------------------------------------------------------------------------------
    @property
    def query(self) -> JobQuery:
        """The page of the job list the filters ask the server for."""
        return JobQuery(
            limit=int(self.limit.value),
            reverse=ORDERS[self.order.value],
            name_prefix=self.name_filter.value.strip() or None,
            id_prefix=self.id_filter.value.strip() or None,
        )

    def job_page(self, tick: int):
        """(the page, whether to list it now): after a change or a Refresh, else every ``listing_every`` ticks."""
        if not (self.auto.value or self._refresh_pending):
            return None
        listed = self._listed_tick
        due = self._refresh_pending or listed is None or tick - listed >= self._poller.listing_every()
        return self.query, due

    def status_jobs(self) -> set:
        """The unfinished rows (the newest ``LIVE_ROWS``): their status moves between listings."""
        if not self.auto.value:
            return set()
        unfinished = [j for j, e in self._entries.items() if not str(e.get("status", "")).startswith("FINISHED")]
        return set(unfinished[:LIVE_ROWS])

    def update(self, session, snapshot) -> None:
        page = snapshot.pages.get(self.query)
        total = self.total
        if page is not None:
            entries = {e.get("job_id"): e for e in page}
            self._refresh_pending, self._listed_tick = False, snapshot.tick
            total = len(snapshot.jobs) if snapshot.complete else None
        elif snapshot.jobs and not self._refresh_pending:  # between listings: the rows' fresher statuses
            entries = {job: snapshot.jobs.get(job, e) for job, e in self._entries.items()}
        else:
            return
        self.poll_succeeded()
        if self._redraw_pending or entries != self._entries or total != self.total:  # else nothing to draw
            self._entries, self.total, self._redraw_pending = entries, total, False
            self.frame = frames.jobs_frame(list(entries.values()))
            self._redraw()
        self.permit_buttons(session)  # a refusal learned since the last tick disables its button

    def permit_buttons(self, session, fetch: bool = True) -> None:
        """Each action on the selected job as the session's user may take it (``LiveWidget.permit``). The job's
        meta (its submitter, which a refusal names) is read once per job, unless the user may do everything
        whoever submitted it; without ``fetch`` (the kernel's thread) a job not read yet waits for the next tick."""
        job_id = self.chosen
        meta = self._job_meta(session, job_id, fetch) if job_id else None
        for label, operations in JOB_ACTIONS.items():
            self.permit(self.buttons[label], session, *operations, job=meta)

    def _job_meta(self, session, job_id: str, fetch: bool) -> dict | None:
        if job_id in self._metas:
            return self._metas[job_id]
        ops = [op for operations in JOB_ACTIONS.values() for op in operations]
        # no identity to judge (insecure, or no readable certificate), or allowed whoever submitted it: nothing to read
        if policy.session_identity(session) is None or all(policy.may(session, op).allowed for op in ops):
            return {"job_id": job_id}
        if not fetch:
            self.refresh()
            return None
        try:
            self._metas[job_id] = session.get_job_meta(job_id)
        except Exception:  # e.g. deleted meanwhile: the next listing drops it; the server decides a click
            return None
        return self._metas[job_id]

    def _selected(self, _change=None) -> None:
        if self._permit_session is not None:
            self.permit_buttons(self._permit_session, fetch=False)

    def refresh(self, _button=None) -> None:
        """List the page at the next tick (now), and draw it (the filters may have changed)."""
        self._refresh_pending = self._redraw_pending = True
        self._poller.wake()

    def _filters_changed(self, _change=None) -> None:
        self.refresh()

    def _redraw(self) -> None:
        """Draw the page as filtered; ``shown`` changes last, so whoever reads it (a test, the text fallback) sees
        a table and selection that already match it (a click on Delete right then acts on a row that is shown)."""
        shown = filter_jobs(
            self.frame,
            self.name_filter.value,
            self.id_filter.value,
            self.status_filter.value,
            self.limit.value,
            ORDERS[self.order.value],
        )
        cols = [c for c in ("job_id", "name", "status", "submit_time", "duration") if c in shown.columns]
        self.table.value = render.frame_html(shown[cols]) if len(shown) else render.note("no job matches")
        self.count.value = render.esc(self._count_text(shown))
        self.replace_choices([(f"{r.name} · {r.job_id[:8]} · {r.status}", r.job_id) for r in shown.itertuples()])
        self.shown = shown

    def _count_text(self, shown: pd.DataFrame) -> str:
        """How many rows show, of what: the page (and the server's whole list when known), the status filter's
        reach, and how often the page is listed when listings are dear here."""
        text = f"{len(shown)} of {len(self.frame)} jobs"
        if self.total is not None and self.total > len(self.frame):
            text += f" (the newest {len(self.frame)} of {self.total} on the server)"
        elif self.total is None and self.limit.value and len(self.frame) >= self.limit.value:
            text += f" (the newest {len(self.frame)}: raise the limit for more)"
        if self.status_filter.value != "any":
            text += " · status filtered in this page: the server filters by name and id only"
        every, cost = self._poller.listing_every(), self._poller.costs.get("list_jobs")
        if self.auto.value and every > 1 and cost:
            seconds = every * self._poller.delay()
            text += f" · listed every {seconds:.0f} s (a listing takes {cost * 1000:.0f} ms here): Refresh lists now"
        return text

    def _text(self) -> str:
        if not len(self.frame):
            return "jobs panel: no jobs"
        return f"jobs panel ({len(self.shown)} of {len(self.frame)} jobs)\n" + self.shown.to_string(index=False)

    # -- actions on the selected job ---------------------------------------------------------------------------
    def _job(self) -> str:
        job = self.chosen
        if not job:
            raise ValueError("select a job first")
        return job

    def _monitor(self, _b=None):
        job = self._job()
        name = self.frame.loc[self.frame["job_id"] == job, "name"]
        m = JobMonitor(job, poller=self._poller, name=str(name.iloc[0]) if len(name) else "")
        if job in self._metas and self._permit_session is not None:  # its buttons as the user may use them
            m._meta = self._metas[job]
            m.permit_buttons(self._permit_session)
        self.monitors.children = (m, *self.monitors.children)[:5]

    def _abort(self, _b=None):
        job = self._job()
        self.confirm_then_act(
            f"Abort job {job}?",
            f"aborting job {job}",
            lambda s: self._poller.abort(s, job, on_again=self._done),
            lambda _r: self._done(f"abort of job {job} sent"),
        )

    def _delete(self, _b=None):
        job = self._job()
        self.confirm_then_act(
            f"Delete job {job} and its results from the server?",
            f"deleting job {job}",
            lambda s: delete_when_stored(s, job),
            lambda _r: self._done(f"job {job} deleted"),
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
    return render.frame_html(frame) if len(frame) else render.note(empty)


def jobs_panel(limit: int | None = 50, poller=None) -> JobsPanel:
    """The jobs as a live, filterable table with actions on the selected job: the newest ``limit`` (0 or None: all
    of them, as NVFlare's ``list_jobs`` reads it)."""
    limit = whole_number("limit", 0 if limit is None else limit, low=0, high=100_000, hint=" (0 for all jobs)")
    current_session()  # not connected: one clear line now, not an empty panel
    panel = JobsPanel(poller=poller, limit=limit)
    panel._poller.prime(panel)  # shown with its jobs at once, not empty until the first tick
    return panel
