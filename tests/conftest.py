"""Fixtures shared by every test: an IPython shell with the extension loaded, and a session on recorded answers."""

from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import flare_jupyter as fj
from fakes import RecordedSession


@pytest.fixture(scope="session")
def ip():
    """One IPython shell (history off) with ``%load_ext flare_jupyter`` done, as a notebook user has it."""
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(history_manager=None)
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "flare_jupyter")
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture
def flare(ip):
    """``%flare ...`` as a function: returns what the magic returns, raises what it raises."""
    return lambda line: ip.run_line_magic("flare", line)


@pytest.fixture
def cell(ip, capsys):
    """Run a cell as a notebook would; returns (result, what the user saw on stdout+stderr)."""

    def run(source: str):
        capsys.readouterr()
        result = ip.run_cell(source)
        out = capsys.readouterr()
        return result, out.out + out.err

    return run


@pytest.fixture
def recorded():
    """The kernel session wired to NVFlare answers recorded from a real system (see tests/record.py)."""
    raw = RecordedSession()
    ks = fj.KernelSession(raw.startup_path, "admin@nvidia.com", raw=raw)
    importlib.import_module("flare_jupyter.connection")._set_current(ks)
    yield raw
    fj.disconnect()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups (pytest-xdist#1241)
def pytest_collection_modifyitems(items):
    """How ``pytest -n N --dist loadgroup`` (scripts/test.sh) shares the work between workers: the integration tests
    of one module on one worker (its module fixtures, e.g. a server grown to hundreds of jobs, are made once), the
    browser tests on one (they share one JupyterLab), each notebook on its own (each starts its own embedded
    system); the unit tests go wherever a worker is free. A worker that runs integration tests starts one embedded
    system for all the modules it gets. Without xdist the marks change nothing. tests/unit/test_worker_groups.py
    checks that the installed pytest-xdist honours them."""
    for item in items:
        path = item.path
        if path.parent.name == "integration":
            group = f"integration-{path.stem}"
        elif path.parent.name == "browser":
            group = "browser"
        elif path.parent.name == "notebooks":
            group = f"notebook-{item.name}"
        else:
            continue
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionfinish(session, exitstatus):
    """No FLARE process started by the tests may outlive them: find any still running from the tests' temporary
    folders, stop it, and fail the run."""
    import psutil

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    base = str(factory.getbasetemp())
    me = psutil.Process()
    ours = {me.pid} | {p.pid for p in me.parents()}  # --basetemp on pytest's own command line is not a leak
    # under this run's folder only: when it is pytest-3, the other release's run beside it may be in pytest-37
    left = fj.poc.processes_under(base, exclude=ours)
    if left:
        print(f"\nFLARE processes left running by the tests (now killed): {[p.pid for p in left]}")
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        session.exitstatus = 1


#: Where each run writes when every test started and ended, per worker (test-artifacts/, git-ignored): the run's
#: critical path, read with scripts/timeline.py, is what to cut to make the suite faster.
TIMELINE_DIR = Path(__file__).resolve().parents[1] / "test-artifacts"


def _timeline_path() -> Path:
    from importlib.metadata import version

    return TIMELINE_DIR / f"timeline-nvflare-{version('nvflare')}.jsonl"


def pytest_sessionstart(session):
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # the controller (or a run without xdist) starts it afresh
        TIMELINE_DIR.mkdir(exist_ok=True)
        _timeline_path().write_text("")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.time()
    yield
    line = {
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "test": item.nodeid,
        "start": round(started, 2),
        "end": round(time.time(), 2),
    }
    with open(_timeline_path(), "a") as f:  # one short line per write: appends from several workers do not mix
        f.write(json.dumps(line) + "\n")
