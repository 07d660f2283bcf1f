"""``poc.processes_under(folder)``: what stop, restart and the tests' leak checks take to be a system's processes. A
process is under a folder when its command line names that folder or a path in it, never a sibling whose name only
begins the same (a tenth client ``site-10`` is not ``site-1``'s; pytest's ``tmp10`` is not ``tmp1``'s)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flare_jupyter.poc import processes_under
from polling import wait_for


@pytest.fixture
def sleeper(tmp_path):
    """A real process whose command line names ``<tmp>/prod_00/site-10/startup/..``, as a client's does on 2.5."""
    folder = tmp_path / "prod_00" / "site-10"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"{folder}/startup/.."])
    try:
        wait_for(lambda: processes_under(folder), timeout=30)
        yield proc, folder
    finally:
        proc.kill()
        proc.wait()


def test_a_process_is_under_its_folder_and_every_folder_above(sleeper):
    proc, folder = sleeper
    for where in (folder, folder.parent, folder.parent.parent, f"{folder}/"):
        assert [p.pid for p in processes_under(where)] == [proc.pid], where


def test_a_sibling_that_begins_the_same_is_not_under_it(sleeper):
    proc, folder = sleeper
    assert processes_under(folder.parent / "site-1") == []
    assert processes_under(folder.parent.parent.parent / (folder.parent.parent.name[:-1])) == []


def test_excluded_pids_are_left_out(sleeper):
    proc, folder = sleeper
    assert processes_under(folder, exclude={proc.pid}) == []
