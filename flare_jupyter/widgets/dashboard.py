"""The dashboard: the connection at a glance, and the jobs, clients and server-log panels in tabs."""

from __future__ import annotations

import ipywidgets as w

from .. import render
from ..connection import session as current_session
from ._base import LiveWidget
from .clients import ClientsPanel
from .jobs import JobsPanel
from .logs import LogViewer


class Dashboard(LiveWidget):
    """A header (server, user, secure or not, NVFlare version, POC or not, job counts) over tabs holding the
    jobs panel, the clients panel and the server's log. They all share the kernel's session and poller; the job
    counts are those of the jobs panel's page (a count of every job would list them all at every tick)."""

    def __init__(self, session, poller=None):
        super().__init__(poller=poller)
        self._session = session
        self.header = w.HTML()
        self.jobs = JobsPanel(poller=self._poller)
        self.clients = ClientsPanel(poller=self._poller)
        self.logs = LogViewer("server", lines=50, poller=self._poller)
        self.tabs = w.Tab(children=[self.jobs, self.clients, self.logs])
        for i, title in enumerate(("Jobs", "Clients", "Server log")):
            self.tabs.set_title(i, title)
        self.counts = ""
        self.children = [self.header, self.banner, self.tabs]
        self._draw_header()
        self._start()

    def update(self, session, snapshot) -> None:
        self._session = session
        page = self.jobs.frame  # updated before this (the panel subscribed first)
        running = int((page["status"] == "RUNNING").sum())
        total = self.jobs.total
        if total == len(page):
            counts = f"{total} jobs, {running} running"
        else:
            counts = f"the newest {len(page)} jobs: {running} running" + (f" ({total} in all)" if total else "")
        if counts != self.counts:
            self.counts = counts
            self._draw_header()

    def _draw_header(self) -> None:
        info = self._session.summary(live=False)  # the session's settings: no server call
        if self.counts:
            info["jobs"] = self.counts
        self.header.value = render.summary_line(info)

    def close(self):
        for panel in (self.jobs, self.clients, self.logs):
            panel.close()
        super().close()

    def _text(self) -> str:
        info = self._session.summary(live=False)
        head = ", ".join(f"{k}: {v}" for k, v in info.items()) + (f", {self.counts}" if self.counts else "")
        return f"FLARE dashboard ({head})\n{self.jobs._text()}\n{self.clients._text()}"


def dashboard(poller=None) -> Dashboard:
    """The connection, jobs, clients and server log in one widget."""
    d = Dashboard(current_session(), poller=poller)
    d._poller.prime(d.jobs, d.clients, d.logs, d)  # the panels first: the header counts the jobs panel's page
    return d
