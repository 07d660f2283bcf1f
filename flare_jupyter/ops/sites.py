"""``%flare`` operations on the server and its clients: connected clients, their jobs and environment, folders."""

from __future__ import annotations

from .. import frames
from ..render import TextResult
from .registry import TARGET, Group, arg

SITES = Group("sites", "Server and clients")
CLIENTS = [arg("clients", nargs="*", help="client names (default: all)")]


@SITES.operation("get_connected_client_list", "clients")
def clients(session, args):
    """Connected clients with their last connect time, as a DataFrame."""
    return frames.clients_frame(session.get_connected_client_list())


@SITES.operation("get_client_job_status", "client_status", args=CLIENTS)
def client_status(session, args):
    """What job each client runs, as a DataFrame."""
    return frames.client_job_status_frame(session.get_client_job_status(args.clients or None))


@SITES.operation("get_client_env", "env", args=CLIENTS)
def client_env(session, args):
    """Each client's environment (workspace, server URL, secure mode), as a DataFrame."""
    return frames.client_env_frame(session.get_client_env(args.clients or None))


@SITES.operation("get_working_directory", "pwd", args=[arg("target", **TARGET)])
def pwd(session, args):
    """The working directory of the server or a client."""
    return TextResult(session.get_working_directory(args.target))
