"""flare-jupyter: drive an NVIDIA FLARE system from Jupyter.

    import flare_jupyter as fj
    fj.poc.start()                      # an embedded local FLARE system, kernel connected to it
    run = fj.submit(fj.examples.hello_numpy("jobs"))     # a job folder, an NVFlare Recipe or a FedJob: a Run
    run.monitor(); run.wait(); run.metrics               # live widget, block until it ends, NVFlare's metric records
    fj.compare(run, other_run); fj.triage(run); fj.report(run).save("run.html")
    fj.frames.jobs_frame(fj.session().list_jobs())

or, with the magics: ``%load_ext flare_jupyter`` then ``%flare help``. ARCHITECTURE.md draws the layers.
"""

import pandas as _pd

from . import compat, examples, frames, poc, settings
from .analysis import fedstats, metrics, stats_history
from .compare import Comparison, compare
from .connection import (
    basic_cb_with_print,
    connect,
    current,
    disconnect,
    new_insecure_session,
    new_secure_session,
    session,
)
from .errors import FlareError, NotConnected
from .inline import show_figures_inline as _show_figures_inline
from .kit import check_kit
from .magics import load_ipython_extension
from .report import Report, report
from .runs import Run, run, submit
from .session import KernelSession
from .triage import Triage, triage
from .widgets import clients_panel, dashboard, jobs_panel, log_viewer, monitor

__version__ = "0.1.0"

# Job names, site names and log lines come from the server; pandas escapes them in a DataFrame's HTML, but Jupyter
# would still typeset "$...$" in them as LaTeX. Tables marked mathjax_ignore show such text literally.
_pd.set_option("display.html.use_mathjax", False)
# Figures we return (metrics, statistics) display inline in IPython even when pyplot was never imported.
_show_figures_inline()

__all__ = [
    "Comparison",
    "FlareError",
    "KernelSession",
    "NotConnected",
    "Report",
    "Run",
    "Triage",
    "basic_cb_with_print",
    "check_kit",
    "clients_panel",
    "compare",
    "compat",
    "connect",
    "current",
    "dashboard",
    "disconnect",
    "examples",
    "fedstats",
    "frames",
    "jobs_panel",
    "load_ipython_extension",
    "log_viewer",
    "metrics",
    "monitor",
    "new_insecure_session",
    "new_secure_session",
    "poc",
    "report",
    "run",
    "session",
    "settings",
    "stats_history",
    "submit",
    "triage",
]
