"""Startup-kit checks with the real embedded FLARE system running: its admin kit passes every check, and a copy of it
with another participant's key is refused in one line while the kernel's session keeps working."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from live_jobs import CLIENTS, one_line, usage_error_line

import flare_jupyter as fj

FIX = "re-provision this admin's kit (or copy its complete startup folder again)"


@pytest.fixture
def kit_copy(poc_system, tmp_path):
    """A copy of the embedded system's admin kit (same server), removed after the test."""
    kit = tmp_path / "admin-kit-copy"
    shutil.copytree(poc_system.kit, kit)
    yield kit
    shutil.rmtree(kit, ignore_errors=True)


def test_the_embedded_systems_kit_passes_every_check(poc_system):
    report = fj.check_kit(poc_system.kit)
    assert list(report.columns) == ["check", "ok", "level", "detail"]
    key = Path(poc_system.kit) / "startup" / "client.key"
    # nvflare 2.9 writes the key 0600; nvflare 2.5 writes it 0644, which is worth its warning (not an error)
    open_key = key.stat().st_mode & 0o077
    assert [(r.check, r.level) for r in report.itertuples() if not r.ok] == (
        [("key permissions", "warning")] if open_key else []
    )
    found = dict(zip(report["check"], report["detail"], strict=True))
    assert found["identity: name"] == "admin@nvidia.com"
    assert found["identity: org"] == "nvidia"
    assert found["identity: role"] == "project_admin"
    assert f":{poc_system.admin_port}" in found["fed_admin.json"]
    assert found["key matches certificate"] == "client.key is the private key of client.crt"
    assert found["signed by root CA"] == "client.crt is signed by rootCA.pem (CN=fjpoc)"


def test_percent_flare_check_kit_returns_the_same_frame(flare, poc_system, live, monkeypatch):
    expected = fj.check_kit(poc_system.kit)
    pd.testing.assert_frame_equal(flare(f"check_kit {poc_system.kit}"), expected)
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    pd.testing.assert_frame_equal(flare("check_kit"), expected)  # the running embedded system's kit


def test_a_kit_with_another_participants_key_is_refused_and_the_session_keeps_working(live, poc_system, kit_copy, cell):
    shutil.copy(poc_system.prod_dir / "site-1" / "startup" / "client.key", kit_copy / "startup" / "client.key")
    report = fj.check_kit(kit_copy)
    assert [r.check for r in report.itertuples() if r.level == "error"] == ["key matches certificate"]
    expected = f"startup kit {kit_copy}: client.key does not match client.crt: {FIX}"

    before = fj.session()
    with pytest.raises(fj.FlareError) as caught:
        fj.connect(kit_copy)
    assert type(caught.value) is fj.FlareError  # refused by the checks, not by the server
    assert one_line(caught.value) == f"FlareError: {expected}"
    assert fj.session() is before and not before.closed
    assert isinstance(live.list_jobs(), list)

    result, seen = cell(f"%flare connect {kit_copy}")
    assert isinstance(result.error_in_exec, UsageError)
    assert usage_error_line(seen) == f"UsageError: {expected}"
    assert fj.session() is before
    assert isinstance(live.list_jobs(), list)
    assert {c.name for c in live.get_connected_client_list()} == CLIENTS


def test_the_same_copy_with_its_own_key_connects(live, poc_system, kit_copy):
    """The control: the copy itself is a working kit, so the refusal above is the key's doing."""
    try:
        s = fj.connect(kit_copy)
        assert {c.name for c in s.get_connected_client_list()} == CLIENTS
    finally:
        fj.connect(poc_system.kit)
    assert isinstance(fj.session().list_jobs(), list)
