"""``%flare`` operations on the whole system: restart, shutdown, command timeout, service providers."""

from __future__ import annotations

from .. import compat, frames
from ..render import Message
from .registry import TARGET_TYPES, Group, arg, nonblank, positive

SYSTEM = Group("system", "System")
WHICH = [
    arg("target_type", choices=TARGET_TYPES, help="server, client or all"),
    arg("clients", nargs="*", help="client names (client only; default: all)"),
    arg(
        "--timeout",
        type=positive,
        default=compat.STATE_CHANGE_TIMEOUT,
        help=f"seconds to wait for the change, where NVFlare waits (2.9; default {compat.STATE_CHANGE_TIMEOUT:g})",
    ),
]


@SYSTEM.operation("restart", args=WHICH)
def restart(session, args):
    """Restart the server, clients or everything, and wait until they are back."""
    return session.restart(args.target_type, args.clients or None, **compat.state_change_wait(args.timeout))


@SYSTEM.operation("shutdown", args=WHICH)
def shutdown(session, args):
    """Shut down the server, clients or everything."""
    return session.shutdown(args.target_type, args.clients or None, **compat.state_change_wait(args.timeout))


@SYSTEM.operation("shutdown_system")
def shutdown_system(session, args):
    """Shut down the whole FLARE system (server and all clients)."""
    session.shutdown_system()
    return Message("FLARE system shut down")


@SYSTEM.operation(
    "set_timeout", args=[arg("seconds", type=positive, help="how long the server waits for clients' answers")]
)
def set_timeout(session, args):
    """Set this session's command timeout (seconds)."""
    session.set_timeout(args.seconds)
    return Message(f"command timeout set to {args.seconds:g} s")


@SYSTEM.operation("list_sp")
def list_sp(session, args):
    """Service providers (servers) of the system, as a DataFrame."""
    return frames.sp_frame(session.list_sp())


@SYSTEM.operation("get_active_sp")
def get_active_sp(session, args):
    """The active service provider (server)."""
    return session.get_active_sp()


@SYSTEM.operation(
    "promote_sp", args=[arg("sp", type=nonblank, help="service provider end point, e.g. host:fl_port:admin_port")]
)
def promote_sp(session, args):
    """Make another service provider the active one (HA systems with an overseer only)."""
    return session.promote_sp(args.sp)
