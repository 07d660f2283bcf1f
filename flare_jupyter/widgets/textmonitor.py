"""The job monitor as text, for terminals and ``%flare monitor --text``: NVFlare's own blocking monitor loop, with
one line of progress updated in place at every poll (the same ``progress`` model the widget draws)."""

from __future__ import annotations

import time

from IPython.display import display, update_display

from .. import compat, settings
from ..progress import job_progress, progress_text
from ..render import Message


def watch(session, job: str, timeout: float = 0.0, poll_interval: float | None = None):
    """Block until ``job`` ends (or ``timeout`` seconds pass; 0 never times out), showing its progress as text
    unless ``settings.progress`` is off. Returns NVFlare's ``MonitorReturnCode``."""
    session.get_job_meta(job)  # an unknown job fails here, in one line, before any progress is shown
    started = time.monotonic()
    handle = f"flare-monitor-{job}-{started}"
    show = display if settings.progress else (lambda *a, **k: None)
    update = update_display if settings.progress else (lambda *a, **k: None)
    show(Message(f"job {job}: waiting for status ..."), display_id=handle)

    def on_poll(_session, job_id, meta, *a, **k):
        p = job_progress(job_id, None, meta=meta)
        update(Message(progress_text(p, time.monotonic() - started)), display_id=handle)
        return True

    rc = session.monitor_job(job, timeout, poll_interval or settings.poll_interval, on_poll)
    if rc == compat.MonitorReturnCode.JOB_FINISHED:
        status = session.get_job_meta(job).get("status")
        update(Message(f"job {job}: {status} after {time.monotonic() - started:.0f} s"), display_id=handle)
    return rc
