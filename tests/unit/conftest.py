"""Fixtures of the unit tests: sessions on recorded NVFlare answers, and the recorded answers themselves."""

from __future__ import annotations

import importlib
import json

import pytest
from record_monitor import recorded_costs

import flare_jupyter as fj
from fakes import RecordedSession, decode, exception, load_recording
from record import call_key

session_module = importlib.import_module("flare_jupyter.connection")
poller_module = importlib.import_module("flare_jupyter.poller")

#: The admin endpoint of the recorded system (its server log says "creating listener on http://0:57561?admin_listener").
RECORDED_ADMIN = {"host": "localhost", "port": 57561}


def install(raw: RecordedSession, kit: str | None = None, username: str = "admin@nvidia.com") -> fj.KernelSession:
    """Make a KernelSession on ``raw`` the kernel's current session (what fj.connect does, minus the network)."""
    ks = fj.KernelSession(kit or raw.startup_path, username, raw=raw)
    session_module._set_current(ks)
    return ks


@pytest.fixture(autouse=True)
def no_session_of_another_module():
    """Each unit test starts with no kernel session, whatever ran before it on this worker: an integration module
    leaves the worker's live session connected for the next one (clean clone 12: a unit test found it and took it
    for one its refused connect had made). That session is put back afterwards, untouched; one the test made is
    closed."""
    with session_module._current_lock:
        kept, session_module._current = session_module._current, None
    yield
    with session_module._current_lock:
        made, session_module._current = session_module._current, kept
    if made is not None and made is not kept:
        made.close()


@pytest.fixture(scope="session", autouse=True)
def recorded_call_costs():
    """Every poller here chooses its status calls by the call costs the recordings were made with: a recorded
    session answers in microseconds, so timing it would say nothing about a server, and replays must ask what the
    recording asked (tests/record_monitor.py). Session-wide, so module-scoped fixtures' pollers choose alike."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(poller_module, "default_costs", recorded_costs)
        yield


@pytest.fixture(name="install")
def install_fixture():
    """``install(raw, kit=None, username=...)`` as a fixture; the session it makes is closed after the test."""
    yield install
    fj.disconnect()


@pytest.fixture
def kit(tmp_path):
    """An admin kit folder whose startup/fed_admin.json names the recorded system's admin endpoint."""
    (tmp_path / "startup").mkdir()
    (tmp_path / "startup" / "fed_admin.json").write_text(json.dumps({"admin": RECORDED_ADMIN}))
    return tmp_path


@pytest.fixture
def recorded_with_kit(kit):
    """Like ``recorded``, with a kit on disk (list_sp/get_active_sp read the admin port from it)."""
    raw = RecordedSession(startup_path=str(kit))
    install(raw, kit=str(kit))
    yield raw
    fj.disconnect()


@pytest.fixture(scope="session")
def recording() -> dict:
    return load_recording()


@pytest.fixture(scope="session")
def answers(recording):
    """``answers(method, **arguments)``: every answer recorded for that call, in recorded order (errors left out)."""

    def find(method: str, **arguments) -> list:
        key = call_key(method, (), arguments)
        calls = [c for c in recording["calls"] if c["method"] == method and c["args"] == key]
        found = [decode(c["result"]) for c in calls if "result" in c]
        assert found, f"nothing recorded for {method}({key})"
        return found

    return find


@pytest.fixture(scope="session")
def recorded_error(recording):
    """``recorded_error(method, **arguments)``: the exception NVFlare raised for that call (the last one recorded)."""

    def find(method: str, **arguments) -> BaseException:
        key = call_key(method, (), arguments)
        calls = [c for c in recording["calls"] if c["method"] == method and c["args"] == key]
        found = [c["raises"] for c in calls if "raises" in c]
        assert found, f"no error recorded for {method}({key})"
        return exception(found[-1])

    return find


@pytest.fixture
def policy_forgotten():
    """The test starts and ends with flare-jupyter's policy knowing no system and having learned no refusal."""
    from flare_jupyter import policy

    def forget():
        policy.forget_learned()
        with policy._lock:
            policy._systems.clear()

    forget()
    yield
    forget()
