"""Runs: what a notebook submits (a job folder, an NVFlare ``Recipe``, a ``FedJob``) and the handle it gets back.

    run = fj.submit(recipe)          # exported into the system's workspace, submitted through the kernel session
    run.monitor()                    # the live widget
    await run                        # or run.wait(): NVFlare's MonitorReturnCode, the kernel's loop left free
    run.metrics, run.summary         # NVFlare's own metric records (fj.metrics)
    fj.run(job_id)                   # the same handle for any existing job (after a kernel restart, elsewhere)

NVFlare's own ``recipe.execute(env)`` returns a ``Run`` too, but it blocks the cell, and its ``PocEnv`` re-provisions
the local system on every run. Ours shares the kernel's session and never touches the running system: a recipe is
exported into a folder of its own (kept, so the run can be reproduced) and submitted as any job folder is.

A ``Run`` *is* its job id (a ``str``), so it goes wherever a job id goes: ``%flare monitor $run``,
``fj.metrics(run)``, ``session.get_job_meta(run)``.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from pathlib import Path

from . import analysis, compat, poc, render, settings
from .connection import session
from .errors import FlareError
from .examples import add_readable_metrics
from .metrics import MetricsFrame
from .progress import FINISHED_PREFIX
from .render import Message
from .session import resolve_job
from .widgets import monitor as monitor_widget

#: Where exported recipes and FedJobs go, inside the system's workspace (one folder per submission).
SUBMISSIONS = "submissions"


class Run(str):
    """One job on the server, by its id (this string), with what a notebook does with it.

    ``folder`` is the job folder that was submitted, when this kernel submitted it (None after ``fj.run``)."""

    folder: str | None

    def __new__(cls, job_id: str, folder: str | os.PathLike | None = None):
        obj = super().__new__(cls, job_id)
        obj.folder = os.fspath(folder) if folder is not None else None
        return obj

    @property
    def job_id(self) -> str:
        return str.__str__(self)

    # -- the job on the server ---------------------------------------------------------------------------------
    def meta(self) -> dict:
        """The job's meta data, as the server has it now."""
        return session().get_job_meta(self.job_id)

    @property
    def status(self) -> str:
        """The job's status now (SUBMITTED, RUNNING, FINISHED:COMPLETED, ...)."""
        return str(self.meta().get("status", "UNKNOWN"))

    @property
    def name(self) -> str:
        return str(self.meta().get("name", ""))

    def monitor(self):
        """The live monitor widget of this job (returns at once; it updates itself)."""
        return monitor_widget(self.job_id)

    def wait(self, timeout: float | None = None) -> compat.MonitorReturnCode:
        """Block until the job ends (``timeout`` seconds at most; None waits as long as it runs): NVFlare's own
        ``monitor_job`` through the kernel session, returning its ``MonitorReturnCode``."""
        return session().monitor_job(self.job_id, timeout=timeout or 0.0, poll_interval=_poll_interval())

    async def wait_async(self, timeout: float | None = None) -> compat.MonitorReturnCode:
        """``wait`` without blocking the kernel's event loop (``await run`` is this without a timeout): each status
        call runs in a worker thread, the pauses between them on the loop, so cancelling the task stops waiting."""
        loop = asyncio.get_running_loop()
        deadline = None if not timeout else time.monotonic() + timeout
        while True:
            status = await loop.run_in_executor(None, lambda: self.status)
            if status.startswith(FINISHED_PREFIX):
                return compat.MonitorReturnCode.JOB_FINISHED
            if deadline is not None and time.monotonic() >= deadline:
                return compat.MonitorReturnCode.TIMEOUT
            pause = _poll_interval()
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)

    def __await__(self):
        return self.wait_async().__await__()

    @property
    def metrics(self) -> MetricsFrame:
        """What the sites reported, round by round, from NVFlare's own records (see ``fj.metrics``)."""
        return analysis.metrics(self.job_id)

    @property
    def summary(self) -> dict:
        """NVFlare's ``metrics_summary.json`` (key metric, best round, final values) once the job ended, else {}."""
        return self.metrics.summary

    def result(self, dest: str | os.PathLike | None = None) -> str:
        """Download the finished job's result; returns the folder (in ``dest``, else the kit's download folder)."""
        meta = self.meta()
        status = str(meta.get("status", ""))
        if not status.startswith(FINISHED_PREFIX):
            raise FlareError(
                f"job {self.job_id} is {status}: its result exists once it ends (await run, or run.wait(), first)"
            )
        return session().download_job_result(self.job_id, os.fspath(dest) if dest is not None else None)

    def abort(self) -> Message:
        """Abort the job (a job not started yet is cancelled)."""
        answer = session().abort_job(self.job_id)
        return Message(answer or f"abort requested for job {self.job_id}")

    # -- display -----------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return str.__repr__(self)  # error messages name the job by its id: Python's repr stays the id's

    def _summary_line(self) -> tuple[str, str]:
        """(name, status) for the notebook's view; one quick call, never an exception."""
        try:
            meta = session().get_job_meta(self.job_id)
            return str(meta.get("name", "")), str(meta.get("status", "UNKNOWN"))
        except Exception as e:
            return "", f"status unavailable ({type(e).__name__})"

    def _repr_pretty_(self, p, cycle):
        name, status = self._summary_line()
        p.text(f"Run {self.job_id} ({name or 'job'}): {status}")

    def _repr_html_(self) -> str:
        name, status = self._summary_line()
        return render.job_header(name, self.job_id, status)


def _poll_interval() -> float:
    return float(settings.poll_interval)


def submit(job, dest: str | os.PathLike | None = None) -> Run:
    """Submit ``job`` to the connected system and return its ``Run``.

    ``job`` is a job folder (submitted as it is), an NVFlare ``Recipe`` or a ``FedJob``: those are exported into a
    folder of their own under ``dest`` (default: ``submissions/`` in the embedded system's workspace, or in the
    startup kit's upload folder for any other system), given a readable copy of NVFlare's metric records (so
    ``fj.metrics`` follows them while the job runs), and the folder is kept."""
    s = session()
    kind = compat.job_kind(job)
    if kind is None:
        if not isinstance(job, (str, os.PathLike)):
            raise FlareError(f"fj.submit takes a job folder, an NVFlare Recipe or a FedJob, not a {type(job).__name__}")
        given = os.fspath(job)
        return Run(s.submit_job(given), folder=os.path.abspath(given) if os.path.isdir(given) else given)
    folder = export(job, _submission_folder(s, job, dest))
    return Run(s.submit_job(folder), folder=folder)


def export(job, where: Path) -> str:
    """Write a ``Recipe`` or ``FedJob`` as a job folder inside ``where`` (a new folder); returns the job folder."""
    where.mkdir(parents=True, exist_ok=False)
    if compat.job_kind(job) == "recipe":
        job.export(str(where))
    else:
        job.export_job(str(where))
    written = [p for p in where.iterdir() if (p / "meta.json").is_file()]
    if len(written) != 1:
        raise FlareError(f"NVFlare did not write one job folder into {where} (found {[p.name for p in written]})")
    add_readable_metrics(written[0])
    return str(written[0])


def _submission_folder(s, job, dest) -> Path:
    """A new folder for one submission: ``<root>/<time>-<name>``, where ``root`` is ``dest``, else
    ``submissions/`` in the embedded system's workspace (when this session is connected to it), else in the kit's
    upload folder (NVFlare's place for job folders to submit)."""
    if dest is not None:
        root = Path(dest).expanduser().resolve()
    else:
        system = poc.current()
        if s.origin == "poc" and system is not None:
            root = system.workspace / SUBMISSIONS
        else:
            root = Path(s.upload_dir or Path(s.kit) / "transfer").resolve() / SUBMISSIONS
    name = str(getattr(job, "name", "") or "job")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    return root / f"{datetime.now():%Y%m%d-%H%M%S-%f}-{safe}"


def run(job_id: str) -> Run:
    """The ``Run`` of an existing job, by its id or a unique prefix of one (after a kernel restart, from another
    notebook); an id the server does not know fails here, in one line."""
    s = session()
    job = resolve_job(s, job_id)
    s.get_job_meta(job)
    return Run(job)
