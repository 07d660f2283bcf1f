"""Helpers shared by the live integration tests: a job that stays running, and waiting on job states.

Imported by the test modules next to it (not a conftest: the fixtures stay in the modules that use them).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.poller import ABORT_AGAIN_SECONDS
from flare_jupyter.progress import RUNNER_STARTED
from flare_jupyter.session import delete_when_stored
from polling import wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLIENTS = {"site-1", "site-2"}

#: A client that takes the first task and then holds it (up to 15 minutes, in short naps that watch for the abort):
#: the job stays RUNNING until a test aborts it, so live statistics can be read without racing the job's end. (With
#: 90 s, the held jobs of test_scale_live ended by themselves on a slow CI machine before its last tests ran.)
_SLOW_CLIENT = """\
import time

import nvflare.client as flare
import nvflare.client.api as client_api
from nvflare.app_common.abstract.fl_model import FLModel

context = flare.init()
# the client API object: the context's in newer releases (2.9), module-wide in 2.5 (where init() answers None)
api = context.api if context is not None else client_api.client_api


def asked_to_end():
    return bool(getattr(api, "abort", False) or getattr(api, "stop", False))


while flare.is_running():
    model = flare.receive()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and not asked_to_end():
        time.sleep(0.2)
    if asked_to_end():
        break
    flare.send(FLModel(params=model.params, metrics={"accuracy": 0.5}))
"""


def slow_job(dest: Path, name: str = "slow-numpy") -> str:
    """A hello-numpy job folder (1 round) whose clients hold their task until the job is aborted."""
    job = Path(fj.examples.hello_numpy(dest, num_rounds=1, name=name))
    scripts = list(job.glob("**/custom/client.py"))
    assert len(scripts) == 1, f"unexpected job layout: {sorted(p.name for p in job.rglob('*'))}"
    scripts[0].write_text(_SLOW_CLIENT)
    return str(job)


#: Server and client components that each log one error (NVFlare's ``log_error`` fires the event that fills
#: ``show_errors``): the server for the first client result it processes, each client after its first task.
_ERROR_COMPONENTS = """\
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent


class ServerErrorReporter(FLComponent):
    def __init__(self):
        super().__init__()
        self.reported = False

    def handle_event(self, event_type, fl_ctx):
        if event_type == EventType.BEFORE_PROCESS_SUBMISSION and not self.reported:
            self.reported = True
            self.log_error(fl_ctx, "fj-test server error for the first result")


class ClientErrorReporter(FLComponent):
    def __init__(self):
        super().__init__()
        self.reported = False

    def handle_event(self, event_type, fl_ctx):
        if event_type == EventType.AFTER_TASK_EXECUTION and not self.reported:
            self.reported = True
            self.log_error(fl_ctx, "fj-test client error after the first task")
"""

#: A client that answers round 0 at once and holds round 1 (like ``_SLOW_CLIENT``) until the job is aborted.
_HOLD_ROUND_1_CLIENT = _SLOW_CLIENT.replace(
    "    model = flare.receive()\n",
    "    model = flare.receive()\n    if (model.current_round or 0) == 0:\n"
    '        flare.send(FLModel(params=model.params, metrics={"accuracy": 0.5}))\n        continue\n',
)


def error_job(dest: Path, name: str = "errors-numpy") -> str:
    """A job whose server and clients each report one error in round 0 (see ``show_errors``), then hold round 1
    until the job is aborted: its errors stay until ``reset_errors``, and no new one comes."""
    job = Path(fj.examples.hello_numpy(dest, num_rounds=2, name=name))
    (script,) = job.glob("**/custom/client.py")
    script.write_text(_HOLD_ROUND_1_CLIENT)
    custom = script.parent
    (custom / "fj_errors.py").write_text(_ERROR_COMPONENTS)
    for side, component in (("server", "ServerErrorReporter"), ("client", "ClientErrorReporter")):
        (config,) = job.glob(f"**/config/config_fed_{side}.json")
        data = json.loads(config.read_text())
        data.setdefault("components", []).append({"id": "fj_errors", "path": f"fj_errors.{component}", "args": {}})
        config.write_text(json.dumps(data, indent=2))
    return str(job)


def nothing_runs(s) -> bool:
    """No job runs, as the server itself counts them (what ``restart`` checks; a job's status turns FINISHED a
    moment before the server lets go of it) and as the clients report (an idle client answers status "no_jobs")."""
    return not s.get_system_info().job_info and not any(r.get("job_id") for r in s.get_client_job_status())


def status(s, job_id: str) -> str:
    return s.get_job_meta(job_id)["status"]


def finished_status(s, job_id: str) -> str | None:
    """The job's FINISHED:* status, or None while it has not ended."""
    st = status(s, job_id)
    return st if st.startswith("FINISHED") else None


def abort_again(s, job_id: str) -> None:
    """Send the abort of a job that may have ended meanwhile (its first abort has not shown, or it was running a
    moment ago): a refusal is printed, not raised."""
    try:
        s.abort_job(job_id)
    except Exception as e:  # it finished meanwhile (NVFlare: the job is not running)
        print(f"abort_job {job_id} again: {e}", flush=True)


def end_job(s, job_id: str, timeout: float = 120) -> str:
    """Abort a job unless it has ended, and wait until the server says it has (its FINISHED:* status). A job that
    ends by itself between the look and the abort gets the abort refused (NVFlare: the job is not running): fine."""
    if not finished_status(s, job_id):
        abort_again(s, job_id)
    return wait_finished(s, job_id, timeout=timeout, aborted=True)


class AbortsResent:
    """For aborts a test sent itself (not through a widget): NVFlare can lose one (why: ``poller.ABORT_AGAIN_SECONDS``).
    Called with the aborted jobs that have not ended yet, this sends their abort again once the widgets' own
    ``ABORT_AGAIN_SECONDS`` passed since the last send, and says so."""

    def __init__(self, s):
        self.s, self.sent = s, time.monotonic()

    def __call__(self, left: list[str]) -> None:
        if left and time.monotonic() - self.sent > ABORT_AGAIN_SECONDS:
            print(f"{left} not aborted {ABORT_AGAIN_SECONDS} s after their abort: aborting them again", flush=True)
            for job in left:
                abort_again(self.s, job)
            self.sent = time.monotonic()


def wait_finished(s, job_id: str, timeout: float = 120, aborted: bool = False) -> str:
    """Poll until the job has a FINISHED:* status; return it. ``aborted``: the job was just aborted, and its abort is
    sent again while it has not shown (``AbortsResent``)."""
    resend = AbortsResent(s) if aborted else lambda left: None

    def finished():
        st = finished_status(s, job_id)
        if not st:
            resend([job_id])
        return st

    return wait_for(finished, timeout=timeout)


def delete_all(s, jobs, timeout: float = 60) -> None:
    """Delete every job of ``jobs`` as ``%flare delete`` does: tried again while the server fails it inside (a job
    that has just ended may still be being stored: ``session.delete_when_stored``), up to ``timeout`` each."""
    for job in jobs:
        delete_when_stored(s, job, timeout=timeout)


def wait_all_finished(s, timeout: float = 120) -> None:
    """Poll until no job on the server is still submitted or running."""
    wait_for(lambda: all(j["status"].startswith("FINISHED") for j in s.list_jobs()), timeout=timeout)


def wait_runner_started(s, job_id: str, timeout: float = 120) -> None:
    """Poll until the running job's server log says its runner started: what the widgets' poller waits for before
    it asks the job's ``show_stats`` (``poller.STATS_AFTER_SECONDS``)."""
    wait_for(lambda: RUNNER_STARTED.search(s.job_file_since(job_id, "log.txt")), timeout=timeout)


def wait_live_stats(s, job_id: str, timeout: float = 90) -> tuple[dict, dict]:
    """Poll until the job is RUNNING and both the server and every client answer show_stats for it.

    Right after RUNNING the server can still answer JobNotFound (or, on 2.5, JobNotRunning) for a moment; that is
    waited out too.
    Returns (server stats, client stats).
    """

    def ready():
        if status(s, job_id) != "RUNNING":
            return None
        try:
            server = s.show_stats(job_id, "server")
            clients = s.show_stats(job_id, "client")
        except (compat.JobNotFound, compat.JobNotRunning):  # its process is not up yet (2.5 says either)
            return None
        runner = server.get("server", {}).get("ServerRunner", {})
        client_jobs = {name for name, comps in clients.items() if comps.get("ClientRunner", {}).get("job_id") == job_id}
        return (server, clients) if runner.get("job_id") == job_id and client_jobs == CLIENTS else None

    return wait_for(ready, timeout=timeout)


def one_line(exc: BaseException) -> str:
    """What a notebook shows for ``exc``: it must be exactly one line; returns it."""
    rendered = exc._render_traceback_()
    assert len(rendered) == 1 and "\n" not in rendered[0], rendered
    return rendered[0]


def usage_error_line(out: str) -> str:
    """The single line a cell printed for a user mistake: exactly one 'UsageError' line and no traceback."""
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    usage = [line for line in lines if "UsageError" in line]
    assert len(usage) == 1, out
    assert lines == usage, f"more than the one error line was printed: {out!r}"
    assert usage[0].startswith("UsageError: ") and len(usage[0]) > len("UsageError: ") + 10, usage[0]
    return usage[0]


class Stopwatch:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.start
