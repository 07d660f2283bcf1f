"""The kernel's one FLARE session, shared by the Python API, the magics and the widgets.

``KernelSession`` is a drop-in for ``nvflare.fuel.flare_api.Session``: the same method names, parameters, return
values and exception types. On top of it, it

* serialises calls with a lock, so the widgets' background thread and the notebook can share it;
* reconnects when the server dropped the session (expiry, restart) and repeats the call when that is safe;
  ``submit_job`` is never repeated unless NVFlare's ``submit_token`` makes the repeat a no-op;
* turns NVFlare's errors into one clear sentence (the exception keeps its NVFlare type);
* lets every other public attribute of NVFlare's session (``api``, ``do_command``, the study methods, ...) reach
  the live NVFlare session under the same lock and reconnect rules.

This module also holds ``resolve_job`` (a job id from a unique prefix) and ``job_starting``, which the widgets, the
analysis and the magics share. The kernel's *current* session (``connect``, ``session``, ``disconnect``) is in
``connection.py``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import os
import threading
import time

from . import compat, render, settings
from .errors import ArgumentError, FlareError, NotConnected, describe, friendly, raised_inside_server, refusal
from .kit import admin_endpoint as kit_admin_endpoint
from .kit import kit_identity, server_address
from .values import seconds, whole_number

log = logging.getLogger("flare_jupyter")


def _operation(name: str, repeatable: bool):
    """A ``KernelSession`` method that runs NVFlare's ``Session.<name>`` through ``KernelSession._call``.

    ``repeatable`` says whether the call may be sent again after a reconnect (reads, and writes whose repeat
    changes nothing). The method keeps NVFlare's signature and docstring, so ``help()`` and ``?`` show NVFlare's.
    """
    impl = getattr(compat.RawSession, name, None)
    if impl is None:

        def missing(self, *args, **kwargs):
            raise compat.NotInRelease(f"{name} does not exist in nvflare {compat.NVFLARE_VERSION}")

        missing.__name__ = name
        return missing

    @functools.wraps(impl)
    def method(self, *args, **kwargs):
        return self._call(name, args, kwargs, repeatable)

    return method


class KernelSession:
    """A thread-safe, self-reconnecting FLARE admin session (see the module docstring)."""

    def __init__(
        self,
        kit: str,
        username: str,
        secure: bool = True,
        timeout: float = 10.0,
        raw=None,
        origin: str = "",
        debug: bool = False,
    ):
        self.kit = str(kit)
        self.username = username
        self.secure = secure
        self.timeout = timeout
        self.debug = debug
        self.origin = origin  # "poc" when connected to the embedded system
        self._lock = threading.RLock()
        self._raw = raw
        self._closed = False
        self._shut_down = False  # shutdown_system ran: the system is gone, not merely unreachable
        self._command_timeout: float | None = None
        self._results: dict[str, dict[str, str | None]] = {}  # finished jobs' result files (finished_job_files)
        self._opened = raw is not None
        self.reconnects = 0

    # -- connection -------------------------------------------------------------------------------------------
    @property
    def startup_path(self) -> str:
        return self.kit

    @property
    def server(self) -> str:
        try:
            return server_address(self.kit)
        except Exception:
            return "?"

    @property
    def closed(self) -> bool:
        """Closed by ``close()``, or its system shut down by ``shutdown_system()``."""
        return self._closed or self._shut_down

    def ensure_open(self) -> None:
        """Raise ``NotConnected`` (what every call would raise) when the session was closed or its system shut
        down; makes no call."""
        if self._shut_down:
            raise NotConnected(SHUT_DOWN, shut_down=True)
        if self._closed:
            raise NotConnected("this session was closed: connect again with fj.connect() or %flare connect")

    def _open_raw(self):
        try:
            raw = compat.open_session(self.username, self.kit, self.secure, self.timeout, self.debug)
        except compat.SESSION_LOST_ERRORS as e:
            raise friendly(
                e,
                f"cannot reach the FLARE server at {self.server} within {self.timeout:g} s: is it running? "
                "(fj.poc.start() or %flare poc start runs a local one)",
            ) from None
        except Exception as e:
            raise friendly(e, describe(e, "connect")) from None
        if self._command_timeout is not None:
            raw.set_timeout(self._command_timeout)
        return raw

    def _open(self) -> None:
        """Open the NVFlare session; opening it again after it was closed (a restart) counts as a reconnect."""
        self._raw = self._open_raw()
        if self._opened:
            self.reconnects += 1
        self._opened = True

    def _reopen(self):
        self._discard_raw()
        if settings.progress and threading.current_thread() is threading.main_thread():
            print(f"the server dropped the session: reconnecting to {self.server} ...", flush=True)
        self._open()
        log.info("reconnected to %s as %s", self.server, self.username)

    def _call(self, name: str, args: tuple, kwargs: dict, repeatable: bool):
        """Run NVFlare's ``Session.<name>(*args, **kwargs)``."""
        arguments = _arguments(name, args, kwargs)
        check = _ARGUMENT_CHECKS.get(name)
        if check is not None:
            args, kwargs = check(args, kwargs, arguments)
        return self._run(
            lambda raw: getattr(raw, name)(*args, **kwargs),
            name,
            repeatable,
            lambda: _job_and_target(arguments),
        )

    def _run(self, fn, name: str, repeatable: bool, context=dict):
        """``fn(raw_session)`` under the lock: connect if needed, reconnect once if the server dropped the session
        (repeating ``fn`` only when ``repeatable``), and turn errors into one clear sentence."""
        self.ensure_open()
        with self._lock:
            try:
                if self._raw is None:
                    self._open()
                try:
                    return fn(self._raw)
                except compat.SESSION_LOST_ERRORS as lost:
                    self._reopen()
                    if not repeatable:
                        raise friendly(
                            lost,
                            f"the connection dropped during {name} and was re-established; the {name} may or may "
                            "not have reached the server: check (e.g. %flare list_jobs) before trying again",
                        ) from None
                    return fn(self._raw)
            except Exception as e:
                raise friendly(e, describe(e, name, **context())) from None

    def close(self):
        """Close the session (NVFlare's ``close``); later calls say how to connect again."""
        with self._lock:
            self._closed = True  # from here no call opens a new NVFlare session (``ensure_open``)
        self._discard_raw()

    # -- NVFlare Session operations (same names, parameters and results) ---------------------------------------
    list_jobs = _operation("list_jobs", True)
    get_job_meta = _operation("get_job_meta", True)
    get_job_status = _operation("get_job_status", True)
    abort_job = _operation("abort_job", True)
    clone_job = _operation("clone_job", False)
    delete_job = _operation("delete_job", False)
    download_job_result = _operation("download_job_result", True)
    list_job_components = _operation("list_job_components", True)
    download_job_components = _operation("download_job_components", True)
    get_job_logs = _operation("get_job_logs", True)
    show_stats = _operation("show_stats", True)
    show_errors = _operation("show_errors", True)
    reset_errors = _operation("reset_errors", True)
    do_app_command = _operation("do_app_command", False)
    get_system_info = _operation("get_system_info", True)
    check_status = _operation("check_status", True)
    report_version = _operation("report_version", True)
    report_resources = _operation("report_resources", True)
    get_connected_client_list = _operation("get_connected_client_list", True)
    get_client_job_status = _operation("get_client_job_status", True)
    get_client_env = _operation("get_client_env", True)
    get_available_apps_to_upload = _operation("get_available_apps_to_upload", True)
    get_working_directory = _operation("get_working_directory", True)
    ls_target = _operation("ls_target", True)
    cat_target = _operation("cat_target", True)
    grep_target = _operation("grep_target", True)
    head_target = _operation("head_target", True)
    head_target_log = _operation("head_target_log", True)
    tail_target = _operation("tail_target", True)
    tail_target_log = _operation("tail_target_log", True)
    _restart = _operation("restart", False)
    _shutdown = _operation("shutdown", False)

    @functools.wraps(compat.RawSession.restart)
    def restart(self, target_type, *args, **kwargs):
        return self._state_change(self._restart, target_type, args, kwargs)

    @functools.wraps(compat.RawSession.shutdown)
    def shutdown(self, target_type, *args, **kwargs):
        return self._state_change(self._shutdown, target_type, args, kwargs)

    def _state_change(self, operation, target_type, args, kwargs):
        """``restart``/``shutdown``; one of the server ends the NVFlare session with it (even when the wait for the
        change ran out), so the next call opens a new one."""
        try:
            return operation(target_type, *args, **kwargs)
        finally:
            if target_type in ("server", "all"):
                self._discard_raw()

    def _discard_raw(self) -> None:
        """Drop the NVFlare session (closed quietly: it may be dead already); the next call opens a new one."""
        with self._lock:
            raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except Exception:
                pass

    unset_timeout = _operation("unset_timeout", True)

    def submit_job(self, job_definition_path: str, submit_token: str = None) -> str:
        """Submit a job folder; returns the job id. The folder is looked up as NVFlare does: as given (relative to
        the working directory), else inside the startup kit's upload folder (``transfer``). Never submits twice:
        after a dropped connection the call is repeated only with NVFlare's ``submit_token`` (nvflare >= 2.8),
        which makes the repeat a no-op."""
        if not job_definition_path or not isinstance(job_definition_path, (str, os.PathLike)):
            raise refusal(
                compat.InvalidJobDefinition,
                f"submit_job needs the path of a job folder (the one holding meta.json), not {job_definition_path!r}",
            )
        given = os.fspath(job_definition_path)
        if "\x00" in given:  # no system path holds one; NVFlare would fail with a bare ValueError
            raise refusal(
                compat.InvalidJobDefinition,
                f"the job folder was rejected: {given!r} is not a valid folder (it holds a NUL character)",
            )
        path = self._job_folder(given)
        _check_job_folder(path)
        token = submit_token or compat.new_submit_token()
        return self._call("submit_job", (path,), {"submit_token": token} if token else {}, repeatable=bool(token))

    def _job_folder(self, given: str) -> str:
        """NVFlare's lookup: the folder as given, else the kit's upload folder joined with it (absolute paths)."""
        path = os.path.abspath(os.path.expanduser(given))
        if os.path.isdir(path) or os.path.isabs(os.path.expanduser(given)):
            return path
        upload = self._run(lambda raw: raw.upload_dir, "submit_job", True)
        candidate = os.path.abspath(os.path.join(upload or "", given))
        return candidate if os.path.isdir(candidate) else path

    def set_timeout(self, value: float):
        """Set the session's command timeout (kept across reconnects)."""
        seconds("timeout", value)
        self._call("set_timeout", (value,), {}, True)
        self._command_timeout = float(value)

    def monitor_job(
        self, job_id: str, timeout: float = 0.0, poll_interval: float = 2.0, cb=None, *cb_args, **cb_kwargs
    ) -> compat.MonitorReturnCode:
        """NVFlare's blocking monitor; each poll goes through this session. ``timeout`` 0 never times out. Returns
        a ``MonitorReturnCode`` (JOB_FINISHED, TIMEOUT, or ENDED_BY_CB when ``cb`` answered False)."""
        _check_monitor_times(timeout, poll_interval)
        return compat.monitor_job(self, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)

    def monitor_job_and_return_job_meta(self, job_id, timeout=0.0, poll_interval=2.0, cb=None, *cb_args, **kw):
        """``monitor_job`` that also returns the job's final meta (None unless the job finished)."""
        _check_monitor_times(timeout, poll_interval)
        return compat.monitor_job_and_return_job_meta(self, job_id, timeout, poll_interval, cb, *cb_args, **kw)

    def wait_for_job(self, job_id: str, timeout: float = 0.0, poll_interval: float = 2.0) -> dict:
        """Block until the job ends; returns its final meta (nvflare >= 2.8)."""
        if not hasattr(compat.RawSession, "wait_for_job"):
            raise friendly(
                compat.NotSupported(), f"wait_for_job needs nvflare >= 2.8 (installed: {compat.NVFLARE_VERSION})"
            )
        return compat.RawSession.wait_for_job(self, job_id, timeout, poll_interval)

    def shutdown_system(self):
        """Shut down the whole FLARE system (server and every client). Afterwards this session says so instead
        of trying to reconnect."""
        with self._lock:  # no other thread's call between the shutdown and the session saying so
            self._run(compat.shutdown_system, "shutdown_system", False)
            self._shut_down = True
            self._discard_raw()

    def list_sp(self) -> dict:
        return self._run(lambda raw: compat.list_sp(raw, *self._endpoint()), "list_sp", True)

    def get_active_sp(self) -> dict:
        return self._run(lambda raw: compat.get_active_sp(raw, *self._endpoint()), "get_active_sp", True)

    def promote_sp(self, sp_end_point: str):
        return self._run(lambda raw: compat.promote_sp(raw, sp_end_point), "promote_sp", False)

    def _endpoint(self) -> tuple:
        try:
            return kit_admin_endpoint(self.kit)
        except Exception:
            return None, None

    # -- what the widgets and magics read (every supported release) --------------------------------------------
    def job_log(self, job_id: str, target: str = "server") -> str:
        """The text of a job's log on ``target`` (works on every supported NVFlare release)."""
        context = {"job_id": job_id, "target": target}
        return self._run(lambda raw: compat.job_log_text(raw, job_id, target), "job_log", True, lambda: context)

    def job_server_config(self, job_id: str) -> str:
        """The text of a running job's server config (its workflows' arguments, e.g. ``num_rounds``), read from
        the job's folder in the server's workspace (``<job_id>/app_server`` on every supported release)."""
        return self._run(
            lambda raw: raw.cat_target("server", file=f"{job_id}/app_server/config/config_fed_server.json"),
            "job_server_config",
            True,
            lambda: {"job_id": job_id},
        )

    def job_file_since(self, job_id: str, path: str, offset: int = 0, target: str = "server") -> str:
        """What a file of a *running* job's folder on ``target`` holds from byte ``offset`` on: the text appended
        since a read that ended there ('' while the file does not exist yet, or once the job's folder is gone).
        Read with ``tail -c +N`` on the target, so a growing log costs the same in round 500 as in round 5."""
        text = self._run(
            lambda raw: raw.tail_from(target, f"{job_id}/{path}", offset),
            "job_file_since",
            True,
            lambda: {"job_id": job_id, "target": target},
        )
        return "" if text.startswith("tail: ") else text  # the target's own complaint: no such file (yet)

    def finished_job_files(self, job_id: str, *paths: str) -> dict[str, str | None]:
        """The text of files of a *finished* job's server workspace (``paths`` relative to it, e.g.
        ``metrics/round_metrics.jsonl``), from the job's result, downloaded once into a temporary folder and kept
        in memory (a finished job's result no longer changes). A file the result does not hold is None. Right
        after a job finished its result may not hold its workspace yet (the server saves it a moment after saying
        FINISHED): the download is then tried again until it does, for up to ``RESULT_SAVED_SECONDS``, and nothing
        is kept from the early tries."""
        deadline = time.monotonic() + RESULT_SAVED_SECONDS
        while True:
            with self._lock:
                cached = self._results.setdefault(job_id, {})
                missing = [p for p in paths if p not in cached]
                if not missing:
                    return {p: cached[p] for p in paths}
                found = self._run(
                    lambda raw, missing=missing: compat.result_files(raw, job_id, missing),
                    "finished_job_files",
                    True,
                    lambda: {"job_id": job_id},
                )
                if found is not None:
                    cached.update(found)
                    return {p: cached[p] for p in paths}
            if time.monotonic() > deadline:  # a job that never ran has no workspace: none of its files, unkept
                return {p: cached.get(p) for p in paths}
            time.sleep(RESULT_POLL_SECONDS)

    def job_progress_lines(self, job_id: str) -> str:
        """The lines of a *running* job's server log that tell its progress (rounds started, metrics reported),
        filtered on the server by ``grep``. The job's folder exists on the server only while it runs."""
        text = self._run(
            lambda raw: raw.grep_target("server", pattern=PROGRESS_PATTERN, file=f"{job_id}/log.txt"),
            "job_progress_lines",
            True,
            lambda: {"job_id": job_id},
        )
        # before the job's folder exists, the server's grep answers with its own complaint as text: no lines yet
        return "" if text.startswith("grep: ") else text

    # -- any other attribute of NVFlare's session --------------------------------------------------------------
    def __getattr__(self, name: str):
        """A public attribute of NVFlare's ``Session`` that this class does not define, reached on the live NVFlare
        session: a method runs under this session's lock and reconnect rules (never repeated after a drop, since
        we cannot know it is safe), and an object such as ``api`` (NVFlare's admin API, for
        ``sess.api.do_command(...)``) comes wrapped the same way."""
        if name.startswith("_"):
            raise AttributeError(name)
        return _reach(self, (name,))

    # -- display -----------------------------------------------------------------------------------------------
    def summary(self, live: bool = True) -> dict:
        """What the reprs and the dashboard show: server, user (with the organisation and role of the kit's
        certificate, which is who the server takes the user for), mode, NVFlare release, system; with ``live`` also
        the connected clients and the state (one quick call, never waiting long for the lock). Never raises."""
        who = kit_identity(self.kit) if self.secure else {}
        info = {
            "server": self.server,
            "user": self.username or "admin",
            **({"org": who.get("org") or "(none)", "role": who.get("role") or "(none)"} if who else {}),
            "mode": "secure" if self.secure else "insecure",
            "nvflare": str(compat.NVFLARE_VERSION),
            "system": "embedded (POC)" if self.origin == "poc" else "remote",
        }
        if self._shut_down:
            info["state"] = "shut down (shutdown_system)"
            return info
        if self._closed:
            info["state"] = "closed"
            return info
        if not live:
            return info
        if not self._lock.acquire(timeout=2):
            info["clients"] = "(busy)"
            return info
        try:
            if self._raw is None:
                self._open()
            clients = self._raw.get_connected_client_list()
            info["clients"] = ", ".join(sorted(c.name for c in clients)) or "none"
            info["state"] = "connected"
        except Exception as e:
            info["state"] = f"not connected ({type(e).__name__})"
        finally:
            self._lock.release()
        return info

    def __repr__(self):
        try:
            return "FLARE session " + ", ".join(f"{k}: {v}" for k, v in self.summary().items())
        except Exception:
            return "FLARE session (unavailable)"

    def _repr_html_(self):
        try:
            return render.key_value_table("FLARE session", self.summary())
        except Exception as e:
            return render.unavailable("FLARE session", type(e).__name__)


SHUT_DOWN = (
    "the FLARE system was shut down (shutdown_system): start it again (fj.poc.start() for the embedded one) and connect"
)
#: The server-log lines a job's progress is read from (rounds started, metrics reported), as a basic grep pattern.
PROGRESS_PATTERN = r"Round \|validation metric"
#: How long a finished job's result may lack its workspace (see ``finished_job_files``), and how often it is asked.
RESULT_SAVED_SECONDS = 30.0
RESULT_POLL_SECONDS = 0.5

#: Plain values of NVFlare's session handed out as they are; anything else comes wrapped (``_Guarded``).
_PLAIN = (str, bytes, int, float, bool, type(None), list, tuple, dict)


def _follow(raw, path: tuple[str, ...]):
    value = raw
    for name in path:
        value = getattr(value, name)
    return value


def _reach(session: KernelSession, path: tuple[str, ...]):
    """``raw.<path>`` on the live NVFlare session: a callable runs through the session, plain data is returned,
    any other object comes wrapped so that its methods run through the session too."""
    label = ".".join(path)
    if path[0] not in dir(compat.RawSession):
        has = session._run(lambda raw: _has(raw, path), label, True)
        if not has:
            raise AttributeError(f"'KernelSession' object has no attribute {label!r} (nor has NVFlare's Session)")
    value = session._run(lambda raw: _follow(raw, path), label, True)
    if callable(value):

        @functools.wraps(value)
        def call(*args, **kwargs):
            return session._run(lambda raw: _follow(raw, path)(*args, **kwargs), label, False)

        return call
    return value if isinstance(value, _PLAIN) else _Guarded(session, path)


def _has(raw, path) -> bool:
    try:
        _follow(raw, path)
        return True
    except AttributeError:
        return False


class _Guarded:
    """An object of NVFlare's session (such as ``api``) reached through the kernel session: each use resolves it
    on whichever NVFlare session is live, and its methods run under the kernel session's lock."""

    def __init__(self, session: KernelSession, path: tuple[str, ...]):
        self._session, self._path = session, path

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return _reach(self._session, (*self._path, name))

    def __repr__(self) -> str:
        return f"<NVFlare session's {'.'.join(self._path)}, reached through the kernel session>"


def _check_job_folder(folder: str) -> None:
    """Refuse a job folder NVFlare would fail on unclearly: a symbolic link inside (its signing fails with a
    runtime error) or a meta.json that is not a JSON object (its server fails with an internal error). Anything
    else is left to NVFlare's own checks, which say what is wrong in one line."""
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            if os.path.islink(os.path.join(root, name)):
                raise refusal(
                    compat.InvalidJobDefinition,
                    f"the job folder was rejected: {os.path.join(root, name)} is a symbolic link, and NVFlare signs "
                    "job folders without links: copy the file in instead",
                )
    meta = os.path.join(folder, "meta.json")
    if not os.path.isfile(meta):
        return
    try:
        with open(meta, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise refusal(compat.InvalidJobDefinition, f"the job folder was rejected: {meta} is not valid JSON ({e})")
    if not isinstance(data, dict):
        raise refusal(
            compat.InvalidJobDefinition,
            f"the job folder was rejected: {meta} must hold a JSON object, not a {type(data).__name__}",
        )


def _check_monitor_times(timeout, poll_interval) -> None:
    """As NVFlare's own monitor checks them (``InvalidArgumentError``): 0 means never time out."""
    try:
        seconds("timeout", timeout, zero_means="never time out")
        seconds("poll_interval", poll_interval)
    except ArgumentError as e:
        raise refusal(compat.InvalidArgumentError, str(e)) from None


@functools.cache
def _signature(name: str) -> inspect.Signature:
    return inspect.signature(getattr(compat.RawSession, name))


def _arguments(name: str, args: tuple, kwargs: dict) -> dict:
    """The call's arguments by name ({} when they do not fit NVFlare's signature: NVFlare will say so)."""
    try:
        return _signature(name).bind_partial(None, *args, **kwargs).arguments
    except (TypeError, ValueError, AttributeError):
        return {}


def _check_list_jobs(args: tuple, kwargs: dict, arguments: dict) -> tuple[tuple, dict]:
    """NVFlare documents ``limit`` 0 or None as "all jobs" (we send None, which every release reads so); a negative
    one it would take silently and answer with nothing."""
    limit = arguments.get("limit")
    if limit is None:
        return args, kwargs
    whole_number("limit", limit, low=0, hint=" (0 or None for all jobs)")
    if limit == 0:
        named = {k: v for k, v in arguments.items() if k not in ("self", "kwargs")}
        return (), {**named, **arguments.get("kwargs", {}), "limit": None}
    return args, kwargs


#: Arguments NVFlare would take silently and answer strangely, or reads differently by release.
_ARGUMENT_CHECKS = {"list_jobs": _check_list_jobs}


def _job_and_target(bound: dict) -> dict:
    """job_id and target of a call, for error messages."""
    if not bound:
        return {}
    target = bound.get("target") or bound.get("target_type")
    return {"job_id": bound.get("job_id"), "target": target}


def resolve_job(session: KernelSession, text) -> str:
    """A job id from a full id or an unambiguous prefix of one (as git does for commits)."""
    if not isinstance(text, str):
        raise ArgumentError(f"a job id is a string (e.g. '3f2a...' from %flare list_jobs), not {type(text).__name__}")
    text = text.strip()
    if len(text) >= 36:
        return text
    matches = [j["job_id"] for j in session.list_jobs(id_prefix=text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(m[:13] for m in matches[:4])
        raise ArgumentError(f"job id prefix {text!r} matches {len(matches)} jobs ({shown}...): give more characters")
    return text  # unknown: let the server say so


@contextlib.contextmanager
def job_starting(session: KernelSession, job: str, what: str):
    """A job the server lists as running may not have its own process up yet (1-3 s after it starts), and NVFlare
    then answers "no such job": say that it is starting, not that it does not exist."""
    try:
        yield
    except compat.JobNotFound:
        try:
            status = str(session.get_job_meta(job).get("status", ""))
        except Exception:
            status = ""
        if status in ("DISPATCHED", "RUNNING"):
            raise FlareError(
                f"job {job} is starting ({status}): its live {what} are not available yet, try again in a few seconds"
            ) from None
        raise


#: How long a delete the server failed inside is tried again: NVFlare shows a job FINISHED before it has stored the
#: job's workspace, and a delete in between fails inside the server (nvflare 2.5.2: "exception <class 'OSError'>",
#: its removal of the job's folder meeting the files being stored; longer on a busy machine).
DELETE_RETRY_SECONDS = 30.0


def delete_when_stored(session, job: str, timeout: float = DELETE_RETRY_SECONDS, interval: float = 1.0) -> None:
    """``session.delete_job(job)``, tried again while the server fails it inside (a job that has just ended may still
    be being stored) for up to ``timeout`` seconds; then that failure is raised. What ``%flare delete`` and the jobs
    panel's Delete do; a refusal or an unknown job is raised at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            session.delete_job(job)
            return
        except compat.InternalError as e:
            if not raised_inside_server(e):
                raise
            if job not in {j["job_id"] for j in session.list_jobs()}:  # the failed attempt removed it after all
                return
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)
