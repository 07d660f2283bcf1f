"""Users' startup kits made by NVFlare's own tooling (a project provisioned once with ``nvflare poc prepare`` and,
on nvflare 2.9, ``nvflare poc add-user``; no server started): ``check_kit`` and the session show each user's
name, organisation and role from the certificate; an insecure session pointed at another machine is a warning; a
blank kit path is refused rather than read as "the default"; users given wrongly are one clear line."""

from __future__ import annotations

import importlib
import json
import shutil
import socket
from pathlib import Path

import psutil
import pytest
from IPython.core.error import UsageError

import flare_jupyter as fj
from flare_jupyter import compat, poc
from flare_jupyter.poc import PocSystem, free_ports

kit_module = importlib.import_module("flare_jupyter.kit")
USERS = {
    "lead@org-b.com": ("lead", "org_b"),
    "member@nvidia.com": "member",
    "oa@org-c.com": ("org_admin", "org_c"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> PocSystem:
    """A real project with three more users, provisioned but never started."""
    system = PocSystem(tmp_path_factory.mktemp("roles-project"), 2, *free_ports(2), users=USERS)
    system.prepare()
    return system


@pytest.fixture(autouse=True)
def no_default_kit(monkeypatch):
    monkeypatch.setattr(fj.poc, "_current", None)
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)


def identity_rows(report) -> dict:
    rows = report[report["check"].str.startswith("identity: ")]
    return dict(zip(rows["check"], rows["detail"], strict=True))


def test_every_user_has_a_kit_of_their_own_with_their_identity(project):
    assert list(project.users.columns) == ["name", "org", "role", "kit"]
    assert [str(t) for t in project.users.dtypes] == ["string"] * 4
    expected = [
        ("admin@nvidia.com", "nvidia", "project_admin"),
        ("lead@org-b.com", "org_b", "lead"),
        ("member@nvidia.com", "nvidia", "member"),
        ("oa@org-c.com", "org_c", "org_admin"),
    ]
    assert sorted(project.users[["name", "org", "role"]].itertuples(index=False, name=None)) == expected
    for name, org, role in expected:
        kit = project.kit_for(name)
        assert kit == str(project.prod_dir / name)
        report = fj.check_kit(kit)
        assert identity_rows(report) == {"identity: name": name, "identity: org": org, "identity: role": role}
        errors = report[report["level"] == "error"]
        assert errors.empty, errors.to_dict("records")


def test_the_users_kits_come_from_nvflares_add_user_where_it_exists(project):
    in_file = (project.workspace / "project.yml").read_text()
    for name in USERS:
        if compat.poc_user_roles():  # nvflare 2.9: add-user wrote them into the POC's own copy, not into ours
            assert name not in in_file
            assert name in (project.workspace / "poc" / "project.yml").read_text()
        else:  # nvflare 2.5: admin participants of the project file
            assert f"name: {name}" in in_file


def test_kit_for_an_unknown_user_names_the_users(project):
    with pytest.raises(fj.FlareError) as caught:
        project.kit_for("nobody@org-b.com")
    assert str(caught.value) == (
        "'nobody@org-b.com' is not a user of this system (admin@nvidia.com, lead@org-b.com, member@nvidia.com, "
        "oa@org-c.com): add it with users= or add_user()"
    )


def test_the_session_repr_shows_the_users_org_and_role(project):
    s = fj.KernelSession(project.kit_for("lead@org-b.com"), "lead@org-b.com")
    info = s.summary(live=False)
    assert (info["user"], info["org"], info["role"]) == ("lead@org-b.com", "org_b", "lead")
    insecure = fj.KernelSession(project.kit_for("lead@org-b.com"), "admin", secure=False)
    assert "role" not in insecure.summary(live=False)  # an insecure session is nobody's: the server checks nothing


# -- insecure sessions pointed elsewhere -----------------------------------------------------------------------------
@pytest.fixture
def kit_copy(project, tmp_path):
    kit = tmp_path / "member-kit"
    shutil.copytree(project.kit_for("member@nvidia.com"), kit)
    return kit


def point_at(kit: Path, host: str) -> None:
    f = kit / "startup" / "fed_admin.json"
    config = json.loads(f.read_text())
    admin = config["admin"]
    if "overseer_agent" in admin:  # nvflare 2.5's kits name the server in the overseer agent's end point
        _, fl, port = admin["overseer_agent"]["args"]["sp_end_point"].split(":")
        admin["overseer_agent"]["args"]["sp_end_point"] = f"{host}:{fl}:{port}"
    else:
        admin["host"] = host
    f.write_text(json.dumps(config))


def test_an_insecure_session_to_another_machine_is_a_warning(kit_copy):
    point_at(kit_copy, "flare.example.org")
    report = fj.check_kit(kit_copy, secure=False)
    row = report[report["check"] == "insecure session"].iloc[0]
    assert row["level"] == "warning"
    assert row["detail"].startswith("an insecure session talks to flare.example.org:")
    assert row["detail"].endswith(
        ", which is not this machine, unencrypted and unauthorized: connect securely (the default) to a server "
        "elsewhere"
    )
    assert "insecure session" not in set(fj.check_kit(kit_copy)["check"])  # a secure check has no such row


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", socket.gethostname()])
def test_an_insecure_session_on_this_machine_is_fine(kit_copy, host):
    point_at(kit_copy, host)
    row = fj.check_kit(kit_copy, secure=False).set_index("check").loc["insecure session"]
    assert (row["level"], row["detail"]) == ("ok", f"the server ({host}) is this machine: nothing crosses the network")


def test_this_machine_is_told_by_name_and_address_without_asking_dns():
    own = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == socket.AF_INET]
    for host in ["localhost", "::1", "[::1]", "127.0.0.5", "0.0.0.0", *own]:
        assert kit_module.this_machine(host), host
    for host in ["flare.example.org", "192.0.2.10", "2001:db8::1", "", None]:
        assert not kit_module.this_machine(host), host


# -- never another identity ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_kit_path_is_refused_not_taken_for_the_default(project, monkeypatch, blank):
    monkeypatch.setenv("FLARE_STARTUP_KIT", project.kit)  # the project admin's: must not be used instead
    with pytest.raises(fj.FlareError, match="the startup kit path is empty: give the kit folder"):
        fj.connect(blank)
    with pytest.raises(fj.FlareError, match="the startup kit path is empty"):
        fj.check_kit(blank)
    assert fj.current() is None


def test_a_user_name_other_than_the_kits_is_refused(project):
    with pytest.raises(fj.FlareError) as caught:
        fj.connect(project.kit_for("member@nvidia.com"), username="admin@nvidia.com")
    assert str(caught.value) == (
        "user 'admin@nvidia.com' does not match the startup kit, which is 'member@nvidia.com''s: leave the user out, "
        "or use that user's own kit"
    )


# -- users given wrongly ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "users, message",
    [
        ({"lead@org-b.com": ("lead", "org-b")}, "'org-b' is not a valid organisation name: an organisation name"),
        ({"lead": "lead"}, "'lead' is not a valid user name: a user name is an email address"),
        ({"x@org-b.com": "admin"}, "user 'x@org-b.com': role 'admin' is not one of org_admin, lead, member"),
        ({"x@org-b.com": "project_admin"}, "user 'x@org-b.com': a project has one project_admin (admin@nvidia.com)"),
        ({"x@org-b.com": ("lead",)}, "user 'x@org-b.com': give a role or (role, org), e.g. ('lead', 'org_b')"),
        ({"admin@nvidia.com": "lead"}, "admin@nvidia.com is the embedded system's project admin already"),
        (["lead@org-b.com"], "users must be a dict of user name: role or (role, org)"),
    ],
)
def test_users_given_wrongly_are_one_line_before_anything_starts(users, message, tmp_path):
    with pytest.raises(fj.FlareError) as caught:
        fj.poc.start(workspace=tmp_path / "never", users=users, progress=None)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "never").exists()


def test_percent_flare_poc_start_reads_users(flare, monkeypatch):
    seen = {}
    monkeypatch.setattr(poc, "start", lambda **kw: seen.update(kw) or "started")
    flare("poc start -n 1 --user lead@org-b.com:lead:org_b --user member@nvidia.com:member --timeout 60")
    assert seen["users"] == {"lead@org-b.com": ("lead", "org_b"), "member@nvidia.com": ("member", "nvidia")}
    assert seen["n_clients"] == 1


def test_percent_flare_poc_start_refuses_a_user_without_a_role(flare):
    with pytest.raises(UsageError) as caught:
        flare("poc start --user lead@org-b.com")
    assert str(caught.value) == (
        "%flare poc: argument --user: 'lead@org-b.com' is not NAME:ROLE[:ORG], e.g. lead@org-b.com:lead:org_b "
        "(see %flare poc -h)"
    )
