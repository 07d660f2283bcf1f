"""Every widget, in a real JupyterLab and a real browser, photographed for the documentation.

Writes a small notebook into the lab's root folder that starts the embedded FLARE system, runs a FedAvg job and a
federated-statistics job, and shows each widget: the job monitor, the jobs panel, the clients panel, the log
viewer, the dashboard and the federated-statistics explorer. Runs it from the Run menu as a user would, waits until
each widget shows what a reader should see (the finished job, the jobs, both clients, log lines, a histogram, times
and durations written as a person writes them), saves one screenshot per widget to
``tests/browser/artifacts/widgets/<name>.png`` (the documentation's widgets page shows them; ``scripts/docs.sh``
refuses to build without them), then stops the system from the notebook's last cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from polling import wait_for

NOTEBOOK = "widget_gallery.ipynb"
EXECUTED = re.compile(r"^\[\d+\]:$")
FAILED = re.compile(r"Traceback|UsageError|\b\w+Error: ")
#: (screenshot name, the cell showing the widget, text the widget must show before it is photographed)
WIDGETS = [
    ("monitor", "monitor = fj.monitor(job)\nmonitor", "FINISHED:COMPLETED"),
    ("jobs_panel", "fj.jobs_panel()", "2 of 2 jobs"),
    ("clients_panel", "fj.clients_panel()", "site-2"),
    ("log_viewer", 'fj.log_viewer("server", lines=12)', "12 lines"),
    ("dashboard", "fj.dashboard()", "embedded (POC)"),
    ("fedstats_explorer", "fj.fedstats(stats_job).explore()", "feature"),
]
SETUP = """
%load_ext flare_jupyter
import flare_jupyter as fj

%config FlareMagics.poll_interval = 1.0
system = fj.poc.start()
job = fj.session().submit_job(fj.examples.hello_numpy(system.workspace / "jobs", num_rounds=3))
stats_job = fj.session().submit_job(fj.examples.fed_stats(system.workspace / "jobs", dataset="breast_cancer"))
"""
WAIT = """
monitor.wait(timeout=300), fj.session().wait_for_job(stats_job, timeout=300, poll_interval=1.0)["status"]
"""
TEARDOWN = "fj.poc.stop()"
SHOTS = Path(__file__).resolve().parent / "artifacts" / "widgets"


def write_notebook(folder: Path) -> tuple[Path, dict[str, int], int]:
    """The gallery notebook; returns (its path, {widget name: cell index}, the teardown cell's index)."""
    cells = [nbformat.v4.new_code_cell(SETUP.strip())]
    where = {}
    for name, source, _ in WIDGETS:
        where[name] = len(cells)
        cells.append(nbformat.v4.new_code_cell(source))
        if name == "monitor":
            cells.append(nbformat.v4.new_code_cell(WAIT.strip()))  # the other widgets see both jobs finished
    cells.append(nbformat.v4.new_code_cell(TEARDOWN))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / NOTEBOOK
    nbformat.write(nb, path)
    return path, where, len(cells) - 1


def run_menu(page, item: str) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


@pytest.mark.timeout(420)
def test_every_widget_is_photographed_for_the_documentation(lab, browser, tmp_path):
    path, where, teardown = write_notebook(lab.root)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()  # a failed run leaves no screenshot of an earlier one behind
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(lab.url(f"lab/tree/{path.name}"))
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        expect(cells).to_have_count(teardown + 1, timeout=60_000)
        indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)
        kernel = wait_for(lambda: lab.kernel_of(path.name), timeout=30)

        cells.nth(teardown).click()
        expect(cells.nth(teardown)).to_have_class(re.compile(r"\bjp-mod-active\b"))
        run_menu(page, "Run All Above Selected Cell")
        for i in range(teardown):
            lab.wait_executed(cells.nth(i), EXECUTED, timeout=300)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
        outputs = "\n".join(cells.locator(".jp-OutputArea-output").all_inner_texts())
        assert not FAILED.search(outputs), f"a cell failed:\n{outputs[-3000:]}"

        for name, _, shown in WIDGETS:
            output = cells.nth(where[name]).locator(".jp-OutputArea-output").first
            output.scroll_into_view_if_needed()
            expect(output).to_contain_text(shown, timeout=60_000)
            if name == "fedstats_explorer":
                expect(output.locator("img").first).to_be_visible(timeout=60_000)
            output.screenshot(path=str(SHOTS / f"{name}.png"))

        # what the reader sees reads like a person wrote it: seconds, no microseconds, no "0 days", no +00:00
        jobs = cells.nth(where["jobs_panel"]).locator(".jp-OutputArea-output").first.inner_text()
        assert re.search(r"submit_time \(UTC[+-]\d\d:\d\d\)", jobs), jobs
        assert re.search(r"\d\d:\d\d:\d\d\s", jobs) and re.search(r"\d+\.\d s", jobs), jobs
        assert "0 days" not in jobs and not re.search(r"\d[+-]\d\d:\d\d|:\d\d\.\d{6}", jobs), jobs
        assert "\u2026" in jobs, "job ids are shown shortened"
        header = cells.nth(where["monitor"]).locator(".widget-html").first
        assert re.search(r"\d+\.\d s|\d+ min \d\d s", header.inner_text()), header.inner_text()
        full_id = header.locator("bdi[title]").first.get_attribute("title")
        assert re.fullmatch(r"[0-9a-f-]{36}", full_id or ""), "the full job id is one hover away"
        assert all((SHOTS / f"{name}.png").stat().st_size > 5_000 for name, _, _ in WIDGETS)

        cells.nth(teardown).click()
        run_menu(page, "Run Selected Cell")
        lab.wait_executed(cells.nth(teardown), EXECUTED, timeout=60)
        wait_for(lambda: not lab.flare_processes(), timeout=60)
        lab.api("DELETE", f"/api/kernels/{kernel}", timeout=30)
        assert dialogs == []
    finally:
        page.close()
