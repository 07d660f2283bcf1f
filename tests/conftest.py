"""Fixtures shared by every test: an IPython shell with the extension loaded, and a session on recorded answers."""

from __future__ import annotations

import importlib

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
    importlib.import_module("flare_jupyter.session")._set_current(ks)
    yield raw
    fj.disconnect()
