"""Authorization refusals and what each user may do, on answers recorded from a real system whose users have roles
(tests/record_roles.py, nvflare 2.9.0 and 2.5.2): each refusal reads as one sentence naming the user, their role and
organisation, the operation and the job or site, and what the policy allows instead; ``policy.may`` gives, from the
sites' own policy files, the answer the server gave; without them it learns from the first refusal."""

from __future__ import annotations

import re

import pytest

import flare_jupyter as fj
from flare_jupyter import compat, policy
from flare_jupyter.errors import describe, refusal_sentence
from roles_recorded import (
    ADMIN,
    LEAD_B,
    LEAD_N,
    MEMBER,
    ORG_ADMIN_B,
    VERSIONS,
    calls,
    identity,
    load,
    make_kits,
    meta,
    raised,
    session_for,
)

TOKEN = re.compile(r"submit.token|fj-[0-9a-f]{8}")


pytestmark = pytest.mark.usefixtures("policy_forgotten")  # each test knows no system and has learned nothing


@pytest.fixture(params=VERSIONS)
def recording(request):
    return load(request.param)


@pytest.fixture
def kits(recording, tmp_path):
    return make_kits(recording, tmp_path / "prod_00")


@pytest.fixture
def known(recording, kits):
    """The recorded system known to the policy (as the embedded system registers itself)."""
    return policy.know_system(kits, recording["orgs"])


def refusals(recording) -> list[tuple[str, dict]]:
    """(user, call) of every recorded AuthorizationError."""
    return [
        (name, c)
        for name in recording["calls"]
        for c in calls(recording, name)
        if c.get("raises", {}).get("type") == "AuthorizationError"
    ]


def as_session_says(e: BaseException, call: dict) -> str:
    """What the kernel session's error says for this call (the context ``KernelSession._call`` gives describe)."""
    args = call["args"]
    return describe(e, call["method"], job_id=args.get("job_id"), target=args.get("target") or args.get("target_type"))


def kit_refusal(recording, kits, name, call) -> BaseException:
    e = raised(call)
    e.startup_path = str(kits / name)  # the kit the server refused (compat.RawSession puts it on)
    return e


# -- every refusal is one helpful sentence -------------------------------------------------------------------------
def test_there_are_refusals_of_every_non_admin_user(recording):
    seen = {name for name, _ in refusals(recording)}
    assert seen == {MEMBER, ORG_ADMIN_B, LEAD_B, LEAD_N}


def test_every_refusal_names_user_role_org_and_what_the_role_may_do_instead(recording, kits, known):
    for name, call in refusals(recording):
        role, org = identity(recording, name)
        said = as_session_says(kit_refusal(recording, kits, name, call), call)
        assert said.startswith(f"{name} ({role}, {org}) may not "), said
        assert "\n" not in said
        assert "user not authorized" not in said and "is not authorized for" not in said, said
        assert not TOKEN.search(said), said
        assert re.search(rf"; an? {role} may (only )?\w", said), said
        job = call["args"].get("job_id")
        if job:
            owner = call["raises"]["attrs"]["submitter_name"]
            assert f" job {job} submitted by {owner} " in said, said


def test_a_members_abort_of_the_admins_job(recording, kits, known):
    job = recording["jobs"]["admin_pending"]
    call = next(c for c in calls(recording, MEMBER, "abort_job") if c["args"]["job_id"] == job)
    assert as_session_says(kit_refusal(recording, kits, MEMBER, call), call) == (
        f"member@org-b.com (member, org_b) may not abort job {job} submitted by admin@nvidia.com (nvidia): this "
        "system's authorization policy lets only a project_admin, an org_admin of the submitter's organisation "
        "(nvidia) or the lead who submitted it do that; a member may only view jobs and sites"
    )


def test_a_members_submission_names_no_command_and_no_token(recording, kits, known):
    call = calls(recording, MEMBER, "submit_job")[0]
    assert call["args"]["job_definition_path"] in call["raises"]["message"]  # NVFlare's message echoes the command
    assert as_session_says(kit_refusal(recording, kits, MEMBER, call), call) == (
        "member@org-b.com (member, org_b) may not submit jobs: this system's authorization policy lets only a "
        "project_admin or a lead do that; a member may only view jobs and sites"
    )


def test_a_lead_of_another_org_may_not_clone_the_admins_job(recording, kits, known):
    job = recording["jobs"]["admin_pending"]
    call = next(c for c in calls(recording, LEAD_B, "clone_job") if c["args"]["job_id"] == job)
    assert as_session_says(kit_refusal(recording, kits, LEAD_B, call), call) == (
        f"lead@org-b.com (lead, org_b) may not clone job {job} submitted by admin@nvidia.com (nvidia): this "
        "system's authorization policy lets only a project_admin or the lead who submitted it do that; a lead may "
        "submit jobs, clone, manage (abort, delete) and download the jobs they submitted, view jobs and sites, and "
        "operate and run shell commands on sites of their organisation (org_b)"
    )


def test_a_client_refusing_a_shell_command_says_which_site(recording, kits, known):
    call = next(c for c in calls(recording, ORG_ADMIN_B, "head_target") if c["args"]["target"] == "site-1")
    assert "is not authorized" not in call["raises"]["message"]  # the client says nothing of who or what
    assert as_session_says(kit_refusal(recording, kits, ORG_ADMIN_B, call), call) == (
        "orgadmin@org-b.com (org_admin, org_b) may not read files on site-1: site-1's authorization policy lets "
        "only a project_admin, or an org_admin or lead of the site's organisation (nvidia) do that; an org_admin "
        "may manage (abort, delete) and download jobs submitted by their organisation (org_b), view jobs and sites, "
        "and operate and run shell commands on sites of their organisation (org_b)"
    )


def test_shutdown_system_is_refused_before_anything_shuts_down(recording, kits, known):
    call = calls(recording, LEAD_N, "shutdown_system")[0]
    assert call["raises"]["message"] == "user not authorized for the action 'admin_check_status server: '"
    assert as_session_says(kit_refusal(recording, kits, LEAD_N, call), call).startswith(
        "lead@nvidia.com (lead, nvidia) may not shut down the whole FLARE system: NVFlare lets only a project_admin "
        "do that, so nothing was shut down; a lead may "
    )


def test_without_the_kit_the_sentence_still_names_the_user_and_the_job(recording):
    job = recording["jobs"]["admin_pending"]
    call = next(c for c in calls(recording, LEAD_N, "delete_job") if c["args"]["job_id"] == job)
    assert as_session_says(raised(call), call) == (
        f"lead@nvidia.com may not delete job {job} submitted by admin@nvidia.com (nvidia): NVFlare's default "
        "authorization policy (the server's own may differ) lets only a project_admin, an org_admin of the "
        "submitter's organisation (nvidia) or the lead who submitted it do that"
    )


# -- through the kernel session ------------------------------------------------------------------------------------
def test_the_kernel_session_raises_nvflares_type_with_the_sentence_and_stays_usable(tmp_path):
    recording = load("2.9.0")
    kits = make_kits(recording, tmp_path / "prod_00")
    policy.know_system(kits, recording["orgs"])
    s = session_for(recording, kits, MEMBER)
    job = recording["jobs"]["admin_pending"]
    with pytest.raises(compat.AuthorizationError) as caught:
        s.abort_job(job)
    assert str(caught.value).startswith(f"member@org-b.com (member, org_b) may not abort job {job} submitted by ")
    assert caught.value._render_traceback_() == [f"AuthorizationError: {caught.value}"]
    listed = calls(recording, MEMBER, "list_jobs")[0]["result"]
    assert [j["job_id"] for j in s.list_jobs()] == [j["job_id"] for j in listed]


def test_the_session_says_who_it_is(recording, kits):
    s = session_for(recording, kits, ORG_ADMIN_B)
    info = s.summary(live=False)
    assert (info["user"], info["org"], info["role"]) == (ORG_ADMIN_B, "org_b", "org_admin")
    assert repr(fj.KernelSession(str(kits / MEMBER), MEMBER, raw=None)).startswith(
        "FLARE session server: localhost:1, user: member@org-b.com, org: org_b, role: member, mode: secure"
    )


# -- what each user may do: the policy files give the server's own answers -----------------------------------------
def target_of(call: dict) -> str:
    args = call["args"]
    names = args.get("client_names") or args.get("targets")
    return args.get("target") or (names[0] if names else "server")


def outcome(call: dict) -> bool:
    """What the server answered: allowed (True) or refused (raised, a client's refusal inside the result, or a
    client refusing to shut down, which the server reports as a failure)."""
    if "raises" in call:
        raised_ = call["raises"]
        return raised_["type"] != "AuthorizationError" and "failed to shut down" not in raised_["message"]
    return not policy.refusals_in(call["result"])


def test_the_policy_answers_what_the_server_answered(recording, kits, known):
    checked = 0
    for name in recording["calls"]:
        session = fj.KernelSession(str(kits / name), name, raw=None)
        for call in calls(recording, name):
            if call["method"] not in policy.OPERATIONS or call["method"] in ("get_job_status",):
                continue
            job_id = call["args"].get("job_id")
            job = meta(recording, job_id) if job_id else None
            verdict = policy.may(session, call["method"], site=target_of(call), job=job)
            assert verdict.allowed is outcome(call), (name, call["method"], call["args"], verdict)
            assert verdict.source == "policy"
            checked += 1
    assert checked > 60


def test_a_disabled_actions_reason_is_the_servers_refusal_sentence(recording, kits, known):
    job = recording["jobs"]["admin_pending"]
    call = next(c for c in calls(recording, LEAD_B, "abort_job") if c["args"]["job_id"] == job)
    verdict = policy.may(fj.KernelSession(str(kits / LEAD_B), LEAD_B, raw=None), "abort_job", job=meta(recording, job))
    assert refusal_sentence(verdict.refusal) == as_session_says(kit_refusal(recording, kits, LEAD_B, call), call)


def test_an_insecure_session_is_never_refused(recording, kits, known):
    s = fj.KernelSession(str(kits / MEMBER), "admin", secure=False, raw=None)
    assert policy.may(s, "abort_job") == policy.Verdict(True, "insecure")


# -- learned: a system whose policy is not on this machine ---------------------------------------------------------
def test_without_the_policy_the_first_refusal_is_remembered_per_job_owner(recording, kits):
    member = fj.KernelSession(str(kits / MEMBER), MEMBER, raw=None)
    admin_job, lead_job = (meta(recording, recording["jobs"][k]) for k in ("admin_pending", "lead_b_pending"))
    assert policy.may(member, "abort_job", job=admin_job) == policy.Verdict(None, "unknown")
    call = next(c for c in calls(recording, MEMBER, "abort_job") if c["args"]["job_id"] == admin_job["job_id"])
    said = as_session_says(kit_refusal(recording, kits, MEMBER, call), call)
    verdict = policy.may(member, "abort_job", job=admin_job)
    assert (verdict.allowed, verdict.source) == (False, "learned")
    assert refusal_sentence(verdict.refusal) == said
    assert "NVFlare's default authorization policy (the server's own may differ)" in said
    assert policy.may(member, "abort_job", job=lead_job).allowed is None  # another owner: not known yet
    assert policy.may(member, "delete_job", job=admin_job).allowed is None  # another right: not known yet


# -- refusals a client sends back inside a result ------------------------------------------------------------------
def test_a_clients_refusal_inside_a_result_is_found(recording):
    for name in (MEMBER, LEAD_B):
        result = calls(recording, name, "restart")[0]["result"]
        assert result["status"] == "ok"  # NVFlare raises nothing for it
        assert policy.refusals_in(result) == [("site-1", name, "restart")]
    admin = calls(recording, ADMIN, "get_client_job_status")[0]["result"]
    assert policy.refusals_in(admin) == []


# -- a client refusing to shut down: the server says only that it failed -------------------------------------------
def test_a_clients_refusal_to_shut_down_is_worded_by_its_own_policy(recording, kits, known):
    call = calls(recording, MEMBER, "shutdown")[0]
    assert call["raises"] == {
        "type": "InternalError",
        "message": "error: failed to shut down all clients",
        "attrs": {"command": "shutdown client site-1"},
    }
    e = raised(call)
    e.startup_path = str(kits / MEMBER)
    assert as_session_says(e, call) == (
        "member@org-b.com (member, org_b) may not shut down site-1: site-1's authorization policy lets only a "
        "project_admin, or an org_admin or lead of the site's organisation (nvidia) do that; a member may only view "
        "jobs and sites"
    )


def test_without_the_sites_policy_a_failed_shutdown_stays_what_nvflare_said(recording, kits):
    call = calls(recording, LEAD_B, "shutdown")[0]
    e = raised(call)
    e.startup_path = str(kits / LEAD_B)
    assert as_session_says(e, call) == "shutdown failed: InternalError: error: failed to shut down all clients"
