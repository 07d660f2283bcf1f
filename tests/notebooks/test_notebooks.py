"""Every tutorial notebook runs top to bottom in a real kernel, and leaves no FLARE process behind.

The executed copies (outputs and the widgets' saved state) are kept in notebooks/executed/ (git-ignored): the
documentation site (bash scripts/docs.sh) is built from them, so the docs show exactly what this test run saw."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flare_jupyter import poc
from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from run_notebook import run  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
#: Where the executed copies go: what the documentation is built from.
EXECUTED = ROOT / "notebooks" / "executed"
#: What a reader must see in each notebook's outputs for it to have done its job.
EXPECTED = {
    "01_quickstart.ipynb": [
        "FINISHED:COMPLETED",
        "validation metric",
        "site-1",
        "site-2",
        "datetime64",
        "Figure",
        "workspace",
        "mode: secure",
    ],
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
        "server_info",
        "no_jobs",
        "'version': ",
        "'resources': ",
        "root_url",
        "/prod_00/server",
        "startup",
        '"format_version": 2',
        "New client site-2",
        "log of server",
        "FINISHED:COMPLETED, ",
        " ERROR lines",  # NVFlare may log one under load (CI saw one); tests/integration/test_widgets_live.py asserts
        # that watching a job with flare-jupyter adds none
        "progress_command",
        "ServerRunner",
        "command timeout set to 5 s",
        "'you_sent': {'detail': True}",
        "both clients sent their first result: yes",
        "no app command func for topic status",
        "ProgressCommand",
        "the first result arrived (reported as an error on purpose)",
        "errors of job",
        "{'server': 'No Error'}",
        "AppCommandProcessor - ERROR",
        "FINISHED:ABORTED",
        "primary",
        "nothing to promote",
        "Restart the client",
        "site-2 is connected: yes",
        "{'status': 'ok', 'info': ''}",
        "FLARE system shut down",
        "every process of the embedded system has exited: yes",
    ],
    "07_flare_api.ipynb": [
        "mode: secure",
        "('insecure', True)",
        "'status': 'FINISHED:COMPLETED'",
        "MonitorReturnCode.JOB_FINISHED",
        "MonitorReturnCode.ENDED_BY_CB",
        "FINISHED:ABORTED",
        "'job_name': 'alpha'",
        "('beta', True)",
        "submitter_role",
        "Round 2 started.",
        "['ERRORLOG_site-1', 'ERRORLOG_site-2']",
        "cross_site_val",
        "[]",
    ],
    "05_experiments.ipynb": [
        "JOB_FINISHED",
        "('FINISHED:COMPLETED', 'FINISHED:COMPLETED')",
        "artifact: metrics/round_metrics.jsonl in the job's result",
        "aggregated  train_loss",
        "'best_round': 2",
        "script_args",
        "--lr 0.2",
        "FINISHED:EXECUTION_EXCEPTION",
        "the failure started on site-2: RuntimeError: site-2 cannot train round 1",
        "raised at client.py, line 18, in train",
        "fedavg-fails.html True",
        "(True, 'FINISHED:COMPLETED', True)",
        "Figure",
    ],
    "06_federation_roles.ipynb": [
        "member@hospital-b.org",
        "identity: role",
        "user: member@hospital-b.org, org: hospital_b, role: member",
        "hospital_b-numpy",
        "FINISHED:COMPLETED",
        "member@hospital-b.org (member, hospital_b) may not abort job",
        "a member may only view jobs and sites",
        "lead@hospital-a.org (lead, hospital_a) may not delete job",
        "lead@hospital-a.org (lead, hospital_a) may not restart site-1",
        "of the site's organisation (nvidia)",
    ],
}


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    # the kernel's embedded system goes under this cache folder, so we can check it is gone afterwards
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    nb = run(path, out_dir=EXECUTED)
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
    assert wait_for(lambda: not poc.processes_under(tmp_path / "cache"), timeout=30)
