"""The kernel session raises the exception types NVFlare's own ``Session`` raises (``nvflare.fuel.flare_api.flare_api``,
the seed), for the same call on the same system, on whichever release is installed: code written for NVFlare's
``except`` clauses keeps working. Each row is run on both sessions side by side; the table is the audit.

The seed's docstrings name two types: ``get_client_env`` raises ``InvalidTarget`` ("Raises:"), ``shutdown_system``
by anyone but a project admin raises ``AuthorizationError`` (NOT_AUTHORIZED; checked with a real non-admin user in
tests/integration/test_roles_live.py). Every other row is what the seed's code raises for that input.

Deliberate differences, each with its reason (``DEVIATIONS``):
* NVFlare raises ``SyntaxError`` for arguments it refuses (a ``..`` path, a bad target name); IPython shows any
  ``SyntaxError`` as a syntax error of the cell, with a traceback, so we raise ``ArgumentError``, a ``ValueError``.
* Where the seed takes a value it cannot use and answers strangely (2.5's ``monitor_job`` with a negative timeout
  never times out), we refuse it with the type the newer seed raises for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from nvflare.fuel.flare_api import flare_api as seed_api

from flare_jupyter import compat
from flare_jupyter.errors import ArgumentError

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass
class Row:
    method: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    seed_says: str = ""  # where the seed names the type (its docstring), else empty


ROWS = [
    Row("submit_job", (None,)),
    Row("submit_job", ("",)),
    Row("submit_job", ("/no/such/job/folder",)),
    Row("get_job_meta", (UNKNOWN,)),
    Row("get_job_status", (UNKNOWN,)),
    Row("abort_job", (UNKNOWN,)),
    Row("clone_job", (UNKNOWN,)),
    Row("delete_job", (UNKNOWN,)),
    Row("download_job_result", (UNKNOWN,)),
    Row("show_stats", ("{finished}", "server")),
    Row("show_stats", ("{finished}", "client")),
    Row("show_errors", ("{finished}", "server")),
    Row("reset_errors", ("{finished}",)),
    Row(
        "do_app_command", ("{finished}", "no_such_topic", {"x": 1}), seed_says="an exception if the job is not running"
    ),
    Row("list_jobs", kwargs={"detailed": "yes"}),
    Row("list_jobs", kwargs={"limit": "ten"}),
    Row("list_jobs", kwargs={"reverse": 1}),
    Row("restart", ("galaxy",)),
    Row("shutdown", ("galaxy",)),
    Row("set_timeout", (0,)),
    Row("set_timeout", ("10",)),
    Row("get_client_env", (["site-9"],), seed_says="Raises: InvalidTarget exception, if ... an invalid client name"),
    Row("get_client_job_status", (["site 9"],)),
    Row("cat_target", ("server",), {"file": "../etc/passwd"}),
    Row("ls_target", ("no such target",)),
    Row("grep_target", ("server",), {"pattern": "x", "file": "log.jsonl"}),
    Row("monitor_job", ("{finished}",), {"timeout": -1}),
    Row("monitor_job", ("{finished}",), {"poll_interval": 0}),
]

#: (seed's type, ours, why): see the module docstring.
DEVIATIONS = [(SyntaxError, ArgumentError, "IPython shows any SyntaxError as a syntax error of the cell")]


def outcome(call):
    try:
        call()
    except Exception as e:
        return e
    return None


@pytest.fixture(scope="module")
def seed(poc_system):
    """NVFlare's own session, opened as its users open it."""
    s = seed_api.new_secure_session(poc_system.username, poc_system.kit)
    yield s
    s.close()


def fill(values, finished):
    def one(v):
        return v.format(finished=finished) if isinstance(v, str) else v

    return tuple(one(v) for v in values)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.method}{r.args}{r.kwargs}")
def test_the_kernel_session_raises_what_nvflare_raises(row, seed, live, finished_job):
    args = fill(row.args, finished_job)
    theirs = outcome(lambda: getattr(seed, row.method)(*args, **row.kwargs))
    ours = outcome(lambda: getattr(live, row.method)(*args, **row.kwargs))
    if theirs is None:  # the seed takes it: ours may only refuse what the newer seed refuses (see the docstring)
        assert ours is None or isinstance(ours, (compat.InvalidArgumentError, ValueError)), repr(ours)
        return
    assert ours is not None, f"NVFlare raised {theirs!r}; the kernel session answered"
    for seed_type, our_type, _why in DEVIATIONS:
        if isinstance(theirs, seed_type):
            assert isinstance(ours, our_type), f"{ours!r} (NVFlare: {theirs!r})"
            return
    assert isinstance(ours, type(theirs)), f"{type(ours).__mro__} is not a {type(theirs).__name__} ({theirs})"
    assert len(str(ours).splitlines()) == 1


def test_the_audit_covers_every_method_that_raises_for_bad_input():
    audited = {r.method for r in ROWS}
    assert {"submit_job", "get_job_meta", "abort_job", "clone_job", "delete_job", "download_job_result"} <= audited
    assert {"show_stats", "show_errors", "reset_errors", "do_app_command", "list_jobs", "restart"} <= audited
    assert {"shutdown", "set_timeout", "get_client_env", "cat_target", "ls_target", "monitor_job"} <= audited
