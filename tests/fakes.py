"""A stand-in for NVFlare's ``Session`` that replays answers recorded from a real system by ``tests/record.py``.

Nothing here is invented: every answer, and every exception, is what a real NVFlare server said. A call that was
never recorded raises ``LookupError`` (a test asking for something the recording does not hold is a broken test).
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

from nvflare.fuel.flare_api import api_spec

from flare_jupyter import compat
from record import TEMPORARY, call_key

RECORDINGS = Path(__file__).parent / "recordings"


def load_recording(version: str | None = None) -> dict:
    """The recording for the installed NVFlare (or ``version``)."""
    version = version or str(compat.NVFLARE_VERSION)
    path = RECORDINGS / f"nvflare-{version}.json"
    if not path.is_file():
        have = sorted(p.name for p in RECORDINGS.glob("nvflare-*.json"))
        raise LookupError(f"no recording for nvflare {version} ({have}): run tests/record.py with it installed")
    return json.loads(path.read_text())


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        kind = value.get("__type__")
        if kind == "ClientInfo":
            return api_spec.ClientInfo(value["name"], value["last_connect_time"])
        if kind == "SystemInfo":
            server = api_spec.ServerInfo(**value["server_info"])
            jobs = [api_spec.JobInfo(job_id=j["job_id"], app_name=j["app_name"]) for j in value["job_info"]]
            return api_spec.SystemInfo(server, decode(value["client_info"]), jobs)
        if kind == "MonitorReturnCode":
            return compat.MonitorReturnCode(value["value"])
        return {k: decode(v) for k, v in value.items()}
    return value


def exception(raised: dict) -> BaseException:
    """The recorded exception, with what flare-jupyter's session had put on it (``attrs``: a refused job's
    submitter, see ``compat.RawSession``)."""
    cls = getattr(api_spec, raised["type"], None) or getattr(builtins, raised["type"])
    e = cls(raised["message"])
    for key, value in (raised.get("attrs") or {}).items():
        setattr(e, key, value)
    return e


def unpack(entry: dict, destination: Path) -> str:
    """A recorded download replayed: the text files it held, written into ``destination`` under the result folder's
    own name; returns that folder, as NVFlare's ``download_job_result`` does."""
    folder = destination / Path(entry["result"]).name
    for relative, text in entry["files"].items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(folder)


class RecordedSession:
    """Replays a recording. By default each call gets the *last* recorded answer for the same arguments (the settled
    state, e.g. a finished job's meta); ``sequence=True`` replays them in recorded order instead (a job's
    lifecycle), repeating the last one when they run out. ``calls`` lists what was asked, for call-count tests."""

    def __init__(self, recording: dict | None = None, sequence: bool = False, startup_path: str = "/recorded/kit"):
        self.recording = recording or load_recording()
        self.sequence = sequence
        self.startup_path = startup_path
        self.calls: list[tuple[str, dict]] = []
        self.closed = False
        self._answers: dict[str, list[dict]] = {}
        self._served: dict[str, int] = {}
        for entry in self.recording["calls"]:
            key = json.dumps([entry["method"], entry["args"]], sort_keys=True)
            self._answers.setdefault(key, []).append(entry)

    @property
    def jobs(self) -> dict:
        return self.recording["jobs"]

    def close(self):
        self.closed = True

    def __getattr__(self, name):
        if name.startswith("_") or not hasattr(compat.RawSession, name):
            raise AttributeError(name)

        def replay(*args, **kwargs):
            arguments = call_key(name, args, kwargs)
            self.calls.append((name, arguments))
            key = json.dumps([name, arguments], sort_keys=True)
            answers = self._answers.get(key)
            if not answers and name == "download_job_result" and arguments.get("destination"):
                key = json.dumps([name, {**arguments, "destination": TEMPORARY}], sort_keys=True)
                answers = self._answers.get(key)  # a download recorded into a temporary folder, with its files
            if not answers:
                raise LookupError(f"nothing recorded for {name}({arguments})")
            if self.sequence:
                i = self._served.get(key, 0)
                self._served[key] = i + 1
                entry = answers[min(i, len(answers) - 1)]
            else:
                entry = answers[-1]
            if "raises" in entry:
                e = exception(entry["raises"])
                if isinstance(e, compat.AuthorizationError):  # which kit was refused, as compat.RawSession says
                    e.startup_path = self.startup_path
                raise e
            if "files" in entry:
                return unpack(entry, Path(arguments["destination"]))
            return decode(entry["result"])

        return replay
