"""Run clean-up when the interpreter (the kernel) exits, *before* Python waits for non-daemon threads.

NVFlare's admin session keeps non-daemon threads alive until it is closed, so a plain ``atexit`` handler (which
runs after Python has joined those threads) would never get the chance to close it: the kernel would hang on exit.
``threading._register_atexit`` (used by ``concurrent.futures`` since Python 3.9) runs first.
"""

from __future__ import annotations

import atexit
import threading


def on_exit(fn):
    """Register ``fn`` to run at interpreter exit, before non-daemon threads are joined. Returns ``fn``."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise AttributeError
        register(fn)
    except (AttributeError, RuntimeError):  # very old Python, or already shutting down
        atexit.register(fn)
    return fn
