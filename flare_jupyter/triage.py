"""Why a run failed: ``fj.triage(job)`` / ``%flare triage JOB``.

For the server and each site of the job, the first error line of that target's job log with its time, the first
traceback's last frame and exception, and the lines before the first error; the target whose first error came
first is where the failure started (errors from before a round the run completed, which it outlived, are counted in
``outlived``, not taken as the origin). As a DataFrame (``.frame``) and as text (its ``repr``, what a terminal shows);
HTML in a notebook. The log reading and parsing are ``failures.py``'s, shared with the job monitor, which shows the
same once a job ends in an abnormal state.
"""

from __future__ import annotations

import pandas as pd

from . import render
from .connection import session
from .failures import Failure, failures, failures_text, job_logs, origin
from .progress import job_sites
from .session import resolve_job

COLUMNS = [
    "target",
    "first",
    "error_time",
    "component",
    "error",
    "exception_time",
    "exception",
    "file",
    "line",
    "function",
    "code",
    "before",
    "unavailable",
    "outlived",
]


class Triage:
    """The failure of one job, target by target (see the module docstring)."""

    def __init__(self, job_id: str, meta: dict, found: list[Failure]):
        self.job_id, self.meta, self.failures = job_id, meta, found

    @property
    def status(self) -> str:
        return str(self.meta.get("status", "UNKNOWN"))

    @property
    def origin(self) -> str | None:
        """The target where the failure started (None when no target logged an error)."""
        first = origin(self.failures)
        return first.target if first else None

    @property
    def frame(self) -> pd.DataFrame:
        """One row per target: where the failure started first, then the other failed ones, then the rest."""
        first = self.origin
        rows = [
            {
                **{k: getattr(f, k) for k in COLUMNS if hasattr(f, k)},
                "first": f.target == first,
                "before": "\n".join(f.before),
            }
            for f in self.failures
        ]
        df = pd.DataFrame(rows, columns=COLUMNS)
        for col in ("error_time", "exception_time"):
            df[col] = pd.to_datetime(df[col])
        return df.astype({"target": "string", "line": "Int64", "first": "bool", "outlived": "int64"})

    @property
    def heading(self) -> str:
        name = self.meta.get("name") or "job"
        return f"triage of job {name} ({self.job_id}): {self.status}"

    @property
    def text(self) -> str:
        if not self.failures:
            return f"{self.heading}\nthe job never ran on any target: there is no job log to read"
        return failures_text(self.failures, self.heading)

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return render.triage(self.heading, self.origin, [f.view() for f in self.failures])


def triage(job_id) -> Triage:
    """Read the job logs of the server and every site of the job and say where its failure started."""
    s = session()
    job = resolve_job(s, job_id)
    meta = s.get_job_meta(job)
    if not meta.get("start_time"):
        return Triage(job, meta, [])
    return Triage(job, meta, failures(job_logs(s, job, ["server", *job_sites(meta)])))
