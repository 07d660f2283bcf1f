"""Every difference between the NVFlare releases we support (2.5 to 2.9), in one place.

Nothing else in flare-jupyter may test NVFlare's version or probe for a method: it asks this module.
Known differences:

* ``list_sp`` / ``get_active_sp`` / ``promote_sp`` exist up to 2.6 and were removed in 2.7, together with the
  HA overseer. On newer releases we answer for the single server in the same shapes. Where they exist: ``list_sp``
  sends its dict as text (we return the dict it documents), its entries name a provider by ``sp_end_point``
  (``host:fl_port:admin_port``; we add the ``name``/``fl_port``/``admin_port`` that ``get_active_sp`` uses), and
  ``promote_sp`` on a system without an HA overseer fails with an ``InternalError`` ("not supported by the dummy
  agent"), which we turn into the same ``NotSupported`` sentence as on newer releases.
* ``abort_job`` returns None before 2.7; ``delete_job`` returns None before 2.8 (we pass both through unchanged).
* ``get_job_logs``, ``wait_for_job`` and the retry-safe ``submit_token`` exist from 2.8. Before, a job's log is
  read from the job's folder on the target; a finished job's folder is gone from the server (its workspace is
  archived in the job store), so its server log is read from the job's result (``download_job_result`` into a
  temporary folder, once per job), while the clients keep their job folders.
* A lost connection raises the builtin ``ConnectionError`` before 2.8 and ``NoConnection`` (a subclass) after;
  a failed connect raises ``NoConnection`` everywhere, which is not a ``ConnectionError`` in 2.5.
* ``download_job_result`` takes a ``destination`` folder in newer releases (2.9; not 2.5): ``RawSession`` adds it.
* A server that no longer knows the admin session (e.g. after a restart) answers "session_inactive", and one that
  does not listen (yet) "Failed to communicate with Admin Server"; 2.5 raises both as an ``InternalError``:
  ``RawSession`` raises ``SessionClosed`` and ``ConnectionError`` instead, so we reconnect. 2.5 also answers
  ``restart("server")`` before the old server process has ended.
* ``get_client_env`` names each client's workspace ``<site>/startup/..`` in older releases (2.5; the same folder).
* nvflare 2.5's server runs ``cat``/``grep``/``head``/``tail``/``ls`` in a shell and passes a grep pattern as it is
  (``$(touch x)`` runs ``touch x`` on the server): ``RawSession.grep_target`` refuses shell syntax there.
* ``show_errors`` answers ``"No Error"`` for a clean server and ``{}`` for a clean client.
* Admin startup kits: ``fed_admin.json`` names the server as ``admin.host``/``admin.port`` from 2.7; before, an
  overseer agent's ``sp_end_point`` (``host:fl_port:admin_port``) says where it is (``admin_endpoint`` reads both).
* POC provisioning: while the HA overseer exists (up to 2.6) the project file's builders take its arguments (the
  workspace templates, a ``TemplateBuilder``, an overseer agent naming the server's ports); ``nvflare poc prepare``
  of 2.5 has no ``--force`` (it asks on stdin whether to replace an existing workspace).
* Federated statistics over pandas (``DFStatisticsCore``, which our fed-stats example job runs) exist in newer
  releases (2.9; not 2.5): ``HAS_DF_STATISTICS``.
* A kit's ``sub_start.sh`` has a run-once mode (``--once``) in newer releases (2.9; not 2.5); its watchdog loop waits
  5 s before it first starts the participant (``sub_start_once_flag``; the embedded system starts faster with it).
* Job recipes (``NumpyFedAvgRecipe``) exist from 2.7; before, ``NumpyFedAvgRecipe`` here writes the same job with
  the ``FedJob`` API.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import shutil
import uuid
from importlib import metadata
from pathlib import Path

from nvflare.fuel.flare_api import api_spec as _spec
from nvflare.fuel.flare_api import flare_api as _api
from packaging.version import Version

NVFLARE_VERSION = Version(metadata.version("nvflare"))

# NVFlare logs connection retries as errors; with no logging configured, Python would print them on stderr from
# background threads, into whatever notebook cell is running. A library must leave that choice to the user:
# these records still reach any handler the user configures (e.g. logging.basicConfig).
logging.getLogger("nvflare").addHandler(logging.NullHandler())

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
SESSION_LOST_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, NoConnection, SessionClosed, SessionExpired)

HAS_DOWNLOAD_DESTINATION = "destination" in inspect.signature(_api.Session.download_job_result).parameters


def _server_shell_commands_use_a_shell() -> bool:
    try:
        from nvflare.private.fed.server import shell_cmd

        return "getoutput(" in inspect.getsource(shell_cmd)
    except Exception:
        return False


#: The server runs ``cat``/``grep``/``head``/``tail``/``ls`` through a shell (``subprocess.getoutput``, nvflare 2.5)
#: and checks options and file names but not a grep pattern: ``$(...)`` in a pattern would run on the server.
SERVER_COMMANDS_USE_A_SHELL = _server_shell_commands_use_a_shell()


def _shell_would_act(value: str) -> bool:
    """Whether the server's shell would act on ``value``: NVFlare wraps an argument holding whitespace in double
    quotes (where ``$``, backquote, ``"`` and a final backslash still act) and passes any other one bare."""
    if len(value.split()) >= 2:
        return bool(set(value) & set('$`"')) or value.endswith("\\")
    return bool(set(value) & set("$`\"'();|&<>"))


class RawSession(_api.Session):
    """NVFlare's ``Session``, with what older releases lack or answer differently put right (nothing else)."""

    def _do_command(self, command, *args, **kwargs):
        try:
            return super()._do_command(command, *args, **kwargs)
        except InternalError as e:
            # status "error" answers that older releases raise as an InternalError: a server that no longer knows
            # this session (e.g. restarted) says "session_inactive"; one not listening (yet), "Failed to
            # communicate with Admin Server ..."
            text = str(e)
            if text.rstrip().endswith("session_inactive"):
                raise SessionClosed(f"the session is closed on the server ({text})") from None
            if "Failed to communicate with Admin Server" in text:
                raise ConnectionError(text) from None
            raise

    if not HAS_DOWNLOAD_DESTINATION:

        def download_job_result(self, job_id: str, destination: str = None) -> str:
            """The job's result folder, moved into ``destination`` when one is given (else left in the kit's
            download folder), as newer releases do."""
            location = super().download_job_result(job_id)
            if destination and location and os.path.exists(location):
                destination = os.path.abspath(destination)
                os.makedirs(destination, exist_ok=True)
                final_path = os.path.join(destination, os.path.basename(location))
                shutil.move(location, final_path)
                return final_path
            return location

    if SERVER_COMMANDS_USE_A_SHELL:  # options and file names NVFlare checks itself; the pattern it passes as it is

        def grep_target(self, target: str, options: str = None, pattern: str = None, file: str = None):
            if isinstance(pattern, str) and _shell_would_act(pattern):
                raise InvalidArgumentError(
                    f"the grep pattern {pattern!r} holds shell syntax, which nvflare {NVFLARE_VERSION}'s server would "
                    "run in a shell: refused (leave out $ ` \" and, in a pattern without spaces, ' ( ) ; | & < >)"
                )
            return super().grep_target(target, options, pattern, file)


HAS_SERVICE_PROVIDERS = hasattr(RawSession, "list_sp")
#: ``abort_job`` and ``delete_job`` answer None in these releases (we pass their answers through unchanged).
ABORT_JOB_RETURNS_NONE = NVFLARE_VERSION < Version("2.7")
DELETE_JOB_RETURNS_NONE = NVFLARE_VERSION < Version("2.8")
HAS_JOB_LOGS = hasattr(RawSession, "get_job_logs")
HAS_SUBMIT_TOKEN = "submit_token" in inspect.signature(RawSession.submit_job).parameters
HAS_DF_STATISTICS = importlib.util.find_spec("nvflare.app_opt.statistics.df") is not None


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
    try:
        text = raw.cat_target(target, file=f"{job_id}/log.txt")
    except InvalidTarget as e:  # as get_job_logs says of a target it has no log from
        raise NotSupported(f"the log of job {job_id} on {target} is not available: {e}") from None
    except SyntaxError:  # a path the server refuses ("unsupported characters"): say so of the job, as 2.8+ does
        raw.get_job_meta(job_id)  # JobNotFound for an id the server does not know
        raise
    if not _is_missing_file(text):
        return text
    if target == "server":
        text = _finished_server_log(raw, job_id)
        if text is not None:
            return text
    raise NotSupported(f"the log of job {job_id} on {target} is not available: {text.strip()}")


def _is_missing_file(answer) -> bool:
    """The target's own complaint (``cat: X: No such file or directory``), sent as the command's text."""
    return isinstance(answer, str) and answer.startswith("cat: ") and "No such file or directory" in answer


_FINISHED_LOGS_KEPT = 8  # finished jobs' server logs kept in memory per session (before 2.8)


def _finished_server_log(raw, job_id: str) -> str | None:
    """A finished job's server log before 2.8: ``workspace/log.txt`` of the job's result, downloaded into a
    temporary folder (the kit's download folder is left alone) and kept in memory, since it no longer changes.
    None while the job has not finished, or when the result holds no log."""
    import tempfile
    from pathlib import Path

    cache = raw.__dict__.setdefault("_fj_finished_logs", {})
    if job_id in cache:
        return cache[job_id]
    if not str(raw.get_job_meta(job_id).get("status", "")).startswith("FINISHED"):
        return None
    with tempfile.TemporaryDirectory(prefix="flare-jupyter-log-") as tmp:
        log = Path(RawSession.download_job_result(raw, job_id, tmp), "workspace", "log.txt")
        text = log.read_text(errors="replace") if log.is_file() else None
    if text is not None:
        if len(cache) >= _FINISHED_LOGS_KEPT:
            cache.pop(next(iter(cache)))
        cache[job_id] = text
    return text


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

    host, port = admin_endpoint(read_admin_config(raw.startup_path))
    host = host or "localhost"
    admin_port = int(port or 0)
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


def _with_address(sp):
    """An ``list_sp`` entry with the ``name``/``fl_port``/``admin_port`` of its ``sp_end_point`` added."""
    if not isinstance(sp, dict) or not isinstance(sp.get("sp_end_point"), str):
        return sp
    parts = sp["sp_end_point"].split(":")
    if len(parts) != 3:
        return sp
    return {**sp, **{k: sp.get(k, v) for k, v in zip(("name", "fl_port", "admin_port"), parts, strict=True)}}


def list_sp(raw) -> dict:
    """Service providers: NVFlare's own answer up to 2.6, the single server in the same shape after."""
    if HAS_SERVICE_PROVIDERS:
        answer = raw.list_sp()
        if isinstance(answer, str):  # NVFlare sends the dict's text; it documents a dict
            import ast

            try:
                answer = ast.literal_eval(answer)
            except (ValueError, SyntaxError):
                return answer
        if isinstance(answer, dict):
            answer = dict(answer)
            if "primary_sp" in answer:
                answer["primary_sp"] = _with_address(answer["primary_sp"])
            if isinstance(answer.get("sp_list"), list):
                answer["sp_list"] = [_with_address(sp) for sp in answer["sp_list"]]
        return answer
    sp = _single_sp(raw)
    return {"primary_sp": sp, "sp_list": [sp], "system": "ready"}


def get_active_sp(raw) -> dict:
    if HAS_SERVICE_PROVIDERS:
        return raw.get_active_sp()
    return _single_sp(raw)


def promote_sp(raw, sp_end_point: str):
    if HAS_SERVICE_PROVIDERS:
        try:
            return raw.promote_sp(sp_end_point)
        except InternalError as e:
            if "dummy agent" not in str(e):
                raise
            # a system without an HA overseer (e.g. POC) answers "server internal error: this functionality is
            # not supported by the dummy agent"
            raise NotSupported(
                f"this FLARE system (nvflare {NVFLARE_VERSION}) runs without an HA overseer: it has one service "
                "provider (the server) and nothing to promote"
            ) from None
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


# -- the embedded POC system ---------------------------------------------------------------------------------------


def _poc_prepare_has_force() -> bool:
    try:
        from nvflare.tool.poc import poc_commands

        return "force" in inspect.signature(poc_commands._prepare_poc).parameters
    except Exception:
        return NVFLARE_VERSION >= Version("2.6")


def poc_prepare_args() -> tuple[list[str], str]:
    """Extra arguments of ``nvflare poc prepare`` and the text to feed its stdin, so that it replaces an existing
    POC workspace without asking: ``--force`` where it exists, a "y" answer to its question before."""
    return (["--force"], "") if _poc_prepare_has_force() else ([], "y\n")


def sub_start_once_flag(script: Path) -> str | None:
    """The flag that makes a kit's ``sub_start.sh`` start its participant at once and without its watchdog loop
    (``--once`` in 2.9), or None when this release's script has no such mode (2.5: the watchdog only, whose
    loop waits 5 s before it first starts the participant)."""
    try:
        return "--once" if "--once)" in script.read_text() else None
    except OSError:
        return None


def poc_project_builders(fl_port: int, admin_port: int) -> str:
    """The ``builders:`` section of a POC project file for this release (YAML text)."""
    if HAS_SERVICE_PROVIDERS:  # the HA-era provisioning: workspace templates and an overseer agent
        return f"""builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
    args:
      template_file:
        - master_template.yml
  - path: nvflare.lighter.impl.template.TemplateBuilder
  - path: nvflare.lighter.impl.static_file.StaticFileBuilder
    args:
      config_folder: config
      overseer_agent:
        path: nvflare.ha.dummy_overseer_agent.DummyOverseerAgent
        overseer_exists: false
        args:
          sp_end_point: server:{fl_port}:{admin_port}
  - path: nvflare.lighter.impl.cert.CertBuilder
  - path: nvflare.lighter.impl.signature.SignatureBuilder
"""
    return """builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
  - path: nvflare.lighter.impl.static_file.StaticFileBuilder
    args:
      config_folder: config
  - path: nvflare.lighter.impl.cert.CertBuilder
  - path: nvflare.lighter.impl.signature.SignatureBuilder
"""


# -- example jobs --------------------------------------------------------------------------------------------------

_NP_PERSISTOR_MODULE = "fj_numpy_persistor"
_NP_PERSISTOR_SOURCE = '''"""NVFlare's NumPy persistor, starting from the job's initial model (by flare-jupyter)."""

import numpy as np
from nvflare.app_common.np.np_model_persistor import NPModelPersistor


class InitialNPModelPersistor(NPModelPersistor):
    def __init__(self, model, model_dir="models", model_name="server.npy"):
        super().__init__(model_dir=model_dir, model_name=model_name)
        self.default_data = np.asarray(model, dtype=np.float32)
'''


class _NumpyFedAvgRecipe:
    """What ``nvflare.app_common.np.recipes.fedavg.NumpyFedAvgRecipe`` (2.7+) writes, built with the ``FedJob`` API
    of older releases: a FedAvg controller, a NumPy persistor starting from ``model``, a model selector on
    ``key_metric`` (its log lines "validation metric X from client Y" feed our progress) and the training script
    run in-process on every client. Only the arguments flare-jupyter uses are accepted."""

    def __init__(
        self, *, name: str, model, min_clients: int, num_rounds: int, train_script: str, key_metric: str = "accuracy"
    ):
        self.name, self.model, self.min_clients, self.num_rounds = name, model, min_clients, num_rounds
        self.train_script, self.key_metric = train_script, key_metric

    def export(self, job_dir: str) -> None:
        import json

        from nvflare.app_common.np.np_model_persistor import NPModelPersistor
        from nvflare.app_common.widgets.intime_model_selector import IntimeModelSelector
        from nvflare.app_common.workflows.fedavg import FedAvg
        from nvflare.job_config.api import FedJob
        from nvflare.job_config.script_runner import FrameworkType, ScriptRunner

        job = FedJob(name=self.name, min_clients=self.min_clients)
        job.to_server(FedAvg(num_clients=self.min_clients, num_rounds=self.num_rounds), id="controller")
        job.to_server(NPModelPersistor(), id="persistor")
        job.to_server(IntimeModelSelector(key_metric=self.key_metric), id="model_selector")
        job.to_clients(ScriptRunner(script=self.train_script, framework=FrameworkType.NUMPY))
        job.export_job(job_dir)
        app = os.path.join(job_dir, self.name, "app")
        config_file = os.path.join(app, "config", "config_fed_server.json")
        with open(config_file) as f:
            config = json.load(f)
        for comp in config.get("components", []):
            if comp.get("id") == "persistor":
                comp["path"] = f"{_NP_PERSISTOR_MODULE}.InitialNPModelPersistor"
                comp["args"] = {"model": self.model}
        with open(config_file, "w") as f:
            json.dump(config, f, indent=4)
        os.makedirs(os.path.join(app, "custom"), exist_ok=True)
        with open(os.path.join(app, "custom", f"{_NP_PERSISTOR_MODULE}.py"), "w") as f:
            f.write(_NP_PERSISTOR_SOURCE)


try:  # job recipes exist from 2.7
    from nvflare.app_common.np.recipes.fedavg import NumpyFedAvgRecipe
except ImportError:
    NumpyFedAvgRecipe = _NumpyFedAvgRecipe
