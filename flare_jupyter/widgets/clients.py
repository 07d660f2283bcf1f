"""The clients panel: connected clients, whether each still sends heartbeats, when each last connected, what job
each runs; env, restart, shutdown."""

from __future__ import annotations

import time

import ipywidgets as w
import pandas as pd

from .. import compat, frames, render
from ..connection import session as current_session
from ._base import Confirm, LiveWidget, button

_now = time.monotonic  # the panel's clock: its refreshes and the heartbeat count (a test turns it)


def clients_table(clients: pd.DataFrame, job_status: pd.DataFrame, silent: dict | None = None) -> pd.DataFrame:
    """One row per client the server lists: name, state ('connected', or 'silent N s' for one that has sent no
    heartbeat for N seconds: ``compat.ClientHeartbeats``), last_connect_time, and the jobs it runs (pure)."""
    silent = silent or {}
    out = clients.copy()
    states = ["connected" if str(n) not in silent else f"silent {silent[str(n)]:.0f} s" for n in out["name"]]
    out.insert(1, "state", pd.array(states, dtype="string"))
    jobs = {}
    if len(job_status) and "client_name" in job_status.columns:
        for client, group in job_status.groupby("client_name", observed=True):
            ids = [str(j) for j in group.get("job_id", []) if isinstance(j, str) and j]
            jobs[str(client)] = ", ".join(ids)
    out["jobs"] = pd.array([jobs.get(str(n), "") for n in out["name"]], dtype="string")
    return out


class ClientsPanel(LiveWidget):
    """Connected clients, refreshed every ``every`` seconds (two calls), with env / restart / shutdown of one."""

    def __init__(self, poller=None, every: float = 5.0, auto_refresh: bool = True):
        super().__init__(poller=poller)
        self.every = every
        self.frame = clients_table(frames.clients_frame([]), frames.client_job_status_frame([]))
        self._last = 0.0
        self._refresh_pending = True
        self._heartbeats = compat.ClientHeartbeats()
        self.table = w.HTML()
        self.refresh_button = button("Refresh", icon="refresh")
        self.auto = w.Checkbox(
            value=auto_refresh, description="auto-refresh", indent=False, layout=w.Layout(width="120px")
        )
        self.select = w.Dropdown(options=[], description="client", layout=w.Layout(width="300px"))
        self.env_button = button("Env", "the client's environment")
        self.restart_button = button("Restart", "restart this client (asks first)", "warning")
        self.shutdown_button = button("Shutdown", "shut this client down (asks first)", "danger")
        self.confirm = Confirm(self)
        self.detail = w.HTML()
        self.refresh_button.on_click(self.guarded(self.refresh))
        self.track_choice(self.select)
        self.env_button.on_click(self.guarded(self._env))
        self.restart_button.on_click(self.guarded(self._restart))
        self.shutdown_button.on_click(self.guarded(self._shutdown))
        self.children = [
            w.HBox([self.refresh_button, self.auto]),
            self.banner,
            self.table,
            w.HBox([self.select, self.env_button, self.restart_button, self.shutdown_button]),
            self.confirm,
            self.detail,
        ]
        self._start()

    def refresh(self, _button=None) -> None:
        self._refresh_pending = True
        self._poller.wake()

    def update(self, session, snapshot) -> None:
        now = _now()
        due = self.auto.value and now - self._last >= self.every
        if not (due or self._refresh_pending):
            return
        self._refresh_pending = False
        self._last = now
        listed = session.get_connected_client_list() or []
        times = {str(getattr(c, "name", "")): getattr(c, "last_connect_time", None) for c in listed}
        silent = self._heartbeats.silent(times, now)
        clients = frames.clients_frame(listed)
        status = (
            frames.client_job_status_frame(session.get_client_job_status())
            if len(clients)
            else frames.client_job_status_frame([])
        )
        self.frame = clients_table(clients, status, silent)
        self.poll_succeeded()
        self.table.value = (
            render.frame_html(self.frame) + silence_note(silent)
            if len(self.frame)
            else render.note("no client is connected")
        )
        self.replace_choices([str(n) for n in self.frame["name"]])
        self.permit_buttons(session)

    def permit_buttons(self, session) -> None:
        """Env, Restart and Shutdown as the session's user may use them on the selected client (its organisation
        and policy decide: ``LiveWidget.permit``)."""
        site = self.chosen or "server"
        self.permit(self.env_button, session, "get_client_env", site=site)
        self.permit(self.restart_button, session, "restart", site=site)
        self.permit(self.shutdown_button, session, "shutdown", site=site)

    def _selected(self, _change=None) -> None:
        if self._permit_session is not None:  # no server call: the policy answers from what it holds
            self.permit_buttons(self._permit_session)

    def _text(self) -> str:
        if not len(self.frame):
            return "clients panel: no client connected"
        return "clients panel\n" + self.frame.to_string(index=False)

    def _client(self) -> str:
        if not self.chosen:
            raise ValueError("select a client first")
        return self.chosen

    def _env(self, _b=None):
        name = self._client()
        self.act(
            f"reading the env of {name}",
            self.refused_inside("get_client_env", lambda s: s.get_client_env([name])),
            lambda envs: self._show(render.frame_html(frames.client_env_frame(envs))),
        )

    def _restart(self, _b=None):
        name = self._client()
        self.confirm_then_act(
            f"Restart client {name}?",
            f"restarting {name}",
            self.refused_inside("restart", lambda s: s.restart("client", [name], **compat.state_change_wait())),
            lambda _r: self._sent(f"restart of {name} sent"),
        )

    def _shutdown(self, _b=None):
        name = self._client()
        self.confirm_then_act(
            f"Shut down client {name}? It will not come back by itself.",
            f"shutting down {name}",
            lambda s: s.shutdown("client", [name], **compat.state_change_wait()),
            lambda _r: self._sent(f"shutdown of {name} sent"),
        )

    def _sent(self, message: str) -> None:
        self.show_info(message)
        self.refresh()

    def _show(self, html: str) -> None:
        self.clear_banner()
        self.detail.value = html


def silence_note(silent: dict) -> str:
    """One line (HTML) on the clients that send no heartbeat; nothing when every client does."""
    if not silent:
        return ""
    names = ", ".join(render.isolated(n) for n in sorted(silent))
    some = "has" if len(silent) == 1 else "have"
    return (
        f"<i>{names} {some} sent no heartbeat for {min(silent.values()):.0f} s or more: stopped or unable to reach "
        "the server (NVFlare lists a client until its heartbeat timeout, 10 minutes by default)</i>"
    )


def clients_panel(poller=None) -> ClientsPanel:
    """Connected clients, live, with env / restart / shutdown."""
    current_session()
    panel = ClientsPanel(poller=poller)
    panel._poller.prime(panel)
    return panel
