"""The kernel's current session: ``connect`` opens it (through a startup kit, checked first), ``session()`` hands it
to the Python API, the magics and the widgets, ``disconnect`` (and interpreter exit) closes it. NVFlare's own
``new_secure_session`` / ``new_insecure_session`` give the same kernel session.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from nvflare.fuel.flare_api.flare_api import basic_cb_with_print

from . import compat
from ._exit import on_exit
from .errors import FlareError, NotConnected
from .kit import default_kit, embedded_kit, ensure_usable, kit_identity, resolve_kit
from .session import SHUT_DOWN, KernelSession
from .values import seconds

log = logging.getLogger("flare_jupyter")

_current: KernelSession | None = None
_current_lock = threading.Lock()


def connect(
    startup_kit: str | os.PathLike | None = None,
    username: str | None = None,
    secure: bool = True,
    timeout: float = 10.0,
    debug: bool = False,
) -> KernelSession:
    """Connect the kernel to a FLARE system and return the session.

    ``startup_kit`` is the admin's provisioned folder (holding ``startup/fed_admin.json``). Without it, the
    ``FLARE_STARTUP_KIT`` environment variable is used, else the running embedded system (``fj.poc.start()``).
    ``username`` defaults to the identity in the kit's certificate. ``secure=False`` opens an insecure session
    (the user the certificate names; "admin" before nvflare 2.7). The kit is checked first (``fj.check_kit``): a
    kit with an error is refused with one line naming the problem and the fix; warnings (a certificate expiring
    soon, a key others can read) are logged at INFO. ``debug=True`` sends NVFlare's debug output to the
    ``flare_jupyter.nvflare`` logger (not into cells). Connecting again replaces the old session; a failed connect
    leaves it working.
    """
    seconds("timeout", timeout)
    kit_path, source = default_kit(startup_kit)
    kit = resolve_kit(kit_path)
    ensure_usable(kit, secure)  # a broken kit is refused here, in one line, before any network call
    running = embedded_kit()  # any user's kit of the embedded system lies beside its admin's
    origin = "poc" if running is not None and Path(running).resolve().parent == kit.resolve().parent else ""
    if secure:
        identity = kit_identity(kit).get("name")
        if username and identity and username != identity:
            raise FlareError(
                f"user {username!r} does not match the startup kit, which is {identity!r}'s: leave the user out, "
                "or use that user's own kit"
            )
        username = username or identity
        if not username:
            raise FlareError(f"cannot read the user name from {kit}/startup/client.crt: pass username=...")
    if not secure:  # who the server will see: the certificate's user (2.7+), or the insecure system's "admin"
        username = compat.INSECURE_USERNAME or kit_identity(kit).get("name") or "admin"
    new = KernelSession(str(kit), username, secure, float(timeout), origin=origin, debug=debug)
    new._open()
    _set_current(new)
    log.debug("connected through the %s kit %s", source, kit)
    return new


def new_secure_session(
    username: str, startup_kit_location: str, debug: bool = False, timeout: float = 10.0
) -> KernelSession:
    """NVFlare's ``new_secure_session``, giving the kernel's (thread-safe, reconnecting) session."""
    return connect(startup_kit_location, username=username, secure=True, timeout=timeout, debug=debug)


def new_insecure_session(startup_kit_location: str, debug: bool = False, timeout: float = 10.0) -> KernelSession:
    """NVFlare's ``new_insecure_session``, giving the kernel's session."""
    return connect(startup_kit_location, secure=False, timeout=timeout, debug=debug)


__all__ = [
    "basic_cb_with_print",
    "connect",
    "current",
    "disconnect",
    "new_insecure_session",
    "new_secure_session",
    "session",
]


def _set_current(new: KernelSession | None) -> None:
    global _current
    with _current_lock:
        old, _current = _current, new
    if old is not None and old is not new:
        old.close()


def session() -> KernelSession:
    """The kernel's current session (raises a one-line error saying how to connect when there is none)."""
    s = _current
    if s is not None and s._shut_down:
        raise NotConnected(SHUT_DOWN, shut_down=True)
    if s is None or s.closed:
        raise NotConnected(
            "not connected to a FLARE system: run fj.connect(KIT) / %flare connect KIT, "
            "or fj.poc.start() / %flare poc start for a local one"
        )
    return s


def current() -> KernelSession | None:
    """The current session or None (never raises)."""
    s = _current
    return s if s is not None and not s.closed else None


def disconnect() -> None:
    """Close the kernel's session (a no-op when there is none)."""
    _set_current(None)


on_exit(disconnect)
