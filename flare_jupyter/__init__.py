"""flare-jupyter: drive an NVIDIA FLARE system from Jupyter.

    import flare_jupyter as fj
    fj.poc.start()                      # an embedded local FLARE system, kernel connected to it
    job = fj.session().submit_job(fj.examples.hello_numpy("jobs"))
    fj.frames.jobs_frame(fj.session().list_jobs())

or, with the magics: ``%load_ext flare_jupyter`` then ``%flare help``.
"""

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
]


def load_ipython_extension(ipython):
    """``%load_ext flare_jupyter``: register the %flare magics."""
    from .magics import FlareMagics

    magics = FlareMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
