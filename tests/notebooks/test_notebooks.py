"""Every tutorial notebook runs top to bottom in a real kernel, and leaves no FLARE process behind."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from run_notebook import run  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
#: What a reader must see in each notebook's outputs for it to have done its job.
EXPECTED = {
    "01_quickstart.ipynb": ["FINISHED:COMPLETED", "validation metric", "site-1", "site-2", "datetime64", "Figure"],
    "02_monitoring_and_dashboard.ipynb": [
        "FINISHED:COMPLETED",
        "FINISHED:ABORTED",
        "JOB_FINISHED",
        "accuracy",
        "<img src=x onerror=alert(1)>",
    ],
    "03_federated_statistics.ipynb": [
        "FedStats: 5 features",
        "site-1, site-2, Global",
        "difference",
        "accuracy",
        "Figure",
        "component",
    ],
    "04_operations.ipynb": [
        "client.key is the private key of client.crt",
        "RSA 2048-bit (content not shown)",
        "client.key is open to group and others",
        "root_url",
        "no_jobs",
        "New client site-2",
        "log of server",
        "FINISHED:COMPLETED, ",
        " 0 ERROR lines",
        "ServerRunner",
        "Columns: [target, component, key, value]",
        "no app command func for topic progress",
        "AppCommandProcessor - ERROR",
        "FINISHED:ABORTED",
        "primary",
        "nothing to promote",
        "Restart the client",
        "site-2 is connected: yes",
    ],
}


def flare_processes_under(folder: Path) -> list[int]:
    marker = str(folder)
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in p.info["cmdline"] or []):
                found.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    # the kernel's embedded system goes under this cache folder, so we can check it is gone afterwards
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    nb = run(path, out_dir=tmp_path / "executed")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    texts = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "Traceback" not in texts
    for expected in EXPECTED.get(path.name, []):
        assert expected in texts, f"{path.name}: {expected!r} not in the outputs"
    assert wait_for(lambda: not flare_processes_under(tmp_path / "cache"), timeout=30)
