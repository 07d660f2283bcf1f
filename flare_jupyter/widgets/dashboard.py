"""The dashboard: the connection at a glance, and the jobs, clients and server-log panels in tabs."""

from __future__ import annotations

import ipywidgets as w

from .. import compat, render
from ._base import LiveWidget
from .clients import ClientsPanel
from .jobs import JobsPanel
from .logs import LogViewer


def connection_summary(session) -> dict:
    """What the header shows; read from the session's settings, no server call."""
    return {
        "server": session.server,
        "user": session.username or "admin",
        "mode": "secure" if session.secure else "insecure",
        "nvflare": str(compat.NVFLARE_VERSION),
        "system": "embedded (POC)" if session.origin == "poc" else "remote",
    }


class Dashboard(LiveWidget):
    """A header (server, user, secure or not, NVFlare version, POC or not, job counts) over tabs holding the
    jobs panel, the clients panel and the server's log. They all share the kernel's session and poller."""

    wants_jobs = True

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
        if snapshot.jobs is None:
            return
        self._session = session
        statuses = [str(j.get("status", "")) for j in snapshot.jobs.values()]
        running = sum(s == "RUNNING" for s in statuses)
        self.counts = f"{len(statuses)} jobs, {running} running"
        self.poll_succeeded()
        self._draw_header()

    def _draw_header(self) -> None:
        info = connection_summary(self._session)
        if self.counts:
            info["jobs"] = self.counts
        self.header.value = (
            "<div>" + " &middot; ".join(f"<b>{render.esc(k)}</b> {render.esc(v)}" for k, v in info.items()) + "</div>"
        )

    def close(self):
        for panel in (self.jobs, self.clients, self.logs):
            panel.close()
        super().close()

    def _text(self) -> str:
        info = connection_summary(self._session)
        head = ", ".join(f"{k}: {v}" for k, v in info.items()) + (f", {self.counts}" if self.counts else "")
        return f"FLARE dashboard ({head})\n{self.jobs._text()}\n{self.clients._text()}"


def dashboard(poller=None) -> Dashboard:
    from ..session import session

    d = Dashboard(session(), poller=poller)
    d._poller.prime(d, d.jobs, d.clients, d.logs)
    return d
