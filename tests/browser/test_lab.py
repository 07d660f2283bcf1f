"""The live widgets in a real JupyterLab, in a real browser.

Runs ``notebooks/02_monitoring_and_dashboard.ipynb`` in JupyterLab the way a user does (Run > Run All Above Selected
Cell), up to its cell tagged ``browser-stop-here``, then watches the page with no cell running and checks that

* the job monitor renders, and redraws **by itself while the kernel is idle** until the job is FINISHED:COMPLETED
  (the poller thread sets widget traits; with ipykernel 7 that must reach the browser without a next cell);
* a job named ``<img src=x onerror=alert(1)>`` shows as that text: no element is injected, no alert fires;

saves screenshots to ``tests/browser/artifacts/``, then runs the ``teardown`` cell and checks that the embedded
FLARE system is gone.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from polling import wait_for

NOTEBOOK = "02_monitoring_and_dashboard.ipynb"
HOSTILE = "<img src=x onerror=alert(1)>"
MONITOR_SOURCE = "fj.monitor(job1)"  # the cell showing the monitor of the short (3-round) job
EXECUTED = re.compile(r"^\[\d+\]:$")
ERROR_TEXT = re.compile(r"Traceback|\b\w+Error\b")


@dataclass
class Seen:
    """What the page showed at one moment while no cell was supposed to run."""

    t: float
    header: str  # the monitor's header: name, job id, status, elapsed seconds
    rounds: str  # the progress bar's label
    bar: str  # how full the progress bar is drawn (its CSS width)
    ui_state: str  # JupyterLab's kernel indicator (data-status)
    server_state: str  # the Jupyter server's view of the kernel (REST)
    running_cells: int  # cells showing [*]
    execution_count: int  # the highest [n] in the notebook

    @property
    def idle(self) -> bool:
        return self.ui_state == "idle" and self.server_state == "idle" and self.running_cells == 0

    @property
    def shown(self) -> tuple:
        """What changed on screen (or in the kernel's state) from one moment to the next."""
        return self.header, self.rounds, self.bar, self.idle

    @property
    def finished(self) -> bool:
        return "FINISHED" in self.header


def cell_indexes(path: Path) -> tuple[int, int, int, list[int]]:
    """(monitor cell, last cell to run, teardown cell, code cells) of the notebook, by position."""
    cells = json.loads(path.read_text())["cells"]

    def tagged(tag):
        found = [i for i, c in enumerate(cells) if tag in c.get("metadata", {}).get("tags", [])]
        assert len(found) == 1, f"{path.name}: need exactly one cell tagged {tag!r}, found {found}"
        return found[0]

    monitor = [i for i, c in enumerate(cells) if MONITOR_SOURCE in "".join(c["source"])]
    assert len(monitor) == 1, f"{path.name}: need exactly one cell with {MONITOR_SOURCE!r}"
    stop, teardown = tagged("browser-stop-here"), tagged("teardown")
    assert monitor[0] < stop < teardown - 1, "the monitor, then browser-stop-here, then at least a cell, then teardown"
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    return monitor[0], stop, teardown, code


def run_menu(page, item: str) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()  # (its role name has the shortcut)


def screenshot(page, tmp_path: Path, artifacts: Path, name: str) -> None:
    """A full-page screenshot, in the test's folder and copied to the artifacts CI keeps."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, artifacts / name)


@pytest.mark.timeout(300)
def test_monitor_updates_live_and_escapes_names(lab, browser, tmp_path, artifacts):
    monitor_at, stop_at, teardown_at, code_cells = cell_indexes(lab.root / NOTEBOOK)
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    dialogs: list[str] = []
    seen: list[Seen] = []
    page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
    try:
        page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        expect(cells).to_have_count(len(json.loads((lab.root / NOTEBOOK).read_text())["cells"]), timeout=60_000)
        indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)  # the kernel has started
        kernel = wait_for(lambda: lab.kernel_of(NOTEBOOK), timeout=30)

        # Run everything above the cell after "browser-stop-here", as a user would, from the Run menu.
        cells.nth(stop_at + 1).click()
        expect(cells.nth(stop_at + 1)).to_have_class(re.compile(r"\bjp-mod-active\b"))
        run_menu(page, "Run All Above Selected Cell")
        for i in (i for i in code_cells if i <= stop_at):
            lab.wait_executed(cells.nth(i), EXECUTED, timeout=150)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
        outputs = "\n".join(cells.locator(".jp-OutputArea-output").all_inner_texts())
        assert not ERROR_TEXT.search(outputs), f"a cell failed:\n{outputs[-3000:]}"

        # (a) the monitor of the short job renders
        monitor = cells.nth(monitor_at).locator(".jp-OutputArea-output")
        header = monitor.locator(".widget-html").first
        expect(header).to_be_visible()
        expect(header).to_contain_text(HOSTILE, timeout=30_000)
        bar = monitor.locator(".widget-hprogress .progress-bar").first
        # the bar's frame (the filled part has no width while the job has not begun a round: Playwright calls that
        # hidden)
        expect(monitor.locator(".widget-hprogress").first).to_be_visible()
        bar_label = monitor.locator(".widget-hbox .widget-html").first

        def prompts() -> tuple[int, int]:
            texts = cells.locator(".jp-InputPrompt").all_inner_texts()
            counts = [int(m.group(1)) for t in texts if (m := re.search(r"\[(\d+)\]", t))]
            return sum("*" in t for t in texts), max(counts, default=0)

        # (b) with no cell running, it keeps redrawing until the job is over
        t0 = time.monotonic()

        def look() -> bool:
            running, count = prompts()
            now = Seen(
                t=round(time.monotonic() - t0, 2),
                header=header.inner_text().strip(),
                rounds=bar_label.inner_text().strip(),
                bar=bar.evaluate("e => e.style.width"),
                ui_state=indicator.get_attribute("data-status") or "",
                server_state=lab.kernel_state(kernel),
                running_cells=running,
                execution_count=count,
            )
            last = seen[-1] if seen else None
            if last is None or now.shown != last.shown:
                seen.append(now)
                if len(seen) == 1:
                    screenshot(page, tmp_path, artifacts, "lab-monitor-running.png")
            return now.finished

        cells.nth(monitor_at).scroll_into_view_if_needed()
        wait_for(look, timeout=150, interval=0.25)
        story = "\n".join(map(str, seen))
        first, final = seen[0], seen[-1]
        assert first.idle and not first.finished, f"the job ended before the kernel was idle:\n{story}"
        assert "FINISHED:COMPLETED" in final.header and final.idle, story
        assert all(s.running_cells == 0 for s in seen), f"a cell ran while we watched:\n{story}"
        assert {s.execution_count for s in seen} == {first.execution_count}, f"a cell ran while we watched:\n{story}"
        assert len({s.header for s in seen if s.idle}) >= 3, f"too few redraws while the kernel was idle:\n{story}"

        # (c) the hostile name is text everywhere: in the monitor, in the dashboard's jobs table
        expect(header).to_contain_text(HOSTILE)
        expect(cells.nth(stop_at).locator(".jp-OutputArea-output")).to_contain_text(HOSTILE, timeout=30_000)
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("[onerror]").count() == 0
        assert dialogs == []

        # (d) what the user saw
        cells.nth(monitor_at).scroll_into_view_if_needed()
        screenshot(page, tmp_path, artifacts, "lab-monitor-finished.png")

        # teardown: run the last cell; the embedded FLARE system must be gone, then shut the kernel down
        cells.nth(teardown_at).click()
        run_menu(page, "Run Selected Cell")
        lab.wait_executed(cells.nth(teardown_at), EXECUTED, timeout=60)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
        wait_for(lambda: not lab.flare_processes(), timeout=60)
        lab.api("DELETE", f"/api/kernels/{kernel}", timeout=30)
        wait_for(lambda: lab.kernel_state(kernel) == "gone", timeout=30)
        assert dialogs == []
    finally:
        (artifacts / "observed.txt").write_text("".join(f"{s}\n" for s in seen))
        try:
            screenshot(page, tmp_path, artifacts, "lab-last.png")
        finally:
            page.close()
