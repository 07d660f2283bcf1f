"""One clear sentence for every error a user can meet, and no traceback for it in a notebook.

IPython prints a one-line message instead of a traceback for any exception that has ``_render_traceback_``.
NVFlare's own exceptions are re-raised as *subclasses of themselves* that also carry a friendly message,
so ``except JobNotFound`` keeps working while the notebook shows one line.

An ``AuthorizationError`` becomes one sentence naming the user, their role and organisation, the operation and the
job or site, and what the policy allows instead (``refusal_sentence``; the facts come from ``policy``).

NVFlare often wraps what the server said in a sentence of its own ("job {info} is still running", where ``info``
may be a job id or the server's whole sentence). ``server_said`` takes that wrapping off again, so ``describe``
fills its templates only with ids and never pours a sentence into a slot meant for one.
"""

from __future__ import annotations

import re
import traceback

from . import compat, policy, settings


class _OneLine:
    """Mixin: render as one line in IPython unless tracebacks were asked for (``settings.full_tracebacks``)."""

    def _render_traceback_(self):
        if settings.full_tracebacks:
            return traceback.format_exception(type(self), self, self.__traceback__)
        return [f"{type(self).__name__}: {self}"]


class FlareError(_OneLine, Exception):
    """A flare-jupyter error whose message already says what went wrong and what to do."""


class NotConnected(FlareError):
    """There is no session to use, on purpose: none was opened, it was closed (``fj.disconnect``, ``fj.poc.stop``)
    or its system was shut down (``shutdown_system``; ``shut_down`` is then True). Not a failure to retry: the
    widgets' poller stops asking the server and the widgets say so in one calm line."""

    def __init__(self, message: str, shut_down: bool = False):
        super().__init__(message)
        self.shut_down = shut_down


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
        new.nvflare_said = getattr(exc, "nvflare_said", str(exc))  # what NVFlare raised, for raised_inside_server
        return new
    except TypeError:  # an exception type that cannot be subclassed: fall back to ours
        return FlareError(message)


def refusal(cls: type[BaseException], message: str) -> BaseException:
    """A one-line error of NVFlare's type ``cls`` for an input we refuse before sending it (what NVFlare itself
    would raise for it), so ``except`` clauses written for NVFlare's ``Session`` catch ours too."""
    return friendly(cls(message), message)


#: NVFlare's sentences around what the server said (``flare_api.Session._do_command`` and friends).
_WRAPPERS = [
    re.compile(p, re.DOTALL)
    for p in (
        r"no such job: (.*)",
        r"invalid job_id (.*)",
        r"job (.*) is still running",
        r"job (.*) is not running",
        r"server internal error: (.*)",
        r"syntax error: (.*)",
        r"user not authenticated: (.*)",
        r"runtime error encountered: (.*)",
        r"failed to abort job .*?: (.*)",
    )
]


def server_said(exc: BaseException) -> str:
    """What the server (or NVFlare) said, without NVFlare's own sentence around it."""
    return _unwrapped(str(exc))


def _unwrapped(text: str) -> str:
    text = text.strip()
    for wrapper in _WRAPPERS:
        m = wrapper.fullmatch(text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return text


#: NVFlare 2.9's words when ``restart``/``shutdown`` stopped waiting for the change it had asked for.
_STATE_CHANGE_WAIT = re.compile(r"(server|clients) did not (restart|stop) within ([0-9.]+) seconds; last error: (.+)")


#: What the server answers when its own command raised (``make_meta(INTERNAL_ERROR, f"exception {type(e)}")``).
_SERVER_EXCEPTION = re.compile(r"exception <class '(?:[\w.]+\.)?(\w+)'>")


def raised_inside_server(exc: BaseException) -> str | None:
    """The class name of the exception the server's own command raised (NVFlare's InternalError "exception <class
    'OSError'>"), or None when ``exc`` is anything else (a refusal, an unknown job, ...)."""
    if not isinstance(exc, compat.InternalError):
        return None
    said = getattr(exc, "nvflare_said", str(exc))  # the kernel session raises our sentence; NVFlare's is kept on it
    crashed = _SERVER_EXCEPTION.fullmatch(_unwrapped(said))
    return crashed.group(1) if crashed else None


def _is_sentence(text: str) -> bool:
    """Words, not a value: what a server says in prose cannot fill a template's id slot."""
    return len(text.split()) > 1


def _refused(op: str, said: str) -> str:
    return f"{op or 'the operation'} was refused by the server: {said.rstrip()}"


def refusal_sentence(refusal: policy.Refusal) -> str:
    """An authorization refusal in words: who (name, role, organisation) may not do what to which job or site, who
    the policy lets do it, and what the user's role may do instead. Never the command NVFlare sent (it holds 2.9's
    submit token). The same sentence is a refused click's banner and a disabled button's tooltip."""
    instead = refusal.instead()
    return f"{refusal.subject()} may not {refusal.action()}: {refusal.allowed()}" + (f"; {instead}" if instead else "")


def describe(exc: BaseException, op: str = "", job_id: str | None = None, target: str | None = None) -> str:
    """The one sentence a user should read for an error raised by NVFlare during ``op``."""
    if isinstance(exc, _OneLine):
        return str(exc)
    name = type(exc).__name__
    detail = str(exc).strip() or name
    said = server_said(exc) or name
    prose = _is_sentence(said)
    job = f"job {job_id!r}" if job_id else (f"job {said!r}" if not prose else "the job")
    if isinstance(exc, compat.JobNotFound):
        if prose and not job_id and said != detail:
            return _refused(op, said)
        return f"{job} does not exist on the server: check the id with %flare list_jobs"
    if isinstance(exc, compat.JobNotRunning):
        if prose and not job_id:
            return _refused(op, said)
        return f"{job} is not running, so it has no live {op or 'state'}: look at its log or result instead"
    if isinstance(exc, compat.JobNotDone):
        if prose and not job_id:  # e.g. restart: "There are still jobs running. Please let them finish ..."
            return _refused(op, said)
        return f"{job} is still running: wait for it to finish or abort it first ({op or 'this'} needs it done)"
    if isinstance(exc, compat.InvalidTarget):
        who = f"target {target!r}" if target else "that target"
        return f"{who} is not known to the server ({detail}): use 'server' or a connected client name"
    if isinstance(exc, compat.NoClientsAvailable):
        return "no client is connected to the server: start the clients (or %flare poc start) and try again"
    if isinstance(exc, compat.InvalidJobDefinition):
        return f"the job folder was rejected: {detail}"
    if isinstance(exc, compat.AuthenticationError):
        return f"the server did not accept your identity ({said}): check the startup kit and user name"
    if isinstance(exc, compat.AuthorizationError):
        return refusal_sentence(policy.refusal(exc, op, job_id, target))
    waited = _STATE_CHANGE_WAIT.fullmatch(detail) if isinstance(exc, TimeoutError) else None
    if waited:  # 2.9's restart/shutdown waits: the command was accepted, the change had not shown in time
        who, change, secs, last = waited.groups()
        return (
            f"the {op or 'command'} was sent, but the {who} did not {change} within {float(secs):g} s ({last}): "
            f"it may still be under way: look with %flare clients in a moment, or wait longer "
            f"(timeout=... in Python, --timeout in %flare)"
        )
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
    if isinstance(exc, compat.InternalError) and "failed to shut down all clients" in detail:
        found = policy.client_refusal(exc, op)  # a client refused: the server only says it failed
        if found is not None:
            return refusal_sentence(found)
    if isinstance(exc, compat.InternalError) and "reason=" in detail:
        return _refused(op, detail.split("reason=", 1)[1].strip().strip("'\""))
    if isinstance(exc, compat.ClientsStillRunning):
        return "clients are still running: shut them down first"
    crashed = raised_inside_server(exc)
    if crashed:  # the server's command raised: not a refusal, and NVFlare says only the exception's class
        why = " (a job that has just ended may still be being stored)" if op == "delete_job" else ""
        return (
            f"{op or 'the command'} failed inside the server with {crashed}, not a refusal{why}: "
            "try again in a few seconds; the server's log.txt says more"
        )
    if isinstance(exc, compat.InternalError) and said != detail:
        return _refused(op, said)
    return f"{op or 'the operation'} failed: {name}: {detail}"
