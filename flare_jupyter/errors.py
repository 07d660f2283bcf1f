"""One clear sentence for every error a user can meet, and no traceback for it in a notebook.

IPython prints a one-line message instead of a traceback for any exception that has ``_render_traceback_``.
NVFlare's own exceptions are re-raised as *subclasses of themselves* that also carry a friendly message,
so ``except JobNotFound`` keeps working while the notebook shows one line.
"""

from __future__ import annotations

_SHOW_TRACEBACKS = False


def show_tracebacks(on: bool) -> None:
    """Switch full tracebacks on (debugging) or off (default) for flare-jupyter errors."""
    global _SHOW_TRACEBACKS
    _SHOW_TRACEBACKS = bool(on)


class _OneLine:
    """Mixin: render as one line in IPython unless tracebacks were asked for."""

    def _render_traceback_(self):
        if _SHOW_TRACEBACKS:
            import traceback

            return traceback.format_exception(type(self), self, self.__traceback__)
        return [f"{type(self).__name__}: {self}"]


class FlareError(_OneLine, Exception):
    """A flare-jupyter error whose message already says what went wrong and what to do."""


class ArgumentError(FlareError, ValueError):
    """Arguments NVFlare refused. NVFlare raises ``SyntaxError`` for these; we do not, because Python and IPython
    reserve ``SyntaxError`` for errors in source code (IPython would show it as one, whatever it says)."""


_friendly_types: dict[type, type] = {}


def _friendly_type(cls: type) -> type:
    if cls not in _friendly_types:
        _friendly_types[cls] = type(cls.__name__, (_OneLine, cls), {"__module__": cls.__module__})
    return _friendly_types[cls]


def friendly(exc: BaseException, message: str) -> BaseException:
    """A copy of ``exc`` (same type, via a subclass) whose ``str()`` is ``message`` and that renders as one line."""
    if isinstance(exc, _OneLine):
        return exc
    if isinstance(exc, SyntaxError):
        return ArgumentError(message)
    try:
        cls = _friendly_type(type(exc))
        new = cls.__new__(cls, message)
        new.__dict__.update(getattr(exc, "__dict__", {}))
        new.args = (message,)
        return new
    except TypeError:  # an exception type that cannot be subclassed: fall back to ours
        return FlareError(message)


def describe(exc: BaseException, op: str = "", job_id: str | None = None, target: str | None = None) -> str:
    """The one sentence a user should read for an error raised by NVFlare during ``op``."""
    from . import compat

    name = type(exc).__name__
    detail = str(exc).strip() or name
    job = f"job {job_id!r}" if job_id else "the job"
    if isinstance(exc, _OneLine):
        return str(exc)
    if isinstance(exc, compat.JobNotFound):
        return f"{job} does not exist on the server: check the id with %flare list_jobs"
    if isinstance(exc, compat.JobNotRunning):
        return f"{job} is not running, so it has no live {op or 'state'}: look at its log or result instead"
    if isinstance(exc, compat.JobNotDone):
        what = job if job_id else (detail if "job" in detail.lower() else "the job")
        return f"{what} is still running: wait for it to finish or abort it first ({op or 'this'} needs it done)"
    if isinstance(exc, compat.InvalidTarget):
        who = f"target {target!r}" if target else "that target"
        return f"{who} is not known to the server ({detail}): use 'server' or a connected client name"
    if isinstance(exc, compat.NoClientsAvailable):
        return "no client is connected to the server: start the clients (or %flare poc start) and try again"
    if isinstance(exc, compat.InvalidJobDefinition):
        return f"the job folder was rejected: {detail}"
    if isinstance(exc, compat.AuthenticationError):
        return f"the server did not accept your identity ({detail}): check the startup kit and user name"
    if isinstance(exc, compat.AuthorizationError):
        return f"you are not allowed to do this: {detail}"
    if isinstance(exc, compat.SESSION_LOST_ERRORS):
        return f"lost the connection to the FLARE server ({detail}): is it running? %flare connect again once it is"
    if isinstance(exc, compat.NoReply):
        return f"a site did not answer in time ({detail}): try again, or raise the timeout with %flare set_timeout"
    if isinstance(exc, compat.NotSupported):
        return detail
    if isinstance(exc, SyntaxError):
        said = exc.msg or detail
        if target and "target" in said and str(target) not in said:  # older releases do not say which target
            said = f"{said.rstrip('.')} (target {target!r})"
        return f"NVFlare rejected the arguments: {said}"
    if isinstance(exc, (ValueError, TypeError, compat.InvalidArgumentError)):
        return f"invalid argument: {detail}"
    if isinstance(exc, compat.InternalError) and "reason=" in detail:
        reason = detail.split("reason=", 1)[1].strip().strip("'\"")
        return f"{op or 'the operation'} was refused by the server: {reason}"
    if isinstance(exc, compat.ClientsStillRunning):
        return "clients are still running: shut them down first"
    return f"{op or 'the operation'} failed: {name}: {detail}"
