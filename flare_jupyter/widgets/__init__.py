"""Live widgets on the shared poller: a job monitor, jobs / clients / log panels and a dashboard."""

from .clients import ClientsPanel, clients_panel
from .dashboard import Dashboard, dashboard
from .jobs import JobsPanel, jobs_panel
from .logs import LogViewer, log_viewer
from .monitor import JobMonitor, monitor

__all__ = [
    "ClientsPanel",
    "Dashboard",
    "JobMonitor",
    "JobsPanel",
    "LogViewer",
    "clients_panel",
    "dashboard",
    "jobs_panel",
    "log_viewer",
    "monitor",
]
