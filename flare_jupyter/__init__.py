"""flare-jupyter: drive an NVIDIA FLARE system from Jupyter.

    import flare_jupyter as fj
    fj.poc.start()                      # an embedded local FLARE system, kernel connected to it
    job = fj.session().submit_job(fj.examples.hello_numpy("jobs"))
    fj.frames.jobs_frame(fj.session().list_jobs())

or, with the magics: ``%load_ext flare_jupyter`` then ``%flare help``.
"""

import pandas as _pd

from . import compat, examples, frames, poc
from .errors import FlareError
from .session import (
    KernelSession,
    basic_cb_with_print,
    connect,
    current,
    disconnect,
    new_insecure_session,
    new_secure_session,
    session,
)

__version__ = "0.1.0"

# Job names, site names and log lines come from the server; pandas escapes them in a DataFrame's HTML, but Jupyter
# would still typeset "$...$" in them as LaTeX. Tables marked mathjax_ignore show such text literally.
_pd.set_option("display.html.use_mathjax", False)


def monitor(job_id: str):
    """A live monitor widget of a job (an id or a unique prefix); returns at once. ``.wait()`` blocks."""
    from .widgets import monitor as _monitor

    return _monitor(job_id)


def jobs_panel(limit: int = 50):
    """The jobs as a live, filterable table with actions on the selected job."""
    from .widgets import jobs_panel as _panel

    return _panel(limit=limit)


def clients_panel():
    """The connected clients, live, with env / restart / shutdown."""
    from .widgets import clients_panel as _panel

    return _panel()


def log_viewer(target: str = "server", job: str | None = None, lines: int = 100, follow: bool = False):
    """The tail of a target's (or a job's) log, with grep and follow."""
    from .widgets import log_viewer as _viewer

    return _viewer(target, job=job, lines=lines, follow=follow)


def fedstats(job_id: str, dest: str | None = None):
    """The federated statistics of a finished statistics job: ``.frame``, ``.summary()``, ``.histograms()``."""
    from .analysis import fedstats as _fedstats

    return _fedstats(job_id, dest)


def metrics(job_id: str):
    """The metrics a job's sites reported, as a DataFrame (round, site, metric, value); ``.plot()`` draws them."""
    from .analysis import metrics as _metrics

    return _metrics(job_id)


def stats_history(job_id: str):
    """``show_stats`` over time (time, target, component, key, value), recorded while a monitor watched the job."""
    from .analysis import stats_history as _history

    return _history(job_id)


def check_kit(path=None, secure: bool = True):
    """Check an admin startup kit without connecting: a DataFrame (check, ok, level, detail), one row per check.

    ``path`` defaults to ``$FLARE_STARTUP_KIT``, else the running embedded system's kit. ``fj.connect`` runs the same
    checks first and refuses a kit with an error. ``secure=False`` checks it for an insecure session (the certificate
    files are then required only where NVFlare reads them for one, from 2.7 on).
    """
    from .kit import check_kit as _check_kit
    from .kit import default_kit

    return _check_kit(default_kit(path), secure=secure)


def dashboard():
    """The connection, jobs, clients and server log in one widget."""
    from .widgets import dashboard as _dashboard

    return _dashboard()


__all__ = [
    "FlareError",
    "KernelSession",
    "basic_cb_with_print",
    "new_insecure_session",
    "new_secure_session",
    "compat",
    "connect",
    "current",
    "disconnect",
    "examples",
    "frames",
    "poc",
    "session",
    "load_ipython_extension",
    "monitor",
    "jobs_panel",
    "clients_panel",
    "log_viewer",
    "dashboard",
    "fedstats",
    "metrics",
    "stats_history",
    "check_kit",
]


def load_ipython_extension(ipython):
    """``%load_ext flare_jupyter``: register the %flare magics."""
    from .magics import FlareMagics

    magics = FlareMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
