"""The kernel's one FLARE session, shared by the Python API, the magics and the widgets.

``KernelSession`` is a drop-in for ``nvflare.fuel.flare_api.Session``: the same method names, parameters and
return values. On top of it, it

* serialises calls with a lock, so the widgets' background thread and the notebook can share it;
* reconnects when the server dropped the session (expiry, restart) and repeats the call when that is safe;
  ``submit_job`` is never repeated unless NVFlare's ``submit_token`` makes the repeat a no-op;
* turns NVFlare's errors into one clear sentence (the exception keeps its NVFlare type).
"""

from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import math
import os
import threading

from . import compat
from ._exit import on_exit
from .errors import FlareError, describe, friendly
from .kit import KIT_ENV_VAR, kit_identity, resolve_kit, server_address

log = logging.getLogger("flare_jupyter")

_current: KernelSession | None = None
_current_lock = threading.Lock()


def _operation(name: str, repeatable: bool):
    """A ``KernelSession`` method that runs NVFlare's ``Session.<name>`` through ``KernelSession._call``.

    ``repeatable`` says whether the call may be sent again after a reconnect (reads, and writes whose repeat
    changes nothing). The method keeps NVFlare's signature and docstring, so ``help()`` and ``?`` show NVFlare's.
    """
    impl = getattr(compat.RawSession, name, None)
    if impl is None:

        def missing(self, *args, **kwargs):
            raise friendly(compat.NotSupported(), f"{name} does not exist in nvflare {compat.NVFLARE_VERSION}")

        missing.__name__ = name
        return missing

    @functools.wraps(impl)
    def method(self, *args, **kwargs):
        return self._call(name, args, kwargs, repeatable)

    return method


class KernelSession:
    """A thread-safe, self-reconnecting FLARE admin session (see the module docstring)."""

    def __init__(self, kit: str, username: str, secure: bool = True, timeout: float = 10.0, raw=None, origin=""):
        self.kit = str(kit)
        self.username = username
        self.secure = secure
        self.timeout = timeout
        self.origin = origin  # "poc" when connected to the embedded system
        self._lock = threading.RLock()
        self._raw = raw
        self._closed = False
        self._command_timeout: float | None = None
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
        return self._closed

    def _open_raw(self):
        try:
            raw = compat.open_session(self.username, self.kit, self.secure, self.timeout)
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

    def _reopen(self):
        old, self._raw = self._raw, None
        if old is not None:
            try:
                old.close()
            except Exception:
                pass
        self._raw = self._open_raw()
        self.reconnects += 1
        log.info("reconnected to %s as %s", self.server, self.username)

    def _call(self, name: str, args: tuple, kwargs: dict, repeatable: bool):
        """Run NVFlare's ``Session.<name>(*args, **kwargs)``."""
        check = _ARGUMENT_CHECKS.get(name)
        if check is not None:
            check(_arguments(name, args, kwargs))
        return self._run(
            lambda raw: getattr(raw, name)(*args, **kwargs),
            name,
            repeatable,
            lambda: _job_and_target(name, args, kwargs),
        )

    def _run(self, fn, name: str, repeatable: bool, context=dict):
        """``fn(raw_session)`` under the lock: connect if needed, reconnect once if the server dropped the session
        (repeating ``fn`` only when ``repeatable``), and turn errors into one clear sentence."""
        if self._closed:
            raise FlareError("this session was closed: connect again with fj.connect() or %flare connect")
        with self._lock:
            try:
                if self._raw is None:
                    self._raw = self._open_raw()
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
            self._closed = True
            raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except Exception:
                pass

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
    restart = _operation("restart", False)
    shutdown = _operation("shutdown", False)
    shutdown_system = _operation("shutdown_system", False)
    unset_timeout = _operation("unset_timeout", True)

    def submit_job(self, job_definition_path: str, submit_token: str = None) -> str:
        """Submit a job folder; returns the job id. Never submits twice: after a dropped connection the call is
        repeated only with NVFlare's ``submit_token`` (nvflare >= 2.8), which makes the repeat a no-op."""
        if not job_definition_path or not isinstance(job_definition_path, (str, os.PathLike)):
            raise FlareError("submit_job needs the path of a job folder (the one holding meta.json)")
        # NVFlare resolves a relative path against the kit's transfer folder; users mean their working directory
        path = os.path.abspath(os.path.expanduser(os.fspath(job_definition_path)))
        _check_meta(path)
        token = submit_token or compat.new_submit_token()
        return self._call("submit_job", (path,), {"submit_token": token} if token else {}, repeatable=bool(token))

    def set_timeout(self, value: float):
        """Set the session's command timeout (kept across reconnects)."""
        _check_seconds("timeout", value)
        self._call("set_timeout", (value,), {}, True)
        self._command_timeout = float(value)

    def monitor_job(self, job_id: str, timeout: int = 0, poll_interval: float = 2.0, cb=None, *cb_args, **cb_kwargs):
        """NVFlare's blocking monitor; each poll goes through this session. Returns a ``MonitorReturnCode``."""
        return compat.monitor_job(self, job_id, timeout, poll_interval, cb, *cb_args, **cb_kwargs)

    def monitor_job_and_return_job_meta(self, job_id, timeout=0.0, poll_interval=2.0, cb=None, *cb_args, **kw):
        return compat.monitor_job_and_return_job_meta(self, job_id, timeout, poll_interval, cb, *cb_args, **kw)

    def wait_for_job(self, job_id: str, timeout: float = 0.0, poll_interval: float = 2.0) -> dict:
        """Block until the job ends; returns its final meta (nvflare >= 2.8)."""
        if not hasattr(compat.RawSession, "wait_for_job"):
            raise FlareError(f"wait_for_job needs nvflare >= 2.8 (installed: {compat.NVFLARE_VERSION})")
        return compat.RawSession.wait_for_job(self, job_id, timeout, poll_interval)

    def list_sp(self) -> dict:
        return self._compat("list_sp")

    def get_active_sp(self) -> dict:
        return self._compat("get_active_sp")

    def promote_sp(self, sp_end_point: str):
        return self._compat("promote_sp", sp_end_point)

    def job_log(self, job_id: str, target: str = "server") -> str:
        """The text of a job's log on ``target`` (works on every supported NVFlare release)."""
        return self._compat("job_log_text", job_id, target, op="job_log")

    def job_progress_lines(self, job_id: str) -> str:
        """The lines of a running job's server log that tell its progress (rounds, metrics), grepped on the server."""
        return self._compat("job_progress_lines", job_id, op="job_progress_lines")

    def job_server_config(self, job_id: str) -> str:
        """The text of a running job's server config (``config_fed_server.json``)."""
        return self._compat("job_server_config", job_id, op="job_server_config")

    def _compat(self, fn: str, *args, op: str | None = None):
        """Run a ``compat`` function that needs the raw session, like any other operation. Errors name the job
        and target (the first two arguments when the function takes them)."""
        params = list(inspect.signature(getattr(compat, fn)).parameters)[1:]
        context = {k: v for k, v in zip(params, args, strict=False) if k in ("job_id", "target")}
        return self._run(lambda raw: getattr(compat, fn)(raw, *args), op or fn, True, lambda: context)

    # -- display -----------------------------------------------------------------------------------------------
    def _summary(self) -> dict:
        """What the reprs show; never raises and never waits long for the lock."""
        info = {
            "server": self.server,
            "user": self.username or "admin",
            "mode": "secure" if self.secure else "insecure",
            "nvflare": str(compat.NVFLARE_VERSION),
            "system": "embedded (POC)" if self.origin == "poc" else "remote",
        }
        if self._closed:
            info["state"] = "closed"
            return info
        if not self._lock.acquire(timeout=2):
            info["clients"] = "(busy)"
            return info
        try:
            if self._raw is None:
                self._raw = self._open_raw()
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
            s = self._summary()
            return "FLARE session " + ", ".join(f"{k}: {v}" for k, v in s.items())
        except Exception:
            return "FLARE session (unavailable)"

    def _repr_html_(self):
        try:
            from .render import key_value_table

            return key_value_table("FLARE session", self._summary())
        except Exception as e:
            return f"<pre>FLARE session (unavailable: {html.escape(type(e).__name__)})</pre>"


def _check_meta(folder: str) -> None:
    """Refuse a job folder NVFlare would fail on unclearly: a symbolic link inside (its signing fails with a
    runtime error) or a meta.json that is not a JSON object (its server fails with an internal error). Anything
    else is left to NVFlare's own checks, which say what is wrong in one line."""
    if "\x00" in folder:  # no system path holds one; NVFlare would fail with a bare ValueError
        raise FlareError(f"the job folder was rejected: {folder!r} is not a valid folder (it holds a NUL character)")
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            if os.path.islink(os.path.join(root, name)):
                raise FlareError(
                    f"the job folder was rejected: {os.path.join(root, name)} is a symbolic link, and NVFlare signs "
                    "job folders without links: copy the file in instead"
                )
    meta = os.path.join(folder, "meta.json")
    if not os.path.isfile(meta):
        return
    try:
        with open(meta, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise FlareError(f"the job folder was rejected: {meta} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise FlareError(f"the job folder was rejected: {meta} must hold a JSON object, not a {type(data).__name__}")


def _check_seconds(label: str, value) -> None:
    """A number of seconds must be a finite positive number (NaN and infinity would be sent to the server)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0
    if not ok:
        raise FlareError(f"{label} must be a positive number of seconds, not {value!r}")


@functools.cache
def _signature(name: str) -> inspect.Signature:
    return inspect.signature(getattr(compat.RawSession, name))


def _arguments(name: str, args: tuple, kwargs: dict) -> dict:
    """The call's arguments by name ({} when they do not fit NVFlare's signature: NVFlare will say so)."""
    try:
        return _signature(name).bind_partial(None, *args, **kwargs).arguments
    except (TypeError, ValueError, AttributeError):
        return {}


def _check_list_jobs(arguments: dict) -> None:
    limit = arguments.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise FlareError(f"limit must be a whole number >= 1 (or None for all jobs), not {limit!r}")


#: Arguments NVFlare would take silently and answer strangely (list_jobs(limit=-1) lists nothing).
_ARGUMENT_CHECKS = {"list_jobs": _check_list_jobs}


def _job_and_target(name: str, args: tuple, kwargs: dict) -> dict:
    """job_id and target of a call, for error messages."""
    bound = _arguments(name, args, kwargs)
    if not bound:
        return {}
    target = bound.get("target") or bound.get("target_type")
    return {"job_id": bound.get("job_id"), "target": target}


# -- the kernel's current session ------------------------------------------------------------------------------
def connect(
    startup_kit: str | os.PathLike | None = None,
    username: str | None = None,
    secure: bool = True,
    timeout: float = 10.0,
) -> KernelSession:
    """Connect the kernel to a FLARE system and return the session.

    ``startup_kit`` is the admin's provisioned folder (holding ``startup/fed_admin.json``). Without it, the
    ``FLARE_STARTUP_KIT`` environment variable is used, else the running embedded system (``fj.poc.start()``).
    ``username`` defaults to the identity in the kit's certificate. ``secure=False`` opens an insecure session
    (user "admin"). The kit is checked first (``fj.check_kit``): a kit with an error is refused with one line
    naming the problem and the fix; warnings (a certificate expiring soon, a key others can read) are logged at
    INFO. Connecting again replaces the old session; a failed connect leaves it working.
    """
    _check_seconds("timeout", timeout)
    origin = ""
    if startup_kit is None or str(startup_kit).strip() == "":
        startup_kit = os.environ.get(KIT_ENV_VAR)
        if not startup_kit:
            from . import poc

            system = poc.current()
            if system is None:
                raise FlareError(
                    "no startup kit given: pass fj.connect(KIT_FOLDER), set FLARE_STARTUP_KIT, "
                    "or start the embedded system with fj.poc.start() (%flare poc start)"
                )
            startup_kit, username, origin = system.kit, username or system.username, "poc"
    kit = resolve_kit(startup_kit)
    from .kit import ensure_usable

    ensure_usable(kit, secure)  # a broken kit is refused here, in one line, before any network call
    if not origin:
        from . import poc

        system = poc.current()
        if system is not None and os.path.realpath(system.kit) == os.path.realpath(kit):
            origin = "poc"
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
    new = KernelSession(str(kit), username if secure else "admin", secure, float(timeout), origin=origin)
    new._raw = new._open_raw()
    _set_current(new)
    return new


def new_secure_session(
    username: str, startup_kit_location: str, debug: bool = False, timeout: float = 10.0
) -> KernelSession:
    """NVFlare's ``new_secure_session``, giving the kernel's (thread-safe, reconnecting) session."""
    return connect(startup_kit_location, username=username, secure=True, timeout=timeout)


def new_insecure_session(startup_kit_location: str, debug: bool = False, timeout: float = 10.0) -> KernelSession:
    """NVFlare's ``new_insecure_session`` (user "admin"), giving the kernel's session."""
    return connect(startup_kit_location, secure=False, timeout=timeout)


basic_cb_with_print = compat.basic_cb_with_print


def _set_current(new: KernelSession | None) -> None:
    global _current
    with _current_lock:
        old, _current = _current, new
    if old is not None and old is not new:
        old.close()


def session() -> KernelSession:
    """The kernel's current session (raises a one-line error saying how to connect when there is none)."""
    s = _current
    if s is None or s.closed:
        raise FlareError(
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
