"""NVFlare 2.9's ``restart``/``shutdown`` wait for the server by polling it with short-lived sessions
(``Session._poll_system_info``); closing one whose connect reached a server in the middle of its restart can wait
without end (a clean-clone run hung in ``restart("server")`` until the test's timeout). The kernel's raw session
bounds each poll: one that does not answer counts as no connection, and NVFlare polls again."""

from __future__ import annotations

import threading

import pytest

from flare_jupyter import compat


@pytest.fixture
def raw():
    """A RawSession as far as this method needs one (no server is contacted: the poll itself is replaced)."""
    return object.__new__(compat.RawSession)


def test_a_poll_that_never_returns_counts_as_no_connection(raw, monkeypatch):
    stuck = threading.Event()
    monkeypatch.setattr(compat._api.Session, "_poll_system_info", lambda self, t: stuck.wait(), raising=False)
    monkeypatch.setattr(compat.RawSession, "POLL_SECONDS", 0.2)
    try:  # (without the bound this call would not return until the poll did)
        with pytest.raises(compat.NoConnection, match="did not answer a poll within 0.3 s"):
            raw._poll_system_info(0.1)
    finally:
        stuck.set()


def test_a_poll_that_answers_or_fails_is_passed_on_as_it_is(raw, monkeypatch):
    info = object()
    monkeypatch.setattr(compat._api.Session, "_poll_system_info", lambda self, t: info, raising=False)
    assert raw._poll_system_info(1.0) is info

    def refuses(self, t):
        raise compat.NoConnection("cannot connect to server for 1.0 seconds")

    monkeypatch.setattr(compat._api.Session, "_poll_system_info", refuses, raising=False)
    with pytest.raises(compat.NoConnection, match="cannot connect to server"):
        raw._poll_system_info(1.0)
