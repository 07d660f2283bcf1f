"""``%flare`` operations on the connection and the embedded system: connect, disconnect, session, poc, check_kit."""

from __future__ import annotations

import argparse

from .. import poc, settings
from ..connection import connect as connect_session
from ..connection import disconnect as disconnect_session
from ..kit import check_kit as check_startup_kit
from ..render import Message
from .registry import KIT, Group, arg, positive

CONNECTION = Group("connection", "Connection and the embedded system")


@CONNECTION.operation(
    "connect",
    needs_session=False,
    args=[
        arg("kit", **KIT),
        arg("--user", default=None, help="user name (default: the identity in the kit's certificate)"),
        arg("--insecure", action="store_true", help="open an insecure session"),
        arg("--timeout", type=positive, default=10.0, help="seconds to wait for the server (default 10)"),
    ],
)
def connect(_, args):
    """Connect the kernel to a FLARE system through a provisioned startup kit."""
    return connect_session(args.kit, username=args.user, secure=not args.insecure, timeout=args.timeout)


@CONNECTION.operation("disconnect", needs_session=False)
def disconnect(_, args):
    """Close the kernel's session."""
    disconnect_session()
    return Message("disconnected")


@CONNECTION.operation("session", "status")
def session_info(session, args):
    """Show the current session: server, user, mode, NVFlare version, connected clients."""
    return session


def user_spec(text: str) -> tuple[str, tuple[str, str]]:
    """``NAME:ROLE[:ORG]`` (``--user lead@org-b.com:lead:org_b``) as (name, (role, org)); the organisation
    defaults to the project admin's."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:ROLE[:ORG], e.g. lead@org-b.com:lead:org_b")
    name, role, org = (*parts, poc.ORG)[:3]
    return name, (role, org)


@CONNECTION.operation(
    "poc",
    needs_session=False,
    args=[
        arg("action", choices=("start", "stop", "status", "users"), help="start, stop or show the embedded system"),
        arg("-n", "--clients", type=int, default=2, help="number of clients (start; default 2)"),
        arg("--workspace", default=None, help="workspace folder (start; default: a fresh one in the user cache)"),
        arg("--timeout", type=positive, default=120.0, help="seconds to wait until every client is connected"),
        arg(
            "--user",
            dest="users",
            metavar="NAME:ROLE[:ORG]",
            action="append",
            type=user_spec,
            default=[],
            help="another user with a kit of their own (start; repeatable), e.g. lead@org-b.com:lead:org_b; roles: "
            "org_admin, lead, member; ORG defaults to the project admin's (nvidia)",
        ),
        arg("--insecure", action="store_true", help="start: a system for insecure admin sessions"),
    ],
)
def poc_system(_, args):
    """Start, stop or inspect the embedded local FLARE system (NVFlare POC mode, free ports), or list its users."""
    if args.action == "start":
        say = print if settings.progress else None
        users = dict(args.users)
        return poc.start(
            n_clients=args.clients,
            workspace=args.workspace,
            timeout=args.timeout,
            progress=say,
            users=users,
            secure=not args.insecure,
        )
    if args.action == "stop":
        running = poc.current()
        poc.stop()
        return Message("embedded FLARE system stopped" if running else "no embedded FLARE system was running")
    running = poc.current()
    if running is None:
        return Message("no embedded FLARE system is running (%flare poc start)")
    return running.users if args.action == "users" else running


@CONNECTION.operation(
    "check_kit",
    needs_session=False,
    args=[
        arg("kit", **KIT),
        arg(
            "--insecure",
            action="store_true",
            help="check for an insecure session (certificates required only where NVFlare reads them for one)",
        ),
    ],
)
def check_kit(_, args):
    """Check a startup kit without connecting: files, fed_admin.json, certificates, key, identity (a DataFrame)."""
    return check_startup_kit(args.kit, secure=not args.insecure)
