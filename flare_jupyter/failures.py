"""Why a job failed, read from its job logs: for each target (the server and every site), the first error line
with its time, the first traceback's last frame and exception, and the lines just before the first error; the
target whose first error came first is where the failure started. Errors the run outlived do not count: those
logged before the start of a round the run completed (a later round started, by the server log's "Round N
started") are counted as outlived, not named as the origin: a transient error in an early round, or the server job
process's answer to a command that reached it before its engine was ready (a ``show_stats`` in the job's first
second). NVFlare 2.9 logs that answer as "blob_cb threw ..." (``COMMAND_ERROR``), which counts as outlived wherever it
comes: on a busy machine it is written after "Round 0 started". A failure's cascade (a site raises in round 1, the
server gives up in round 2) stays within the last two rounds.

NVFlare writes a job's log on every target as records ``2026-11-30 20:34:00,274 - TaskScriptRunner - ERROR -
message``, a traceback following its record line by line (or starting inside it: "ask to abort job: reason: ...,
Traceback (most recent call last):"). Every release (2.5 to 2.9) writes the same format, so one parser serves all;
``job_logs`` reads the logs through the session it is given (the server's from NVFlare's log stream or the job's
result, a site's from the job's folder on that site: ``KernelSession.job_log``).

``fj.triage`` (``triage.py``) and the job monitor (once a job ends in an abnormal state) both use this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .errors import describe
from .progress import FINISHED_PREFIX, ROUND_STARTED

RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (\S+) - ([A-Z]+) - ?(.*)$")
FRAME = re.compile(r'^\s*File "(.+)", line (\d+), in (.+)$')
TRACEBACK = "Traceback (most recent call last):"
#: NVFlare's context prefix of a record's message: "[identity=site-2, run=..., task_id=...] - " (": " in 2.5).
CONTEXT = re.compile(r"^\[identity=[^\]]*\](?: - |: )")
#: An exception named inside an error message that carries no traceback ("... Exception: ValueError: text").
NAMED_EXCEPTION = re.compile(r"\b([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.+)$")
ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL")
#: How NVFlare 2.9's stream layer logs an admin command whose handler raised in the job process (a ``show_stats``
#: that reached it before its engine was ready: "blob_cb threw: 'NoneType' object has no attribute 'get_widget'",
#: then "Stream error: blob_cb threw AttributeError: ..."): the command failed, not the run, which goes on.
COMMAND_ERROR = re.compile(r"\bblob_cb threw\b")
#: Lines of the log shown from before the first error.
LINES_BEFORE = 5
#: How a job that ended normally reads: a user's abort is no failure to explain.
NORMAL_ENDS = ("FINISHED:COMPLETED", "FINISHED:ABORTED")


def ended_abnormally(status: str) -> bool:
    """A finished job whose status is neither COMPLETED nor ABORTED (EXECUTION_EXCEPTION, ABNORMAL, ...)."""
    status = str(status or "")
    return status.startswith(FINISHED_PREFIX) and status not in NORMAL_ENDS


@dataclass
class Failure:
    """What one target's job log says went wrong (all empty when it logged no error)."""

    target: str
    error_time: datetime | None = None
    component: str = ""
    error: str = ""
    exception_time: datetime | None = None
    exception: str = ""
    file: str = ""
    line: int | None = None
    function: str = ""
    code: str = ""
    before: list[str] = field(default_factory=list)
    unavailable: str = ""  # why the log could not be read
    outlived: int = 0  # error records from before a round the run completed: it went on after them

    @property
    def failed(self) -> bool:
        return bool(self.error or self.exception)

    def view(self) -> dict:
        """What ``render.triage`` shows of this target (plain strings)."""
        return {
            "target": self.target,
            "time": self.error_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if self.error_time else "",
            "component": self.component,
            "error": self.error,
            "exception": self.exception,
            "location": self.location,
            "code": self.code,
            "before": [brief(line) for line in self.before],
            "unavailable": self.unavailable,
            "outlived": outlived_text(self.outlived) if self.outlived else "",
        }

    @property
    def location(self) -> str:
        """``client.py, line 18, in main`` (the traceback's last frame), or ''."""
        if not self.file:
            return ""
        return f"{self.file.rsplit('/', 1)[-1]}, line {self.line}, in {self.function}"


def _time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")
    except ValueError:
        return None


def _message(text: str) -> str:
    return CONTEXT.sub("", text.strip())


def round_starts(server_log: str) -> list[datetime]:
    """When each "Round N started" of a server job log was written: the time of the record it is in (NVFlare 2.9
    writes it as a banner on the lines after its record's)."""
    starts, written = [], None
    for line in (server_log or "").splitlines():
        record = RECORD.match(line)
        if record:
            written = _time(record.group(1)) or written
        if written is not None and ROUND_STARTED.search(line):
            starts.append(written)
    return starts


def outlived_before(server_log: str) -> datetime | None:
    """Errors logged before this time are ones the run outlived: the start of the last round it completed (the
    round before the last one started). None when fewer than two rounds started."""
    starts = round_starts(server_log)
    return starts[-2] if len(starts) >= 2 else None


def first_failure(target: str, log_text: str, since: datetime | None = None) -> Failure:
    """The first error and the first traceback of one target's job log (see the module docstring); with ``since``,
    the first at or after that time (the error records before it are counted in ``outlived``)."""
    found = Failure(target)
    lines = (log_text or "").splitlines()
    written = None  # the time of the last record read: a traceback's lines belong to it
    command_error = False  # inside a command's error record (and its traceback): outlived, whenever it was written
    for i, line in enumerate(lines):
        record = RECORD.match(line)
        if record:
            written = _time(record.group(1)) or written
            command_error = record.group(3) in ERROR_LEVELS and bool(COMMAND_ERROR.search(record.group(4)))
            if command_error:
                found.outlived += 1
        if command_error:
            continue
        if since is not None and written is not None and written < since:
            if record and record.group(3) in ERROR_LEVELS:
                found.outlived += 1
            continue
        if not found.error and record and record.group(3) in ERROR_LEVELS:
            found.error_time, found.component = _time(record.group(1)), record.group(2)
            found.error = _message(record.group(4))
            found.before = [ln for ln in lines[max(0, i - LINES_BEFORE) : i] if ln.strip()]
        if TRACEBACK in line:
            _read_traceback(found, lines, i)
            if not found.error_time and record:  # a traceback logged at a level below ERROR
                found.error_time, found.component, found.error = _time(record.group(1)), record.group(2), line
            break
    if found.error and not found.exception:
        named = NAMED_EXCEPTION.search(found.error)
        if named:
            found.exception, found.exception_time = f"{named.group(1)}: {named.group(2)}", found.error_time
    # a record that only opens its traceback ("Traceback (most recent call last):") says what the traceback raised
    found.error = found.error.replace(TRACEBACK, "").strip().rstrip(",").strip() or found.exception
    return found


def _read_traceback(found: Failure, lines: list[str], start: int) -> None:
    """The traceback starting at ``lines[start]``: its last frame (file, line, function, code) and its exception
    (the last unindented line before the next record)."""
    owner = next((RECORD.match(lines[j]) for j in range(start, -1, -1) if RECORD.match(lines[j])), None)
    found.exception_time = _time(owner.group(1)) if owner else None
    block = []
    for line in lines[start + 1 :]:
        if RECORD.match(line):
            break
        block.append(line)
    for j, line in enumerate(block):
        frame = FRAME.match(line)
        if frame:
            found.file, found.line, found.function = frame.group(1), int(frame.group(2)), frame.group(3).strip()
            code = block[j + 1].strip() if j + 1 < len(block) else ""
            found.code = "" if FRAME.match(block[j + 1] if j + 1 < len(block) else "") else code
    messages = [ln for ln in block if ln.strip() and not ln.startswith((" ", "\t"))]
    found.exception = messages[-1].strip() if messages else ""


def origin(failures: list[Failure]) -> Failure | None:
    """The failure that came first (by its first error's time): where the job's failure started."""
    timed = [f for f in failures if f.failed and f.error_time is not None]
    return min(timed, key=lambda f: f.error_time) if timed else next((f for f in failures if f.failed), None)


def job_logs(session, job_id: str, targets: list[str]) -> dict[str, tuple[str | None, str]]:
    """Each target's job log through ``session`` (a ``KernelSession``): (text, '') or (None, why it is missing),
    so one unreadable log does not hide the others."""
    logs = {}
    for target in targets:
        try:
            logs[target] = (session.job_log(job_id, target), "")
        except Exception as e:
            logs[target] = (None, describe(e, "job_log", job_id=job_id, target=target))
    return logs


def failures(logs: dict[str, tuple[str | None, str]]) -> list[Failure]:
    """One ``Failure`` per target of ``job_logs``' answer, those that failed first in time order, then the rest;
    errors from before a round the run completed are outlived (the module docstring)."""
    since = outlived_before((logs.get("server") or ("", ""))[0] or "")
    found = []
    for target, (text, why) in logs.items():
        failure = first_failure(target, text or "", since)
        failure.unavailable = why
        found.append(failure)
    first = origin(found)
    return sorted(found, key=lambda f: (f is not first, not f.failed, f.error_time or datetime.max))


def failures_text(found: list[Failure], heading: str = "") -> str:
    """The readable form: where the failure started, then each target's first error, exception, the line it was
    raised on and the lines before it."""
    first = origin(found)
    lines = [heading] if heading else []
    lines.append(
        f"the failure started on {first.target}: {first.exception or first.error}"
        if first
        else "no target logged an error"
    )
    for f in found:
        lines.extend(_target_lines(f))
    return "\n".join(lines)


def _clock(t: datetime | None) -> str:
    return t.strftime("%H:%M:%S.%f")[:-3] if t else "?"


def _target_lines(f: Failure) -> list[str]:
    if f.unavailable and not f.failed:
        return [f"{f.target}: its job log is not available ({f.unavailable})"]
    outlived = f" ({outlived_text(f.outlived)})" if f.outlived else ""
    if not f.failed:
        return [f"{f.target}: {outlived_text(f.outlived)}" if f.outlived else f"{f.target}: no error in its job log"]
    out = [f"{f.target}: first error at {_clock(f.error_time)} ({f.component}): {f.error}{outlived}"]
    if f.exception and f.exception != f.error:
        out.append(f"  exception at {_clock(f.exception_time)}: {f.exception}")
    if f.location:
        out.append(f"  raised at {f.location}" + (f": {f.code}" if f.code else ""))
    if f.before:
        out.append("  the lines before it:")
        out.extend(f"    {brief(ln)}" for ln in f.before)
    return out


def outlived_text(count: int) -> str:
    """How a target's errors from before a round the run completed, or of a command (``outlived``), are mentioned."""
    errors = f"{count} earlier error{'s' if count > 1 else ''}"
    return f"{errors} the run outlived: a round completed after, or a command failed"


def brief(line: str, width: int = 160) -> str:
    """A log record as ``20:34:00.274 ClientAPIExecutor INFO: message``, NVFlare's context prefix left out."""
    record = RECORD.match(line)
    if record:
        line = f"{_clock(_time(record.group(1)))} {record.group(2)} {record.group(3)}: {_message(record.group(4))}"
    return line if len(line) <= width else line[: width - 3] + "..."
