"""The log viewer: the tail of a target's log (or of a job's log), a grep filter and a follow mode."""

from __future__ import annotations

import re
from collections import deque

import ipywidgets as w

from .. import render
from ..connection import session as current_session
from ..errors import FlareError
from ..session import resolve_job
from ..values import whole_number
from ._base import LiveWidget, button

MAX_BUFFER = 5000


def merge_tail(buffer: list[str], tail: list[str]) -> list[str]:
    """The lines of ``tail`` that ``buffer`` does not end with yet (the new ones since the last fetch).

    ``tail`` is the last N lines of a log; it overlaps the end of ``buffer`` when the log grew by fewer than N
    lines. With no overlap (the log rotated or grew by more than N), all of ``tail`` is new."""
    if not buffer:
        return list(tail)
    for size in range(min(len(buffer), len(tail)), 0, -1):
        if buffer[-size:] == tail[:size]:
            return list(tail[size:])
    return list(tail)


def grep(lines, pattern: str) -> list[str]:
    """Lines matching ``pattern`` (a regular expression; plain text if it is not a valid one), case-insensitive."""
    if not pattern:
        return list(lines)
    try:
        rx = re.compile(pattern, re.IGNORECASE)
    except re.error:
        rx = re.compile(re.escape(pattern), re.IGNORECASE)
    return [ln for ln in lines if rx.search(ln)]


class LogViewer(LiveWidget):
    """The last lines of ``target``'s log (``server`` or a client), or of ``job``'s log on that target."""

    def __init__(
        self,
        target: str = "server",
        job: str | None = None,
        lines: int = 100,
        follow: bool = False,
        poller=None,
        max_buffer: int = MAX_BUFFER,
    ):
        super().__init__(poller=poller)
        self.target, self.job = target, job
        self.buffer: deque[str] = deque(maxlen=max_buffer)
        self._refresh_pending = True
        self.lines = w.BoundedIntText(
            value=lines, min=1, max=max_buffer, description="lines", layout=w.Layout(width="150px")
        )
        self.pattern = w.Text(placeholder="grep (regex)", layout=w.Layout(width="220px"))
        self.follow = w.Checkbox(value=follow, description="follow", indent=False, layout=w.Layout(width="90px"))
        self.refresh_button = button("Refresh", icon="refresh")
        self.count = w.HTML()
        self.text = w.HTML(layout=w.Layout(max_height="400px", overflow="auto"))
        self.refresh_button.on_click(self.guarded(self.refresh))
        self.lines.observe(self.guarded(self.refresh), names="value")
        self.pattern.observe(self.guarded(self._redraw_soon), names="value")
        self.follow.observe(self.guarded(self.refresh), names="value")
        title = f"log of job {job} on {target}" if job else f"log of {target}"
        self.title = w.HTML(render.title(title))
        self.children = [
            self.title,
            w.HBox([self.lines, self.pattern, self.follow, self.refresh_button, self.count]),
            self.banner,
            self.text,
        ]
        self._start()

    def refresh(self, _change=None) -> None:
        self._refresh_pending = True
        self._poller.wake()

    def _redraw_soon(self, _change=None) -> None:
        self._poller.wake()

    def update(self, session, snapshot) -> None:
        if self.follow.value or self._refresh_pending:
            # taken before the call: a Refresh or a new line count asked for while it runs is read at the next tick
            whole, self._refresh_pending = self._refresh_pending, False
            n = int(self.lines.value)
            try:
                if self.job:
                    new = session.job_log(self.job, self.target).splitlines()[-n:]
                else:
                    new = session.tail_target_log(self.target, options=f"-n {n}").splitlines()
            except Exception:
                self._refresh_pending = self._refresh_pending or whole
                raise
            if whole or not self.follow.value:
                self.buffer.clear()
                self.buffer.extend(new)
            else:
                self.buffer.extend(merge_tail(list(self.buffer)[-len(new) :], new))
            self.poll_succeeded()
        self._redraw()

    def _redraw(self) -> None:
        shown = grep(self.buffer, self.pattern.value)
        self.text.value = render.pre("\n".join(shown))
        what = f"{len(shown)} of {len(self.buffer)} lines" if self.pattern.value else f"{len(self.buffer)} lines"
        self.count.value = render.esc(what + (" (following)" if self.follow.value else ""))

    def _text(self) -> str:
        shown = grep(self.buffer, self.pattern.value)
        return f"log of {self.job + ' on ' if self.job else ''}{self.target} ({len(shown)} lines)\n" + "\n".join(shown)


def log_viewer(
    target: str = "server", job: str | None = None, lines: int = 100, follow: bool = False, poller=None
) -> LogViewer:
    """The tail of a target's (or a job's) log, with grep and follow."""
    s = current_session()
    if not isinstance(target, str) or not target.strip():
        raise FlareError(f"target must be 'server' or a client name, not {target!r}")
    if job is not None:
        job = resolve_job(s, job)
        s.get_job_meta(job)  # an unknown job fails here, in one line, not in the widget
    viewer = LogViewer(
        target.strip(), job=job, lines=whole_number("lines", lines, high=MAX_BUFFER), follow=follow, poller=poller
    )
    viewer._poller.prime(viewer)
    return viewer
