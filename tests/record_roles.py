"""Record what a real NVFlare system answers users of several roles, for the unit tests of refusals and widgets.

    .venv/bin/python tests/record_roles.py      # writes tests/recordings/roles-<version>.json

Starts the embedded FLARE system with four more users (an org_admin, a lead and a member of organisation org_b, and
a lead of the project admin's organisation nvidia), and drives flare-jupyter's own NVFlare session (``compat``'s,
which puts on a refusal the kit it refused and the job's submitter) as each of them through the operations the
widgets offer and the refusals a user meets. Stored: each call with its answer or exception (type, message and what
``compat`` put on it: a refused job's submitter, a failed shutdown's command), the users' certificates (public: no
key is ever read here), the sites' organisations and authorization policy files, and the jobs' ids. Nothing is
invented: re-run this script to refresh it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import flare_jupyter as fj
from flare_jupyter import compat, policy
from polling import wait_for
from record import Recorder

OUT = Path(__file__).parent / "recordings"
ADMIN = "admin@nvidia.com"
USERS = {
    "orgadmin@org-b.com": ("org_admin", "org_b"),
    "lead@org-b.com": ("lead", "org_b"),
    "member@org-b.com": ("member", "org_b"),
    "lead@nvidia.com": ("lead", "nvidia"),
}


class RefusalRecorder(Recorder):
    """``Recorder``, also keeping what flare-jupyter's session put on an exception (the job's submitter); a refused
    call answers None, so the recording goes on."""

    reraise = False

    def raised(self, e: Exception) -> dict:
        facts = {k: getattr(e, k) for k in (*compat.SUBMITTER_KEYS, "command") if getattr(e, k, None)}
        return {**super().raised(e), "attrs": facts}


def record_user(system, name: str, scenario) -> list:
    calls: list = []
    raw = compat.open_session(name, system.kit_for(name), True, 30.0)
    try:
        scenario(RefusalRecorder(raw, calls))
    finally:
        raw.close()
    return calls


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        system = fj.poc.start(workspace=tmp / "poc", connect=False, progress=None, users=USERS)
        try:
            doc = record(system, tmp / "jobs")
        finally:
            system.stop()
    OUT.mkdir(exist_ok=True)
    out = OUT / f"roles-{compat.NVFLARE_VERSION}.json"
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"recorded {sum(len(c) for c in doc['calls'].values())} calls into {out}")
    return 0


def record(system, jobs: Path) -> dict:
    admin = compat.open_session(ADMIN, system.kit, True, 30.0)
    lead_b = compat.open_session("lead@org-b.com", system.kit_for("lead@org-b.com"), True, 30.0)
    try:
        pending = fj.examples.hello_numpy(jobs / "pending", num_rounds=3, min_clients=3, name="pending")
        ids = {
            "finished": admin.submit_job(fj.examples.hello_numpy(jobs / "finished", num_rounds=1)),
            "admin_pending": admin.submit_job(pending),
            "lead_b_pending": lead_b.submit_job(pending),
            "lead_b_abort": lead_b.submit_job(pending),
        }
        wait_for(lambda: admin.get_job_meta(ids["finished"])["status"].startswith("FINISHED"), timeout=180)
    finally:
        lead_b.close()
        admin.close()

    def everyone(s):
        """What the widgets and a user's first cells ask (and the refusals a user meets)."""
        s.list_jobs()
        for job in ids.values():
            s.get_job_meta(job)
        s.get_connected_client_list()
        s.get_client_job_status()
        s.submit_job(pending)
        s.abort_job(ids["admin_pending"])
        s.delete_job(ids["admin_pending"])
        s.clone_job(ids["admin_pending"])
        s.download_job_result(ids["finished"])
        s.do_app_command(ids["admin_pending"], "fj_probe", {})
        s.abort_job(ids["lead_b_pending"])
        s.clone_job(ids["lead_b_pending"])
        if compat.HAS_JOB_LOGS:
            s.get_job_logs(ids["finished"])
        s.head_target("server", options="-n 1", file="log.txt")
        s.head_target("site-1", options="-n 1", file="log.txt")
        s.get_client_env(["site-1"])
        if hasattr(s._raw, "report_resources"):
            s.report_resources("client", ["site-1"])
        shutdown_system(s)

    def other_org(s):
        everyone(s)
        # as the clients panel asks them (its wait included); site-1 is nvidia's:
        s.restart("client", ["site-1"], **compat.state_change_wait())  # refused by the client inside the answer
        s.shutdown("client", ["site-1"], **compat.state_change_wait())  # refused: the server says only "failed"

    calls = {}
    for name, scenario in (
        ("member@org-b.com", other_org),
        ("orgadmin@org-b.com", other_org),
        ("lead@nvidia.com", everyone),  # site-1 is of its organisation: a restart would really happen
    ):
        calls[name] = record_user(system, name, scenario)

    def lead(s):
        other_org(s)
        s.abort_job(ids["lead_b_abort"])  # their own job: allowed

    calls["lead@org-b.com"] = record_user(system, "lead@org-b.com", lead)

    def project_admin(s):
        s.list_jobs()
        for job in ids.values():
            s.get_job_meta(job)
        s.get_connected_client_list()
        s.get_client_job_status()

    calls[ADMIN] = record_user(system, ADMIN, project_admin)
    everyone_users = {ADMIN: ("project_admin", "nvidia"), **USERS}
    return {
        "nvflare": str(compat.NVFLARE_VERSION),
        "clients": system.clients,
        "jobs": ids,
        "users": {
            name: {"role": role, "org": org, "certificate": certificate(system.kit_for(name))}
            for name, (role, org) in everyone_users.items()
        },
        "orgs": dict.fromkeys(system.participants, fj.poc.ORG),
        "policies": {site: policy.policy_file(system.prod_dir / site).read_text() for site in system.participants},
        "calls": calls,
    }


def shutdown_system(s: RefusalRecorder) -> None:
    """flare-jupyter's ``shutdown_system`` (the server's project-admin check first: a refused user shuts nothing
    down, where NVFlare's own would on 2.9), recorded as the call a user makes."""
    entry = {"method": "shutdown_system", "args": {}}
    try:
        compat.shutdown_system(s._raw)
        entry["result"] = None
    except Exception as e:
        entry["raises"] = {"type": type(e).__name__, "message": str(e), "attrs": {}}
    s._calls.append(entry)


def certificate(kit: str) -> str:
    """The kit's certificate: public (the server reads it at login); the key beside it is never read."""
    return (Path(kit) / "startup" / "client.crt").read_text()


if __name__ == "__main__":
    sys.exit(main())
