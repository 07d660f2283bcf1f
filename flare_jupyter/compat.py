"""Every difference between the NVFlare releases we support (2.5 to 2.9), in one place.

Nothing else in flare-jupyter may test NVFlare's version or probe for a method: it asks this module, which imports
nothing of ours. Known differences:

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
  temporary folder, once per job), while the clients keep their job folders. 2.9's ``get_job_logs`` streams only
  the server's job log ("client log stream not available"): a client's comes from its job folder on every release.
* NVFlare's ``tail_target`` refuses the "+" of ``tail -c +N`` that every release's server accepts:
  ``RawSession.tail_from`` sends it (a growing log read from where the last read ended).
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
* Up to 2.6 the admin client makes a new TLS context for every command (reading the system's CA bundle each time:
  ~30 ms of CPU); ``ADMIN_API_CONTEXT_PER_COMMAND``: each is made once per kit, user and file state and reused.
* ``show_errors`` answers ``"No Error"`` for a clean server and ``{}`` for a clean client.
* ``submit_job`` zips the job folder into the temporary folder and removes the zip once uploaded: a submission the
  server refuses before the upload (no meta.json, a user who may not submit) or an interrupted one leaves it there,
  in every release (one per refusal, up to megabytes): ``RawSession.submit_job`` removes it. Which file is the
  call's own is recorded as NVFlare makes it (``file_transfer.zip_directory_to_file``, wrapped to note it for the
  calling thread): the temporary folder is shared by every process on the machine, and another submission of a
  folder of the same name may be uploading its own zip from there at the same moment.
* Admin startup kits: ``fed_admin.json`` names the server as ``admin.host``/``admin.port`` from 2.7; before, an
  overseer agent's ``sp_end_point`` (``host:fl_port:admin_port``) says where it is (``admin_endpoint`` reads both).
* POC provisioning: while the HA overseer exists (up to 2.6) the project file's builders take its arguments (the
  workspace templates, a ``TemplateBuilder``, an overseer agent naming the server's ports); ``nvflare poc prepare``
  of 2.5 has no ``--force`` (it asks on stdin whether to replace an existing workspace). ``POC_PROJECT_HAS_OVERSEER``
  says which; ``poc.project_yaml`` writes the file.
* Federated statistics over pandas (``DFStatisticsCore``, which our fed-stats example job runs) exist in newer
  releases (2.9; not 2.5): ``HAS_DF_STATISTICS``.
* A kit's ``sub_start.sh`` has a run-once mode (``--once``) in newer releases (2.9; not 2.5); its watchdog loop waits
  5 s before it first starts the participant (``sub_start_once_flag``; the embedded system starts faster with it).
* Job recipes (``NumpyFedAvgRecipe``) exist from 2.7 (None here before; ``examples.py`` then builds the same job
  with the ``FedJob`` API). ``job_kind`` tells a ``Recipe`` (2.7+) from a ``FedJob`` (every release) without
  importing either.
* gRPC's fork handlers (grpc/grpc#28557) can abort a client's job process as it is forked (exit -6, no job log;
  the job ends ``FINISHED:EXECUTION_EXCEPTION`` with the site "deemed disconnected"). 2.9 sets
  ``GRPC_ENABLE_FORK_SUPPORT=False`` and ``GRPC_POLL_STRATEGY=poll`` before gRPC starts; 2.5 sets only the first,
  and only once gRPC is already running. ``PARTICIPANT_ENV`` holds 2.9's two settings: the embedded system starts
  every participant with them (as defaults), on every release.
* NVFlare's metrics writer (``MetricsArtifactWriter``: ``metrics/round_metrics.jsonl`` and ``metrics_summary.json``
  in every ``BaseFedJob``) exists in newer releases (2.9; not 2.5): ``HAS_METRICS_ARTIFACT``. Without it, metrics
  are read from the server log.
* An insecure admin session reads the kit's certificate and key from 2.7 (``INSECURE_SESSIONS_USE_CERTIFICATES``)
  and works against a secure system; before, it logs in as "admin" (``INSECURE_USERNAME``) and needs a system whose
  start scripts say ``secure_train=false`` (``make_kit_insecure``). ``shutdown_system`` of 2.5 on a system without an
  HA overseer stops nothing ("not supported by the dummy agent"): ``shutdown_system`` here then runs ``shutdown all``.
  nvflare 2.9 validates the kit's certificate chain before connecting (``verify_cert_chain``, None before).
* NVFlare's ``Session`` keeps its ``startup_path`` from 2.7 (``RawSession`` keeps it on every release). Refusals:
  an ``AuthorizationError`` a ``RawSession`` raises carries the kit that was refused (``startup_path``) and, for a
  command on a job, that job's ``submitter_name``/``submitter_org``/``submitter_role``, so that ``errors.describe``
  can say who may not do what in words instead of echoing the command (which holds 2.9's submit token). A client
  refusing to shut down is reported by the server only as "failed to shut down all clients" (an ``InternalError``,
  every release): it carries the kit and the command, so the addressed clients' policy can say why.
* ``shutdown_system`` checks that the user is a project admin first up to 2.6; 2.9 first sends ``shutdown all``
  (which a lead or org admin of the sites' organisation may) and checks after the system is down
  (``SHUTDOWN_SYSTEM_CHECKS_ADMIN_LAST``): ``shutdown_system`` below asks the server's project-admin check first
  everywhere, so a refused user shuts nothing down (up to 2.6 NVFlare's own check comes first, before the HA
  overseer and so before the ``shutdown all`` above).
* ``shutdown("client", ...)`` of 2.9 waits until the server no longer lists the clients. A message of a client that
  arrives just after its logout (its last job log, streamed as it stops) makes NVFlare re-activate it (every release,
  ``ClientManager``: "Re-activate the client"), listed until the server's heartbeat timeout (600 s) although its
  process has ended, so NVFlare's wait fails. ``RawSession._wait_for_clients_shutdown`` also ends for a listed client
  that sends no heartbeat (``ClientHeartbeats``).
* Users with roles in the embedded system: ``nvflare poc add-user {org_admin,lead,member} EMAIL --org ORG`` adds one
  to a prepared (even running) POC in newer releases (2.9: ``poc_user_roles``); before, admins are participants of
  the project file that ``nvflare poc prepare`` provisions. NVFlare's default authorization policy (what provisioning
  writes as every site's ``local/authorization.json.default``) is in its master template, whose folder moved
  (``default_policy``).
* NVFlare's admin client prints a traceback to stderr (a notebook's cell output) for a failure it then reports or
  retries: the authenticator for every failed registration try while a server restarts (2.9's
  ``private/fed/authenticator.py``), the admin API when a command cannot be sent (``fuel/hci/client/api.py``). In
  those modules ``traceback`` is replaced by ``_LoggedTracebacks``: the traceback goes to the ``CHATTER`` logger.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import functools
import importlib.util
import inspect
import logging
import os
import re
import shutil
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from importlib import metadata
from pathlib import Path

import yaml
from nvflare.fuel.flare_api import api_spec as _spec
from nvflare.fuel.flare_api import flare_api as _api
from nvflare.fuel.hci.client import api as _admin_api
from nvflare.fuel.hci.client import file_transfer as _file_transfer
from nvflare.fuel.hci.cmd_arg_utils import validate_file_string, validate_required_target_string
from packaging.version import Version

NVFLARE_VERSION = Version(metadata.version("nvflare"))

# NVFlare logs connection retries as errors; with no logging configured, Python would print them on stderr from
# background threads, into whatever notebook cell is running. A library must leave that choice to the user:
# these records still reach any handler the user configures (e.g. logging.basicConfig).
logging.getLogger("nvflare").addHandler(logging.NullHandler())

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
    spec = importlib.util.find_spec("nvflare.private.fed.server.shell_cmd")
    try:
        return spec is not None and "getoutput(" in Path(spec.origin).read_text()
    except OSError:
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


#: Where NVFlare's console chatter goes ("Connecting to FLARE ...", and its debug lines): a logger, never stdout,
#: which would print into whatever notebook cell runs, many times over while a restart is awaited.
CHATTER = logging.getLogger("flare_jupyter.nvflare")


class RawSession(_api.Session):
    """NVFlare's ``Session``, with what older releases lack or answer differently put right, and its console
    chatter sent to ``CHATTER`` (debug lines at DEBUG, the rest at INFO)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self, "startup_path"):  # kept by NVFlare's Session from 2.7 only
            self.startup_path = kwargs.get("startup_path", args[1] if len(args) > 1 else None)
        api = getattr(self, "api", None)
        if api is not None and hasattr(api, "_print_hci"):  # 2.9: "Connecting to FLARE ..." and its debug lines
            api._print_hci = _chatter
        if api is not None and hasattr(api, "debug"):  # every release: debug lines only when asked for, logged
            api.debug = _debug_line if getattr(api, "_debug", False) else _no_debug_line

    def tail_from(self, target: str, file: str, offset: int) -> str:
        """The text of ``file`` on ``target`` from byte ``offset`` on (``tail -c +N``): what was appended since a
        read that ended there. NVFlare's ``tail_target`` refuses the '+' that its server (every release) accepts,
        so the target and file are checked as NVFlare checks them and the command is sent as it sends its own."""
        target = validate_required_target_string(target)
        file = validate_file_string(file)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a whole number >= 0, not {offset!r}")
        reply = self._do_command(f"tail {target} -c +{offset + 1} {file}", enforce_meta=False)
        return self._get_string_data(reply)

    def _new_poll_session(self):
        """The extra sessions NVFlare opens while it waits for a restart or shutdown (2.9), quiet as this one."""
        return RawSession(
            username=self.username,
            startup_path=self.startup_path,
            secure_mode=self.secure_mode,
            debug=getattr(self, "_debug", False),
            **({"study": self._study} if hasattr(self, "_study") else {}),
        )

    #: How long one poll of 2.9's wait for a restart or shutdown (``_poll_system_info``) may take before it counts
    #: as no answer. NVFlare gives its connect 1 s, but closing a poll session whose connect reached a server in the
    #: middle of its restart can wait without end: the session's connector thread holds a websocket the restarted
    #: server opened after the session had already been stopped, and ``close`` joins that thread (seen once in ten
    #: clean-clone runs: ``restart("server")`` hung until the test's 600 s timeout).
    POLL_SECONDS = 30.0

    def _poll_system_info(self, connect_timeout: float):
        """NVFlare's poll of the server while it waits for a restart or shutdown (2.9), on a thread of its own: one
        that has not answered within ``POLL_SECONDS`` counts as no connection (NVFlare then polls again with a new
        session); its thread is left behind, and ends once the server closes that connection (a restart, a stop)."""
        answer: dict = {}
        poll = super()._poll_system_info

        def run():
            try:
                answer["info"] = poll(connect_timeout)
            except BaseException as e:  # handed to the caller's thread
                answer["error"] = e

        thread = threading.Thread(target=run, name="flare-jupyter state-change poll", daemon=True)
        thread.start()
        thread.join(connect_timeout + self.POLL_SECONDS)
        if thread.is_alive():
            raise NoConnection(f"the server did not answer a poll within {connect_timeout + self.POLL_SECONDS:g} s")
        if "error" in answer:
            raise answer["error"]
        return answer["info"]

    def _do_command(self, command, *args, **kwargs):
        try:
            return super()._do_command(command, *args, **kwargs)
        except AuthorizationError as e:
            self._name_the_refused(e, str(command))
            raise
        except InternalError as e:
            # status "error" answers that older releases raise as an InternalError: a server that no longer knows
            # this session (e.g. restarted) says "session_inactive"; one not listening (yet), "Failed to
            # communicate with Admin Server ..."
            text = str(e)
            if text.rstrip().endswith("session_inactive"):
                raise SessionClosed(f"the session is closed on the server ({text})") from None
            if "Failed to communicate with Admin Server" in text:
                raise ConnectionError(text) from None
            if "failed to shut down all clients" in text:  # a client's refusal is not passed on: say who asked what
                e.startup_path, e.command = getattr(self, "startup_path", None), str(command)
            raise

    def _wait_for_clients_shutdown(self, client_names, timeout: float):
        """NVFlare's wait at the end of ``shutdown("client", ...)`` (2.9), which also ends for a client the server
        lists only because NVFlare re-activated it after its logout (``ClientHeartbeats``); NVFlare's error when a
        client really stays up."""
        timeout = self._validate_state_change_timeout(timeout)
        deadline = time.monotonic() + timeout
        stopping = ClientHeartbeats(client_names)
        while True:
            now = time.monotonic()
            up = stopping.still_up(self._client_last_connect_times(), now)  # NVFlare's own {name: time} of all
            if not up:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"clients did not stop within {timeout} seconds; last error: clients are still connected: "
                    + ", ".join(sorted(up))
                )
            time.sleep(min(_api._STATE_CHANGE_POLL_INTERVAL, deadline - now))

    def submit_job(self, job_definition_path: str, *args, **kwargs) -> str:
        """NVFlare's ``submit_job``, leaving nothing behind: NVFlare zips the job folder into a uuid-named file in
        the temporary folder and removes it once uploaded, so a submission refused before the upload (no meta.json,
        a user who may not submit) or interrupted left it there, in every release (``unsent_uploads_removed``)."""
        with unsent_uploads_removed():
            return super().submit_job(job_definition_path, *args, **kwargs)

    submit_job.__signature__ = inspect.signature(_api.Session.submit_job)  # NVFlare's own, per release

    def _name_the_refused(self, refusal: BaseException, command: str) -> None:
        """Put on a refusal which kit the server refused (its certificate says who and in what role) and, when the
        command names a job, who submitted that job (one ``get_job_meta``, which NVFlare's default policy lets every
        role send; left out when it fails too)."""
        refusal.startup_path = getattr(self, "startup_path", None)
        words = command.split()
        if len(words) < 2 or words[0] == "get_job_meta" or not JOB_ID.fullmatch(words[1]):
            return
        try:
            meta = self.get_job_meta(words[1])
        except Exception:
            return
        for key in SUBMITTER_KEYS:
            if meta.get(key):
                setattr(refusal, key, meta[key])

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
                    "run in a shell: refused (a pattern may not hold $, ` or \", nor, without spaces, ', (, ), ;, |, "
                    "&, < or >)"
                )
            return super().grep_target(target, options, pattern, file)


#: The zips NVFlare made for the calling thread's ``submit_job`` while it runs (``unsent_uploads_removed``).
_uploads = threading.local()
#: NVFlare's own function (not our wrapper of it, should this module be imported again, e.g. by ``%autoreload``)
_zip_directory_to_file = inspect.unwrap(_file_transfer.zip_directory_to_file)
_ZIP_PARAMETERS = inspect.signature(_zip_directory_to_file)


@functools.wraps(_zip_directory_to_file)
def _zip_noted(*args, **kwargs):
    """NVFlare's ``zip_directory_to_file(root_dir, folder_name, output_file)``, as its ``submit_job`` calls it,
    noting the zip it writes (the third parameter) for the calling thread."""
    made = getattr(_uploads, "made", None)
    if made is not None:
        made.append(list(_ZIP_PARAMETERS.bind(*args, **kwargs).arguments.values())[2])
    return _zip_directory_to_file(*args, **kwargs)


_file_transfer.zip_directory_to_file = _zip_noted  # every release zips through this module's name for it


class _ContextPlan:
    """What nvflare's ``AdminAPI`` does to a new TLS context before each command (``ssl.create_default_context()``,
    its settings, the kit's root CA, the user's certificate and key), recorded; its ``wrap_socket`` then uses the
    context made once for that same plan and those same files (``_context_for``). Anything else asked of it is
    asked of that context."""

    _METHODS = ("load_verify_locations", "load_cert_chain")  # what 2.5 and 2.6 call on it

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "_steps", [("create_default_context", args, tuple(sorted(kwargs.items())))])

    def __setattr__(self, name, value):
        self._steps.append(("=", name, value))

    def __getattr__(self, name):
        if name in self._METHODS:
            return lambda *args, **kwargs: self._steps.append((name, args, tuple(sorted(kwargs.items()))))
        return getattr(_context_for(self._steps), name)  # wrap_socket, and whatever a release may read


#: The TLS contexts made for ``_ContextPlan``s, by plan and the state of the files it names (one per kit and user).
_contexts: dict = {}
_contexts_lock = threading.Lock()


def _files_state(steps) -> tuple:
    """The size and modification time of every file a plan names: a kit replaced in place makes a new context."""
    state = []
    for _, args, kwargs in (s for s in steps if s[0] != "="):
        for value in (*args, *(v for _, v in kwargs)):
            if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
                st = os.stat(value)
                state.append((os.fspath(value), st.st_size, st.st_mtime_ns))
    return tuple(state)


def _context_for(steps) -> ssl.SSLContext:
    key = (tuple(steps), _files_state(steps))
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:  # made as NVFlare makes it; an error (a bad key) raises here, inside NVFlare's try
            (_, args, kwargs), *rest = steps
            context = ssl.create_default_context(*args, **dict(kwargs))
            for step in rest:
                if step[0] == "=":
                    setattr(context, step[1], step[2])
                else:
                    getattr(context, step[0])(*step[1], **dict(step[2]))
            _contexts[key] = context
        return context


class _SslWithReusedContexts:
    """The ``ssl`` module as nvflare's ``fuel.hci.client.api`` sees it, with ``create_default_context`` recorded
    (``_ContextPlan``) rather than made at once."""

    create_default_context = _ContextPlan
    reuses_contexts = True

    def __getattr__(self, name):
        return getattr(ssl, name)


#: Up to 2.6, NVFlare's ``AdminAPI`` makes a new TLS context for every command it sends (``_try_command``), and
#: ``ssl.create_default_context`` reads the system's whole CA bundle each time: about 30 of the 35 ms of CPU that a
#: command costs the caller on 2.5.2 (py-spy, a live test module: 68% of the test process's CPU), where 2.9 takes
#: 4 ms. The kernel session, the widgets' poller and the 2.5.2 test run call it thousands of times. The contexts are
#: the same from one command to the next, so each is made once (per kit, user and file state) and reused: the same
#: settings and certificates, so the same checks. Newer releases connect through their cell network and are left
#: alone.
_admin_ssl = getattr(_admin_api, "ssl", None)
ADMIN_API_CONTEXT_PER_COMMAND = _admin_ssl is ssl or getattr(_admin_ssl, "reuses_contexts", False)
if ADMIN_API_CONTEXT_PER_COMMAND:  # (this module imported again, e.g. by %autoreload: one wrapper, of the new code)
    _admin_api.ssl = _SslWithReusedContexts()


@contextlib.contextmanager
def unsent_uploads_removed():
    """Around a ``submit_job``: the zip NVFlare made for it, if NVFlare left it in the temporary folder (refused
    before the upload, interrupted), is removed at the end; zips of other submissions are never touched."""
    outer = getattr(_uploads, "made", None)
    _uploads.made = made = []
    try:
        yield
    finally:
        _uploads.made = outer
        for path in made:
            try:
                os.remove(path)
            except FileNotFoundError:  # NVFlare removed it itself: it was uploaded
                pass
            except OSError as e:  # never fail a submission the server may have accepted over a leftover file
                CHATTER.debug("could not remove the upload %s: %s", path, e)


#: A job id as the server makes them (a UUID); the job's submitter as its meta names them (every release).
JOB_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SUBMITTER_KEYS = ("submitter_name", "submitter_org", "submitter_role")

HAS_SERVICE_PROVIDERS = hasattr(RawSession, "list_sp")
#: ``abort_job`` and ``delete_job`` answer None in these releases (we pass their answers through unchanged).
ABORT_JOB_RETURNS_NONE = NVFLARE_VERSION < Version("2.7")
DELETE_JOB_RETURNS_NONE = NVFLARE_VERSION < Version("2.8")
HAS_JOB_LOGS = hasattr(RawSession, "get_job_logs")
HAS_SUBMIT_TOKEN = "submit_token" in inspect.signature(RawSession.submit_job).parameters
#: ``restart`` and ``shutdown`` wait until the change happened, up to ``timeout`` seconds (2.9; 2.5 returns at once).
HAS_STATE_CHANGE_WAIT = "timeout" in inspect.signature(RawSession.restart).parameters


#: A client sends the server a heartbeat every 10 s (NVFlare's ``heart_beat_interval``; its ``last_connect_time``
#: then moves): one listed without a heartbeat for two of them is no longer running.
STOPPED_CLIENT_SILENCE = 20.0


class ClientHeartbeats:
    """Which listed clients (of ``names``, all when it is empty) still send heartbeats, from the server's listings
    (``{name: last_connect_time}``) taken at times ``now`` (this machine's monotonic clock, so the server's clock may
    differ). A client whose ``last_connect_time`` has not moved for ``silence`` seconds of ours, or for twice the
    shortest of the last five moves we saw (a site configured with a longer ``heart_beat_interval``; an outage does
    not count, and listings further apart than its heartbeats stretch the wait to twice theirs), sends none: it has
    stopped (killed, or shut down and re-activated by NVFlare when a last message arrived after its logout) or cannot
    reach the server, yet NVFlare lists it until its heartbeat timeout (600 s by default). Before a move was seen,
    NVFlare's default interval (10 s) is assumed. A time that is not a number is not judged."""

    def __init__(self, names=None, silence: float = STOPPED_CLIENT_SILENCE):
        self.names = set(names or [])
        self.silence = silence
        self._since: dict[str, tuple] = {}  # name -> (its last_connect_time, when we first saw that value)
        self._gaps: dict[str, collections.deque] = {}  # name -> its last moves (server seconds)

    def silent(self, listed: dict, now: float) -> dict[str, float]:
        """{name: seconds we have seen no heartbeat from it} for the listed clients silent that long (at least: the
        count starts at the first listing that showed its last heartbeat)."""
        quiet = {}
        for name, last_connect in listed.items():
            if self.names and name not in self.names:
                continue
            if not isinstance(last_connect, (int, float)):
                continue
            seen = self._since.get(name)
            if seen is None or seen[0] != last_connect:
                if seen is not None:
                    self._gaps.setdefault(name, collections.deque(maxlen=5)).append(last_connect - seen[0])
                self._since[name] = (last_connect, now)
            elif now - seen[1] >= max(self.silence, 2 * min(self._gaps.get(name) or [0.0])):
                quiet[name] = now - seen[1]
        return quiet

    def still_up(self, listed: dict, now: float) -> set:
        """The listed clients (of ``names``) that still send heartbeats."""
        quiet = self.silent(listed, now)
        return {n for n in listed if (not self.names or n in self.names) and n not in quiet}


#: How long ``%flare restart``/``shutdown`` and the clients panel wait for the change (where NVFlare waits). NVFlare's
#: own default, 30 s, leaves little room over its watchdog (``sub_start.sh`` looks every 5 s, waits 5 s more before
#: it kills the old process, looks again, then starts a new one): an idle embedded system's server restart took
#: 16 s until both clients were back here, and on a busy 2-core CI machine the new server took over 30 s. The Python
#: API keeps NVFlare's default (its signature); the front ends wait longer.
STATE_CHANGE_TIMEOUT = 90.0


def state_change_wait(timeout: float = STATE_CHANGE_TIMEOUT) -> dict:
    """The keyword arguments that make ``restart``/``shutdown`` wait up to ``timeout`` seconds, where they wait."""
    return {"timeout": timeout} if HAS_STATE_CHANGE_WAIT else {}


HAS_DF_STATISTICS = importlib.util.find_spec("nvflare.app_opt.statistics.df") is not None


def _chatter(message: str) -> None:
    CHATTER.log(logging.DEBUG if str(message).startswith("DEBUG: ") else logging.INFO, "%s", message)


class _LoggedTracebacks:
    """Stands in for the ``traceback`` module inside the NVFlare modules that print a traceback for a failure they
    go on to report in their own words or retry (``QUIET_TRACEBACKS``): ``print_exc`` logs it to ``CHATTER`` at
    DEBUG; everything else is the real module's."""

    def print_exc(self, *args, **kwargs) -> None:
        CHATTER.debug("NVFlare's traceback (it reports the failure itself):\n%s", traceback.format_exc())

    def __getattr__(self, name):
        return getattr(traceback, name)


#: The NVFlare modules whose printed tracebacks go to ``CHATTER`` (those a release has).
QUIET_TRACEBACKS = ("nvflare.private.fed.authenticator", "nvflare.fuel.hci.client.api")
for _name in QUIET_TRACEBACKS:
    try:
        _module = importlib.import_module(_name)
    except ImportError:
        continue
    if getattr(_module, "traceback", None) is traceback:
        _module.traceback = _LoggedTracebacks()


def _debug_line(message: str) -> None:
    CHATTER.debug("DEBUG: %s", message)


def _no_debug_line(message: str) -> None:
    pass


class NotSupported(Exception):
    """The operation does not exist in the installed NVFlare release or this kind of system."""


class NotInRelease(NotSupported, AttributeError):
    """A ``Session`` method the installed release lacks: calling it raises what NVFlare's own session raises for
    it (``AttributeError``), with a sentence that says so."""


def new_submit_token() -> str | None:
    """A fresh token that makes one submission retry-safe, where NVFlare supports it."""
    return f"fj-{uuid.uuid4().hex}" if HAS_SUBMIT_TOKEN else None


def job_log_text(raw, job_id: str, target: str = "server") -> str:
    """The text of a job's log on one target: ``get_job_logs`` from 2.8 (the server's own job logs; a client's is
    still read from the job's folder on that client, as before 2.8 for every target)."""
    if HAS_JOB_LOGS:
        answer = raw.get_job_logs(job_id, target=target)
        logs, unavailable = answer.get("logs") or {}, answer.get("unavailable") or {}
        if target == "all":
            return "\n".join(logs.values())
        if target in logs or target not in unavailable:
            return logs.get(target, "")
        # the server streams only its own job logs ("client log stream not available"); a client keeps its job's
        # log in the job's folder, as on every release: read it there
    return _job_folder_log(raw, job_id, target)


def job_log_operations(target: str = "server", finished: bool = False) -> tuple[str, ...]:
    """The session operations ``job_log_text`` runs for a job's log on ``target`` (each needs its right):
    ``get_job_logs`` for the server's from 2.8; else ``cat_target`` of the job's folder, and for a finished job's
    server log before 2.8 ``download_job_result`` as well."""
    if HAS_JOB_LOGS and target == "server":
        return ("get_job_logs",)
    if target == "server" and finished:
        return ("cat_target", "download_job_result")
    return ("cat_target",)


def _job_folder_log(raw, job_id: str, target: str) -> str:
    """A job's log from its folder on ``target``; a finished job's server log from its result (see above)."""
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
    cache = raw.__dict__.setdefault("_fj_finished_logs", {})
    if job_id in cache:
        return cache[job_id]
    if not str(raw.get_job_meta(job_id).get("status", "")).startswith("FINISHED"):
        return None
    text = (result_files(raw, job_id, ["log.txt"]) or {}).get("log.txt")
    if text is not None:
        if len(cache) >= _FINISHED_LOGS_KEPT:
            cache.pop(next(iter(cache)))
        cache[job_id] = text
    return text


def result_files(raw, job_id: str, paths) -> dict[str, str | None] | None:
    """The text of files of a finished job's server workspace (``paths`` relative to it), from its result
    downloaded into a temporary folder (the kit's download folder is left alone); None for a file it lacks. None
    instead of the dict while the result holds no workspace yet: the server says FINISHED a moment before it saves
    the job's workspace into its job store (2.5 always: the status is set, then ``JOB_COMPLETED`` saves it)."""
    with tempfile.TemporaryDirectory(prefix="flare-jupyter-result-") as tmp:
        workspace = Path(raw.download_job_result(job_id, tmp), "workspace")
        if not workspace.is_dir():
            return None
        return {p: (workspace / p).read_text(errors="replace") if (workspace / p).is_file() else None for p in paths}


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


def _single_sp(raw, host: str | None, admin_port) -> dict:
    """The one server of a system without an HA overseer, in ``get_active_sp``'s shape. ``host`` and ``admin_port``
    are what the session's kit names; the federated-learning port is what the clients report as their server URL."""
    fl_port = None
    try:
        envs = raw.get_client_env()
        url = envs[0].get("root_url", "") if envs else ""
        fl_port = int(url.rsplit(":", 1)[1]) if ":" in url.split("//", 1)[-1] else None
    except Exception:
        fl_port = None
    return {
        "name": host or "localhost",
        "fl_port": str(fl_port) if fl_port else "",
        "admin_port": str(int(admin_port or 0)),
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


def list_sp(raw, host: str | None = None, admin_port=None) -> dict:
    """Service providers: NVFlare's own answer up to 2.6, the single server in the same shape after (``host`` and
    ``admin_port`` are the kit's, see ``_single_sp``)."""
    if HAS_SERVICE_PROVIDERS:
        answer = raw.list_sp()
        if isinstance(answer, str):  # NVFlare sends the dict's text; it documents a dict
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
    sp = _single_sp(raw, host, admin_port)
    return {"primary_sp": sp, "sp_list": [sp], "system": "ready"}


def get_active_sp(raw, host: str | None = None, admin_port=None) -> dict:
    if HAS_SERVICE_PROVIDERS:
        return raw.get_active_sp()
    return _single_sp(raw, host, admin_port)


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


def monitor_job(session, job_id, timeout=0.0, poll_interval=2.0, cb=None, *cb_args, **cb_kwargs):
    if hasattr(RawSession, "monitor_job_and_return_job_meta"):
        rc, _ = monitor_job_and_return_job_meta(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)
        return rc
    return RawSession.monitor_job(session, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)


def open_session(username: str, kit: str, secure: bool, timeout: float, debug: bool = False):
    """A connected NVFlare ``Session`` (what ``new_secure_session``/``new_insecure_session`` make); its console
    chatter goes to a logger (see ``RawSession``)."""
    raw = RawSession(
        username=username if secure else INSECURE_USERNAME, startup_path=kit, secure_mode=secure, debug=debug
    )
    try:
        raw.try_connect(timeout)
    except BaseException:
        try:
            raw.close()
        except Exception:
            pass
        raise
    return raw


def _shutdown_system_checks_admin_last() -> bool:
    """Whether NVFlare's ``shutdown_system`` sends ``shutdown all`` before its project-admin check (2.9)."""
    try:
        source = inspect.getsource(_api.Session.shutdown_system)
    except (OSError, TypeError):
        return NVFLARE_VERSION >= Version("2.7")
    shut, check = source.find("SHUTDOWN}"), source.find("ADMIN_CHECK_STATUS")
    return 0 <= shut < check


SHUTDOWN_SYSTEM_CHECKS_ADMIN_LAST = _shutdown_system_checks_admin_last()


def shutdown_system(raw) -> None:
    """NVFlare's ``shutdown_system``, which only a project admin may run. The server's own project-admin check
    (``admin_check_status``, which changes nothing) goes first on every release: where NVFlare sends ``shutdown
    all`` before it (2.9), a lead or org admin of the sites' organisation would otherwise shut the whole system down
    and only then be refused (up to 2.6 NVFlare checks first itself). Its check that the server stopped may find the
    server already gone (the connection drops, on every release): that is the shutdown having worked, not an error.
    Up to 2.6 it then asks the HA overseer agent, and a system without one (POC) answers "not supported by the dummy
    agent" and stops nothing: there the whole system is shut down as ``shutdown("all")`` does it, which is what a
    user meant (the project-admin check has passed by then)."""
    if SHUTDOWN_SYSTEM_CHECKS_ADMIN_LAST:
        raw._do_command("admin_check_status server")
    try:
        raw.shutdown_system()
    except SESSION_LOST_ERRORS:
        pass
    except RuntimeError as e:
        if "dummy agent" not in str(e):
            raise
        try:
            raw.shutdown("all")
        except SESSION_LOST_ERRORS:
            pass


# -- the embedded POC system ---------------------------------------------------------------------------------------
#: POC provisioning of the HA era (up to 2.6) takes the workspace templates and an overseer agent in the project
#: file's builders (``poc.project_yaml`` writes them).
POC_PROJECT_HAS_OVERSEER = HAS_SERVICE_PROVIDERS


def _poc_prepare_has_force() -> bool:
    try:
        # deferred: NVFlare's POC tool imports much of NVFlare, and only starting a POC needs this answer
        from nvflare.tool.poc import poc_commands

        return "force" in inspect.signature(poc_commands._prepare_poc).parameters
    except Exception:
        return NVFLARE_VERSION >= Version("2.6")


def poc_prepare_args() -> tuple[list[str], str]:
    """Extra arguments of ``nvflare poc prepare`` and the text to feed its stdin, so that it replaces an existing
    POC workspace without asking: ``--force`` where it exists, a "y" answer to its question before."""
    return (["--force"], "") if _poc_prepare_has_force() else ([], "y\n")


def poc_user_roles() -> tuple[str, ...]:
    """The roles ``nvflare poc add-user`` gives a user of a prepared POC (2.9: org_admin, lead, member), or ()
    where the command does not exist (2.5: users are admin participants of the project file)."""
    try:
        # deferred: NVFlare's POC tool imports much of NVFlare, and only starting a POC needs this answer
        from nvflare.tool.poc import poc_commands
    except Exception:
        return ()
    return tuple(getattr(poc_commands, "POC_USER_CERT_ROLES", ()))


def poc_add_user_args(role: str, name: str, org: str) -> list[str]:
    """The arguments of ``python -m nvflare.cli`` that add one user to the POC (see ``poc_user_roles``)."""
    return ["poc", "add-user", role, name, "--org", org]


def default_policy_text() -> str | None:
    """NVFlare's default authorization policy (JSON text): what provisioning writes as every site's
    ``local/authorization.json.default``, from its master template (``lighter/templates`` in 2.9,
    ``lighter/impl`` before). None if the installed NVFlare has none."""
    spec = importlib.util.find_spec("nvflare.lighter")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    for template in (folder / "templates" / "master_template.yml", folder / "impl" / "master_template.yml"):
        if template.is_file():
            text = _yaml_value(template.read_text(), "default_authz")
            if text:
                return text
    return None


def _yaml_value(text: str, key: str) -> str | None:
    """One top-level key of a YAML document (NVFlare's template holds it as a block of text)."""
    try:
        value = yaml.safe_load(text).get(key)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def sub_start_once_flag(script: Path) -> str | None:
    """The flag that makes a kit's ``sub_start.sh`` start its participant at once and without its watchdog loop
    (``--once`` in 2.9), or None when this release's script has no such mode (2.5: the watchdog only, whose
    loop waits 5 s before it first starts the participant)."""
    try:
        return "--once" if "--once)" in script.read_text() else None
    except OSError:
        return None


# -- startup kits --------------------------------------------------------------------------------------------------
#: From 2.7 every admin session authenticates with the kit's certificate and key (an insecure one only takes its
#: user name from the certificate); up to 2.6 an insecure kit (``"with_ssl": false``) needs none.
INSECURE_SESSIONS_USE_CERTIFICATES = NVFLARE_VERSION >= Version("2.7")
#: The user name NVFlare's own ``new_insecure_session`` logs in with: from 2.7 none (the certificate names the user);
#: before, "admin", the one user an insecure server knows.
INSECURE_USERNAME = "" if INSECURE_SESSIONS_USE_CERTIFICATES else "admin"
#: Before 2.7 an insecure session needs a server (and clients) started without ``secure_train``; from 2.7 a secure
#: system takes it (the user is the one the certificate names).
INSECURE_SESSIONS_NEED_AN_INSECURE_SYSTEM = not INSECURE_SESSIONS_USE_CERTIFICATES


def make_kit_insecure(startup: Path) -> None:
    """Turn a participant's provisioned start script insecure (``secure_train=false``): before 2.7 the provisioning
    has no setting for it, so an insecure POC is a secure one with its start scripts changed (server and clients)."""
    script = startup / "sub_start.sh"
    script.write_text(script.read_text().replace("secure_train=true", "secure_train=false"))


try:  # the certificate path validation nvflare >= 2.9 runs before connecting; older releases run none
    from nvflare.lighter.utils import verify_cert_chain
except ImportError:
    verify_cert_chain = None

# -- job recipes ---------------------------------------------------------------------------------------------------
try:  # job recipes exist from 2.7 (examples.py builds the same job with the FedJob API before)
    from nvflare.app_common.np.recipes.fedavg import NumpyFedAvgRecipe
except ImportError:
    NumpyFedAvgRecipe = None


#: NVFlare's own metrics writer (``metrics/round_metrics.jsonl``, ``metrics_summary.json``), 2.9 but not 2.5.
#: Environment defaults for every participant of the embedded system: what 2.9 sets itself before gRPC starts.
PARTICIPANT_ENV = {"GRPC_ENABLE_FORK_SUPPORT": "False", "GRPC_POLL_STRATEGY": "poll"}
HAS_METRICS_ARTIFACT = importlib.util.find_spec("nvflare.app_common.widgets.metrics_artifact_writer") is not None

#: Where NVFlare defines what a notebook may hand ``fj.submit``: (module, class, kind).
_JOB_TYPES = (("nvflare.recipe.spec", "Recipe", "recipe"), ("nvflare.job_config.api", "FedJob", "FedJob"))


def job_kind(obj) -> str | None:
    """ "recipe" for an NVFlare ``Recipe`` (2.7+), "FedJob" for a ``FedJob`` (every release), else None. Looked up in
    the modules already imported: an object of a class whose module was never imported cannot be one, so nothing of
    NVFlare's job API (about a second to import) is imported here."""
    for module, name, kind in _JOB_TYPES:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(obj, cls):
            return kind
    return None
