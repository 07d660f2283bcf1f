"""The widgets as users of several roles see them, on answers recorded from a real system (tests/record_roles.py):
an action a user's role cannot take is disabled with the refusal sentence as its tooltip; a click the server still
refuses (the policy not known on this machine, or a disabled button clicked anyway) shows the same sentence as a
banner; a client's refusal inside a result does too."""

from __future__ import annotations

import pytest

from flare_jupyter import policy
from flare_jupyter.errors import describe
from flare_jupyter.poller import Poller
from flare_jupyter.widgets import ClientsPanel, Dashboard, JobMonitor, JobsPanel
from roles_recorded import ADMIN, LEAD_B, LEAD_N, MEMBER, ORG_ADMIN_B, calls, load, make_kits, meta, raised, session_for

RECORDING = load("2.9.0")
JOBS = RECORDING["jobs"]
ADMIN_JOB, LEAD_B_JOB = JOBS["admin_pending"], JOBS["lead_b_pending"]
JOB_ACTIONS = ["Monitor", "Abort", "Clone", "Delete", "Download", "Meta", "Errors", "Stats"]


pytestmark = pytest.mark.usefixtures("policy_forgotten")  # each test knows no system and has learned nothing


@pytest.fixture
def kits(tmp_path):
    return make_kits(RECORDING, tmp_path / "prod_00")


@pytest.fixture
def known(kits):
    return policy.know_system(kits, RECORDING["orgs"])


def widget_for(kits, name: str, make):
    """(the user's recorded session, its poller, the widget ``make(poller)``) after one tick."""
    s = session_for(RECORDING, kits, name)
    poller = Poller(session_fn=lambda: s, interval_fn=lambda: 1.0, autostart=False)
    widget = make(poller)
    poller.tick()
    return s, poller, widget


def jobs_panel(poller, auto_refresh: bool = True) -> JobsPanel:
    """The jobs panel listing every job, oldest first: the listing the recording holds (``list_jobs()``)."""
    panel = JobsPanel(poller=poller, limit=0, auto_refresh=auto_refresh)
    panel.order.value = "oldest first"
    return panel


def select(panel, poller, value) -> None:
    panel.select.value = value
    poller.tick()  # a job's meta, when the user's role needs its submitter, is read on the poller's thread


def allowed(panel) -> dict:
    return dict(zip(panel.actions()["action"], panel.actions()["allowed"], strict=True))


def refusal_said(kits, name: str, method: str, **args) -> str:
    """The sentence the kernel session raised for this user's recorded refusal."""
    call = next(
        c
        for c in calls(RECORDING, name, method)
        if all(c["args"].get(k) == v for k, v in args.items()) and "raises" in c
    )
    e = raised(call)
    e.startup_path = str(kits / name)
    return describe(e, method, job_id=args.get("job_id"))


# -- the jobs panel ----------------------------------------------------------------------------------------------------
def test_a_member_may_only_watch_a_job(kits, known):
    _s, poller, panel = widget_for(kits, MEMBER, jobs_panel)
    select(panel, poller, ADMIN_JOB)
    assert allowed(panel) == {
        "Monitor": True,
        "Abort": False,
        "Clone": False,
        "Delete": False,
        "Download": False,
        "Meta": True,
        "Errors": True,
        "Stats": True,
    }
    for label, method in (("Abort", "abort_job"), ("Clone", "clone_job"), ("Delete", "delete_job")):
        assert panel.buttons[label].disabled
        assert panel.buttons[label].tooltip == refusal_said(kits, MEMBER, method, job_id=ADMIN_JOB)


def test_a_lead_manages_their_own_job_and_not_the_admins(kits, known):
    # not refreshing itself: the poller reads no unfinished job's status, so every meta read is the panel's own
    raw_s, poller, panel = widget_for(kits, LEAD_B, lambda p: jobs_panel(p, auto_refresh=False))
    select(panel, poller, LEAD_B_JOB)
    assert all(allowed(panel).values())
    select(panel, poller, ADMIN_JOB)
    refused = {label for label, ok in allowed(panel).items() if not ok}
    assert refused == {"Abort", "Clone", "Delete", "Download"}
    assert panel.buttons["Abort"].tooltip == refusal_said(kits, LEAD_B, "abort_job", job_id=ADMIN_JOB)
    assert panel.buttons["Monitor"].tooltip == "Monitor"  # an allowed action keeps its own tooltip
    metas = [a["job_id"] for m, a in raw_s._raw.calls if m == "get_job_meta"]
    assert metas.count(ADMIN_JOB) == metas.count(LEAD_B_JOB) == 1  # each job's submitter read once (poller thread)
    poller.tick()
    assert [a["job_id"] for m, a in raw_s._raw.calls if m == "get_job_meta"] == metas


def test_an_org_admin_manages_jobs_of_their_organisation_but_may_not_clone(kits, known):
    _s, poller, panel = widget_for(kits, ORG_ADMIN_B, jobs_panel)
    select(panel, poller, LEAD_B_JOB)
    assert {label for label, ok in allowed(panel).items() if not ok} == {"Clone"}
    assert panel.buttons["Clone"].tooltip == refusal_said(kits, ORG_ADMIN_B, "clone_job", job_id=LEAD_B_JOB)


def test_the_project_admin_may_do_everything(kits, known):
    _s, poller, panel = widget_for(kits, ADMIN, jobs_panel)
    select(panel, poller, ADMIN_JOB)
    assert list(panel.actions()["action"]) == JOB_ACTIONS
    assert all(allowed(panel).values())


def test_a_click_the_server_refuses_shows_the_sentence_and_is_remembered(kits):
    """No policy on this machine (a remote system): the buttons are offered; the server's refusal shows as the
    banner, and the button is disabled with the same sentence from then on (learned)."""
    s, poller, panel = widget_for(kits, MEMBER, jobs_panel)
    select(panel, poller, ADMIN_JOB)
    assert all(allowed(panel).values())
    panel.buttons["Abort"].click()
    panel.confirm.yes.click()
    poller.tick()
    said = refusal_said(kits, MEMBER, "abort_job", job_id=ADMIN_JOB)
    assert panel.message == said
    assert said in panel.banner.value or said.replace("'", "&#x27;") in panel.banner.value
    assert "user not authorized" not in panel.banner.value
    poller.tick()
    assert panel.buttons["Abort"].disabled and panel.buttons["Abort"].tooltip == said
    assert not panel.buttons["Delete"].disabled  # not refused yet: the server decides
    assert s.list_jobs()  # the session goes on


def test_a_disabled_button_clicked_anyway_shows_the_same_sentence(kits, known):
    _s, poller, panel = widget_for(kits, MEMBER, jobs_panel)
    select(panel, poller, ADMIN_JOB)
    tooltip = panel.buttons["Delete"].tooltip
    panel.buttons["Delete"].click()  # the front end would not send it; the server still decides
    panel.confirm.yes.click()
    poller.tick()
    assert panel.message == tooltip


# -- the job monitor ---------------------------------------------------------------------------------------------------
def test_the_monitor_offers_a_member_no_abort(kits, known):
    s = session_for(RECORDING, kits, MEMBER)
    poller = Poller(session_fn=lambda: s, interval_fn=lambda: 1.0, autostart=False)
    m = JobMonitor(ADMIN_JOB, poller=poller, meta=meta(RECORDING, ADMIN_JOB))
    m.permit_buttons(s)
    assert m.abort_button.disabled
    assert m.abort_button.tooltip == refusal_said(kits, MEMBER, "abort_job", job_id=ADMIN_JOB)
    lead = session_for(RECORDING, kits, LEAD_B)
    own = JobMonitor(LEAD_B_JOB, poller=poller, meta=meta(RECORDING, LEAD_B_JOB))
    own.permit_buttons(lead)
    assert not own.abort_button.disabled and not own.download_button.disabled
    # the log on 2.9 comes from get_job_logs, which NVFlare's default policy leaves to project admins
    assert own.errors_button.disabled and "may not read the log of job" in own.errors_button.tooltip


# -- the clients panel -------------------------------------------------------------------------------------------------
def test_a_user_of_another_organisation_may_not_operate_the_sites(kits, known):
    for name in (MEMBER, LEAD_B, ORG_ADMIN_B):
        _s, poller, panel = widget_for(kits, name, lambda p: ClientsPanel(poller=p, every=0))
        select(panel, poller, "site-1")
        assert allowed(panel) == {"Env": False, "Restart": False, "Shutdown": False}, name
        assert panel.env_button.tooltip == refusal_said(kits, name, "get_client_env", client_names=["site-1"])
        assert panel.restart_button.tooltip.startswith(f"{name} (")
        assert " may not restart site-1: site-1's authorization policy lets only " in panel.restart_button.tooltip


def test_a_lead_of_the_sites_organisation_may_operate_them(kits, known):
    _s, poller, panel = widget_for(kits, LEAD_N, lambda p: ClientsPanel(poller=p, every=0))
    select(panel, poller, "site-1")
    assert allowed(panel) == {"Env": True, "Restart": True, "Shutdown": True}


def test_a_clients_refusal_inside_the_restart_answer_shows_as_the_sentence(kits):
    s, poller, panel = widget_for(kits, MEMBER, lambda p: ClientsPanel(poller=p, every=0))
    select(panel, poller, "site-1")
    assert not panel.restart_button.disabled  # no policy known: offered
    panel.restart_button.click()
    panel.confirm.yes.click()
    poller.tick()
    assert calls(RECORDING, MEMBER, "restart")[0]["result"]["status"] == "ok"  # NVFlare raised nothing
    assert panel.message.startswith("member@org-b.com (member, org_b) may not restart site-1: ")
    assert panel.message.endswith("; a member may only view jobs and sites")
    assert "sent" not in panel.message
    poller.tick()
    assert panel.restart_button.disabled and panel.restart_button.tooltip == panel.message


# -- the dashboard -----------------------------------------------------------------------------------------------------
def test_the_dashboard_header_names_the_user_their_organisation_and_role(kits, known):
    s = session_for(RECORDING, kits, MEMBER)
    poller = Poller(session_fn=lambda: s, interval_fn=lambda: 1.0, autostart=False)
    d = Dashboard(s, poller=poller)
    try:
        header = d.header.value
        for part in (
            "<b>user</b> <bdi>member@org-b.com</bdi>",
            "<b>org</b> <bdi>org_b</bdi>",
            "<b>role</b> <bdi>member</bdi>",
        ):
            assert part in header
    finally:
        d.close()
