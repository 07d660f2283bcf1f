"""What ``tests/record_roles.py`` recorded from a real system with users of several roles, laid out again for the
unit tests: each user's kit folder with the certificate the server read (no key: none was recorded), each site's
recorded authorization policy file, and a session per user that replays that user's recorded answers."""

from __future__ import annotations

import json
from pathlib import Path

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, decode, exception

VERSIONS = sorted(p.name[len("roles-") : -len(".json")] for p in RECORDINGS.glob("roles-*.json"))
ADMIN = "admin@nvidia.com"
MEMBER = "member@org-b.com"
LEAD_B = "lead@org-b.com"
ORG_ADMIN_B = "orgadmin@org-b.com"
LEAD_N = "lead@nvidia.com"


def load(version: str = "2.9.0") -> dict:
    return json.loads((RECORDINGS / f"roles-{version}.json").read_text())


def make_kits(recording: dict, folder: Path) -> Path:
    """The system's participants' folders as provisioning lays them out (only what is public: certificates and
    policy files), so ``policy.know_system(folder, recording["orgs"])`` reads the recorded sites' policies."""
    for name, user in recording["users"].items():
        startup = folder / name / "startup"
        startup.mkdir(parents=True)
        (startup / "client.crt").write_text(user["certificate"])
        (startup / "fed_admin.json").write_text(json.dumps({"admin": {"host": "localhost", "port": 1}}))
    for site, text in recording["policies"].items():
        local = folder / site / "local"
        local.mkdir(parents=True)
        (local / "authorization.json.default").write_text(text)
    return folder


def session_for(recording: dict, kits: Path, name: str) -> fj.KernelSession:
    """A kernel session as ``name`` (their kit) on that user's recorded answers."""
    kit = str(kits / name)
    raw = RecordedSession({"calls": recording["calls"][name], "jobs": recording["jobs"]}, startup_path=kit)
    return fj.KernelSession(kit, name, raw=raw)


def calls(recording: dict, name: str, method: str | None = None) -> list[dict]:
    return [c for c in recording["calls"][name] if method is None or c["method"] == method]


def raised(call: dict) -> BaseException:
    """A recorded refusal as the session raised it: with the refused kit and the job's submitter on it."""
    return exception(call["raises"])


def meta(recording: dict, job_id: str) -> dict:
    """The job's meta as the project admin read it (its submitter decides what a lead or org_admin may do)."""
    return next(decode(c["result"]) for c in calls(recording, ADMIN, "get_job_meta") if c["args"]["job_id"] == job_id)


def identity(recording: dict, name: str) -> tuple[str, str]:
    user = recording["users"][name]
    return user["role"], user["org"]
