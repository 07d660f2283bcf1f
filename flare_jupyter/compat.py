"""Every difference between the NVFlare releases we support (2.5 to 2.9), in one place.

Nothing else in flare-jupyter may test NVFlare's version or probe for a method: it asks this module.
Known differences:

* ``list_sp`` / ``get_active_sp`` / ``promote_sp`` exist up to 2.6 and were removed in 2.7, together with the
  HA overseer. On newer releases we answer for the single server in the same shapes.
* ``abort_job`` returns None before 2.7; ``delete_job`` returns None before 2.8 (we pass both through unchanged).
* ``get_job_logs``, ``wait_for_job`` and the retry-safe ``submit_token`` exist from 2.8.
* A lost connection raises the builtin ``ConnectionError`` before 2.8 and ``NoConnection`` (a subclass) after.
* ``show_errors`` answers ``"No Error"`` for a clean server and ``{}`` for a clean client.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from importlib import metadata

from nvflare.fuel.flare_api import api_spec as _spec
from nvflare.fuel.flare_api import flare_api as _api
from packaging.version import Version

NVFLARE_VERSION = Version(metadata.version("nvflare"))

# NVFlare logs connection retries as errors; with no logging configured, Python would print them on stderr from
# background threads, into whatever notebook cell is running. A library must leave that choice to the user:
# these records still reach any handler the user configures (e.g. logging.basicConfig).
logging.getLogger("nvflare").addHandler(logging.NullHandler())

RawSession = _api.Session
new_secure_session = _api.new_secure_session
new_insecure_session = _api.new_insecure_session
basic_cb_with_print = _api.basic_cb_with_print
MonitorReturnCode = _spec.MonitorReturnCode


def _exc(name: str) -> type[BaseException]:
    """An NVFlare exception class, or a never-raised placeholder when this release lacks it."""
    return getattr(_spec, name, None) or type(name, (Exception,), {"__doc__": f"absent in nvflare {NVFLARE_VERSION}"})


NoConnection = _exc("NoConnection")
SessionClosed = _exc("SessionClosed")
SessionExpired = _exc("SessionExpired")
JobNotFound = _exc("JobNotFound")
JobNotRunning = _exc("JobNotRunning")
JobNotDone = _exc("JobNotDone")
InvalidTarget = _exc("InvalidTarget")
InvalidJobDefinition = _exc("InvalidJobDefinition")
AuthenticationError = _exc("AuthenticationError")
AuthorizationError = _exc("AuthorizationError")
NoClientsAvailable = _exc("NoClientsAvailable")
ClientsStillRunning = _exc("ClientsStillRunning")
InternalError = _exc("InternalError")
NoReply = _exc("NoReply")
InvalidArgumentError = _exc("InvalidArgumentError")

#: Errors meaning "the admin session is gone": reconnect, then (for safe operations) try again.
SESSION_LOST_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, SessionClosed, SessionExpired)

HAS_SERVICE_PROVIDERS = hasattr(RawSession, "list_sp")
HAS_JOB_LOGS = hasattr(RawSession, "get_job_logs")
HAS_SUBMIT_TOKEN = "submit_token" in inspect.signature(RawSession.submit_job).parameters


class NotSupported(Exception):
    """The operation does not exist in the installed NVFlare release or this kind of system."""


def new_submit_token() -> str | None:
    """A fresh token that makes one submission retry-safe, where NVFlare supports it."""
    return f"fj-{uuid.uuid4().hex}" if HAS_SUBMIT_TOKEN else None


def submit_job(raw, job_definition_path: str, submit_token: str | None = None) -> str:
    if submit_token and HAS_SUBMIT_TOKEN:
        return raw.submit_job(job_definition_path, submit_token=submit_token)
    return raw.submit_job(job_definition_path)


def job_log_text(raw, job_id: str, target: str = "server") -> str:
    """The text of a job's log on one target: ``get_job_logs`` from 2.8, the job's folder on the target before."""
    if HAS_JOB_LOGS:
        answer = raw.get_job_logs(job_id, target=target)
        logs, unavailable = answer.get("logs") or {}, answer.get("unavailable") or {}
        if target == "all":
            return "\n".join(logs.values())
        if target not in logs and target in unavailable:
            raise NotSupported(f"the log of job {job_id} on {target} is not available: {unavailable[target]}")
        return logs.get(target, "")
    return raw.cat_target(target, file=f"{job_id}/log.txt")


def admin_endpoint(admin: dict) -> tuple:
    """(host, admin port) named by a kit's ``fed_admin.json`` ``admin`` section, in either release's shape:
    ``host``/``port`` (2.7+), or the overseer agent's ``sp_end_point`` ``"host:fl_port:admin_port"`` (HA-era kits,
    up to 2.6). A part the kit does not give is None. Pure: it reads the dict only."""
    host, port = admin.get("host"), admin.get("port")
    agent = admin.get("overseer_agent")
    args = agent.get("args") if isinstance(agent, dict) else None
    end_point = args.get("sp_end_point") if isinstance(args, dict) else None
    if (host in (None, "") or port in (None, "")) and isinstance(end_point, str) and end_point.count(":") == 2:
        sp_host, _, sp_admin_port = end_point.split(":")
        host = sp_host if host in (None, "") else host
        port = sp_admin_port if port in (None, "") else port
    return host, port


def _endpoint(raw) -> tuple[str, int, int | None]:
    """(host, admin port, federated-learning port) of the server this session talks to."""
    from .kit import read_admin_config

    conf = read_admin_config(raw.startup_path)
    host = conf.get("host", "localhost")
    admin_port = int(conf.get("port", 0))
    fl_port = None
    try:
        envs = raw.get_client_env()
        url = envs[0].get("root_url", "") if envs else ""
        fl_port = int(url.rsplit(":", 1)[1]) if ":" in url.split("//", 1)[-1] else None
    except Exception:
        fl_port = None
    return host, admin_port, fl_port


def _single_sp(raw) -> dict:
    host, admin_port, fl_port = _endpoint(raw)
    name = host
    return {
        "name": name,
        "fl_port": str(fl_port) if fl_port else "",
        "admin_port": str(admin_port),
        "service_session_id": "",
        "primary": True,
        "props": {},
    }


def list_sp(raw) -> dict:
    """Service providers: NVFlare's own answer up to 2.6, the single server in the same shape after."""
    if HAS_SERVICE_PROVIDERS:
        return raw.list_sp()
    sp = _single_sp(raw)
    return {"primary_sp": sp, "sp_list": [sp], "system": "ready"}


def get_active_sp(raw) -> dict:
    if HAS_SERVICE_PROVIDERS:
        return raw.get_active_sp()
    return _single_sp(raw)


def promote_sp(raw, sp_end_point: str):
    if HAS_SERVICE_PROVIDERS:
        return raw.promote_sp(sp_end_point)
    raise NotSupported(
        f"nvflare {NVFLARE_VERSION} runs without an HA overseer: the system has one service provider "
        "(the server) and nothing to promote"
    )


def monitor_job_and_return_job_meta(session, job_id, timeout=0.0, poll_interval=2.0, cb=None, *cb_args, **cb_kwargs):
    """Run NVFlare's own monitoring loop with ``session`` as ``self``, so each poll goes through our lock."""
    impl = getattr(RawSession, "monitor_job_and_return_job_meta", None)
    if impl is not None:
        return impl(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)
    return RawSession.monitor_job(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs), None


def monitor_job(session, job_id, timeout=0, poll_interval=2.0, cb=None, *cb_args, **cb_kwargs):
    if hasattr(RawSession, "monitor_job_and_return_job_meta"):
        rc, _ = monitor_job_and_return_job_meta(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)
        return rc
    return RawSession.monitor_job(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)


def open_session(username: str, kit: str, secure: bool, timeout: float):
    """A connected NVFlare ``Session`` (what ``new_secure_session``/``new_insecure_session`` make), with NVFlare's
    console chatter ("Connecting to FLARE ...") sent to our logger instead of the notebook."""
    raw = RawSession(username=username if secure else "", startup_path=kit, secure_mode=secure)
    api = getattr(raw, "api", None)
    if api is not None and hasattr(api, "_print_hci"):
        api._print_hci = logging.getLogger("flare_jupyter.nvflare").info
    try:
        raw.try_connect(timeout)
    except BaseException:
        try:
            raw.close()
        except Exception:
            pass
        raise
    return raw


def job_server_config(raw, job_id: str) -> str:
    """The text of a running job's server config (its workflows' arguments, e.g. ``num_rounds``), read from the
    job's folder in the server's workspace. The folder is ``<job_id>/app_server`` on every supported release."""
    return raw.cat_target("server", file=f"{job_id}/app_server/config/config_fed_server.json")


#: The server-log lines a job's progress is read from (rounds started, metrics reported), as a basic grep pattern.
PROGRESS_PATTERN = r"Round \|validation metric"


def job_progress_lines(raw, job_id: str) -> str:
    """Only the lines of a *running* job's server log that tell its progress, filtered on the server by ``grep``
    (a few hundred bytes instead of the whole log at every poll). The job's folder exists on the server only
    while it runs; a finished job's log is read with ``job_log_text``."""
    text = raw.grep_target("server", pattern=PROGRESS_PATTERN, file=f"{job_id}/log.txt")
    # before the job's folder exists, the server's grep answers with its own complaint as text: no lines yet
    return "" if text.startswith("grep: ") else text
