"""Record real NVFlare answers for the unit tests' fake session.

    .venv/bin/python tests/record.py            # writes tests/recordings/nvflare-<version>.json

Starts the embedded FLARE system, drives NVFlare's own ``Session`` (not ours) through a scenario that touches every
operation (a job that runs, one that is aborted, errors, hostile names), and stores each call with its arguments
and its answer or exception. Nothing in the recordings is invented: re-run this script to refresh them.
"""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
import time
from pathlib import Path

import flare_jupyter as fj
from flare_jupyter import compat

OUT = Path(__file__).parent / "recordings"
HOSTILE = "<img src=x onerror=alert(1)>"
#: A download into a temporary folder is recorded under this name for the folder, with the text files it held
#: (``files``); replaying it writes them into whatever folder the replay downloads to (tests/fakes.py).
TEMPORARY = "<a temporary folder>"
#: The files of a downloaded result kept in a recording: what flare-jupyter reads from one (the server's log and
#: NVFlare's metrics artifacts of its workspace).
KEPT = ("workspace/log.txt", "workspace/metrics/")


def encode(value):
    """JSON-safe form of an NVFlare answer (ClientInfo objects and enums keep their type name)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "last_connect_time"):
        return {"__type__": "ClientInfo", "name": value.name, "last_connect_time": value.last_connect_time}
    if hasattr(value, "server_info") and hasattr(value, "client_info"):
        return {
            "__type__": "SystemInfo",
            "server_info": {"status": value.server_info.status, "start_time": value.server_info.start_time},
            "client_info": encode(value.client_info),
            "job_info": [{"job_id": j.job_id, "app_name": j.app_name} for j in value.job_info],
        }
    if isinstance(value, compat.MonitorReturnCode):
        return {"__type__": "MonitorReturnCode", "value": int(value)}
    return {"__type__": type(value).__name__, "repr": repr(value)}


def call_key(method: str, args: tuple, kwargs: dict) -> dict:
    """The call's arguments by name, defaults filled in (so the fake matches however a caller spells them)."""
    sig = inspect.signature(getattr(compat.RawSession, method))
    bound = sig.bind(None, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(sig.parameters)))  # self
    arguments.pop("submit_token", None)  # random per call
    extra = arguments.pop("kwargs", None) or {}
    arguments.update(extra)
    return {k: encode(v) for k, v in arguments.items()}


class Recorder:
    """Wraps a real NVFlare session; every public call is recorded with its answer or exception."""

    reraise = True  # an exception reaches the caller after it is recorded

    def __init__(self, raw, calls: list):
        self._raw, self._calls = raw, calls

    def raised(self, e: Exception) -> dict:
        """What a recording keeps of an exception."""
        return {"type": type(e).__name__, "message": str(e)}

    def __getattr__(self, name):
        attr = getattr(self._raw, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args, **kwargs):
            entry = {"method": name, "args": call_key(name, args, kwargs)}
            try:
                result = attr(*args, **kwargs)
            except Exception as e:
                entry["raises"] = self.raised(e)
                self._calls.append(entry)
                if self.reraise:
                    raise
                return None
            entry["result"] = encode(result)
            if name == "download_job_result" and entry["args"].get("destination") and isinstance(result, str):
                entry["args"]["destination"] = TEMPORARY  # a folder of the moment: kept by what it held
                entry["files"] = result_text_files(Path(result))
            self._calls.append(entry)
            return result

        return call


def result_text_files(folder: Path) -> dict[str, str]:
    """The text files of a downloaded job result (paths relative to ``folder``), as a recording keeps them."""
    files = {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}
    return {name: p.read_text(errors="replace") for name, p in files.items() if name.startswith(KEPT)}


def attempt(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        print(f"  (expected) {type(e).__name__}: {e}")
        return None


def wait_status(s, job_id, done, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = s.get_job_meta(job_id)
        if done(meta.get("status", "")):
            return meta
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not reach the wanted state")


def scenario(s, jobs_dir: Path) -> dict:
    """Every operation, on a real system. Returns the ids the tests refer to."""
    ids = {}
    s.list_jobs()
    job = fj.examples.hello_numpy(jobs_dir, num_rounds=3)
    ids["finished"] = s.submit_job(job)
    s.list_jobs()
    s.get_job_meta(ids["finished"])
    wait_status(s, ids["finished"], lambda st: st == "RUNNING")
    deadline = time.monotonic() + 30  # until the controller has handed out its first task
    while time.monotonic() < deadline:
        # right after RUNNING the server may still answer JobNotFound for a moment: that is recorded too
        stats = attempt(s.show_stats, ids["finished"], "server") or {}
        tasks = next((c.get("tasks") for c in stats.get("server", {}).values() if "tasks" in c), None)
        if tasks and any(tasks.values()):
            break
        time.sleep(0.3)
    s.show_stats(ids["finished"], "client")
    s.show_stats(ids["finished"], "client", ["site-1"])
    s.show_errors(ids["finished"], "server")
    s.show_errors(ids["finished"], "client")
    s.get_client_job_status()
    s.list_jobs(detailed=True)
    attempt(s.do_app_command, ids["finished"], "no_such_topic", {"x": 1})
    wait_status(s, ids["finished"], lambda st: st.startswith("FINISHED"))
    s.get_job_meta(ids["finished"])
    attempt(s.show_stats, ids["finished"], "server")
    attempt(s.show_errors, ids["finished"], "server")
    if compat.HAS_JOB_LOGS:
        s.get_job_logs(ids["finished"])
        s.get_job_logs(ids["finished"], target="site-1")
    s.get_connected_client_list()
    s.get_client_job_status()
    s.get_client_job_status(["site-1"])
    s.get_client_env()
    s.get_client_env(["site-2"])
    s.get_system_info()
    s.get_working_directory("server")
    s.get_working_directory("site-1")
    s.ls_target("server")
    s.cat_target("server", file="log.txt")
    s.cat_target("server", file="no_such_file.txt")
    s.head_target("server", options="-n 3", file="log.txt")
    s.tail_target("server", options="-n 3", file="log.txt")
    s.head_target_log("site-1", options="-n 2")
    s.tail_target_log("server", options="-n 2")
    s.grep_target("server", pattern="Client", file="log.txt")
    attempt(s.grep_target, "server", options="-c", pattern="Client", file="log.txt")
    attempt(s.cat_target, "server", file="../etc/passwd")
    attempt(s.tail_target_log, "server", options="; rm -rf /")
    attempt(s.tail_target_log, "site-9")
    s.get_available_apps_to_upload()
    attempt(s.get_job_meta, "00000000-0000-0000-0000-000000000000")
    attempt(s.abort_job, "00000000-0000-0000-0000-000000000000")
    attempt(s.submit_job, str(jobs_dir))  # a folder without meta.json
    ids["clone"] = s.clone_job(ids["finished"])
    s.abort_job(ids["clone"])
    wait_status(s, ids["clone"], lambda st: st.startswith("FINISHED"))
    s.get_job_meta(ids["clone"])
    s.delete_job(ids["clone"])
    attempt(s.get_job_meta, ids["clone"])
    # a job whose name is hostile HTML (NVFlare accepts any name in meta.json)
    hostile = Path(fj.examples.hello_numpy(jobs_dir / "h", num_rounds=1, name="hostile"))
    meta = json.loads((hostile / "meta.json").read_text())
    meta["name"] = HOSTILE
    (hostile / "meta.json").write_text(json.dumps(meta))
    ids["hostile"] = s.submit_job(str(hostile))
    wait_status(s, ids["hostile"], lambda st: st.startswith("FINISHED"))
    s.list_jobs()
    s.list_jobs(detailed=True)
    s.list_jobs(limit=1, reverse=True)
    s.list_jobs(name_prefix="hello")
    s.list_jobs(id_prefix=ids["finished"][:8])
    s.download_job_result(ids["finished"])
    s.set_timeout(10.0)
    s.check_status("server")
    s.check_status("client")
    s.report_version("server")
    if compat.HAS_SERVICE_PROVIDERS:
        s.list_sp()
        s.get_active_sp()
        attempt(s.promote_sp, "localhost:1:2")
    return ids


def main() -> int:
    calls: list = []
    with tempfile.TemporaryDirectory() as tmp:
        system = fj.poc.start(workspace=Path(tmp) / "poc", connect=False)
        try:
            raw = compat.open_session(system.username, system.kit, True, 10.0)
            try:
                ids = scenario(Recorder(raw, calls), Path(tmp) / "jobs")
            finally:
                raw.close()
        finally:
            system.stop()
    OUT.mkdir(exist_ok=True)
    out = OUT / f"nvflare-{compat.NVFLARE_VERSION}.json"
    doc = {"nvflare": str(compat.NVFLARE_VERSION), "clients": system.clients, "jobs": ids, "calls": calls}
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(calls)} calls into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
