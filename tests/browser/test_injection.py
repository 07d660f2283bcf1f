"""Injection safety in a real JupyterLab, in a real browser.

Generates a notebook (``injection_helpers.write_notebook``) into the lab's root folder that submits five jobs named
with hostile strings (``<script>``, ``<img onerror>``, an attribute break-out with ``<svg onload>``, markdown/LaTeX
with a ``javascript:`` link, a JS template), one of them running a client that prints hostile lines and reports
metrics keyed by them (so they reach the job's server log). It shows every view of them: a monitor per job, the
jobs panel, the server log viewer, the job's log viewer, ``%flare jobs``, ``%flare meta``, ``%flare logs``, the
client's job log (``%flare cat``) and the dashboard; runs it from the Run menu as a user would and checks that

* no dialog opened and ``window.__pwned`` was never set;
* no ``script``, ``img[src=x]``, ``on*`` attribute, ``javascript:`` link, bold text or MathJax-typeset math came out
  of our strings inside the notebook's outputs (a control cell proves MathJax does typeset in this lab);
* every hostile string shows as its literal text in the jobs panel, each monitor's header, the job's log, the
  DataFrame, the metas, the text logs and the dashboard;
* a job named with a RIGHT-TO-LEFT OVERRIDE (U+202E) leaves its monitor's header in reading order (id, status and
  time stay left to right after the name: every server string is bidi-isolated);

then stops the embedded FLARE system from the notebook's teardown cell and shuts the kernel down.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from injection_helpers import CLIENT_LINE, HOSTILE, RTL_JOB, SERVER_LOG_FORMS, run_menu, write_notebook
from playwright.sync_api import expect

from polling import wait_for

EXECUTED = re.compile(r"^\[\d+\]:$")
FAILED = re.compile(r"Traceback|UsageError|\b\w+Error: ")
#: What must not exist inside any output (CSS selectors); "[on*]" stands for any attribute whose name starts "on".
#: Checked by a canary (an HTML output of ``<img src=x onerror="window.__pwned=9;alert(9)">``): it is caught as
#: ``img``, ``[onerror]`` and ``[on*]``, by ``window.__pwned`` and by the dialog.
INJECTED = [
    "script",
    "img",  # none of our views draws an image (JupyterLab rewrites src=x to .../files/x?_xsrf=..., so match any)
    "svg[onload]",
    "[onerror]",
    "[onload]",
    "a[href^='javascript' i]",
    "strong",
    "mjx-container",
    ".MathJax",
    "math",
    "[on*]",
]
INJECTED_IMAGE = "img[src='x'], img[src$='/files/x'], img[src*='/files/x?']"
FIND_INJECTED = """([selectors, skip]) => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')];
  const found = [];
  cells.forEach((cell, i) => {
    if (skip.includes(i)) return;
    for (const area of cell.querySelectorAll('.jp-OutputArea')) {
      for (const sel of selectors) {
        const hits = sel === '[on*]'
          ? [...area.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on')))
          : [...area.querySelectorAll(sel)];
        for (const e of hits) found.push({cell: i, selector: sel, html: e.outerHTML.slice(0, 300)});
      }
    }
  });
  return found;
}"""


#: The left edges, on screen, of a monitor header's name, job id, status badge and elapsed time (in DOM order).
HEADER_ORDER = """(el) => {
  const parts = [el.querySelector('b'), el.querySelector('code'), el.querySelector('span[style*="background"]'),
                 el.querySelector('span[style*="color:#666"]')];
  return parts.map(p => p ? Math.round(p.getBoundingClientRect().left) : null);
}"""


def text_of(locator) -> str:
    """What the user reads there (scrolled into view first: off-screen cells are not laid out)."""
    locator.scroll_into_view_if_needed()
    return locator.inner_text()


def script_ran(page, dialogs: list[str]) -> list[str]:
    """What shows that injected script ran: ``window.__pwned`` set, or a dialog opened."""
    found = []
    if page.evaluate("() => typeof window.__pwned") != "undefined":
        found.append(f"injected script ran: window.__pwned = {page.evaluate('() => String(window.__pwned)')}")
    if dialogs:
        found.append(f"dialogs opened: {dialogs}")
    return found


def save_shot(target, tmp_path: Path, artifacts: Path, name: str, **kwargs) -> None:
    shot = tmp_path / name
    target.screenshot(path=str(shot), **kwargs)
    shutil.copy(shot, artifacts / name)


@pytest.mark.timeout(300)
def test_hostile_names_and_log_lines_render_as_text(lab, browser, tmp_path, artifacts):
    nb = write_notebook(lab.root)
    name = nb.path.name
    roles = nb.cells
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    dialogs: list[str] = []
    observed: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
    problems: list[str] = []  # every view that fails, collected so one run reports them all
    try:
        page.goto(lab.url(f"lab/tree/{name}"))
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        expect(cells).to_have_count(nb.n_cells, timeout=60_000)
        indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)  # the kernel has started
        kernel = wait_for(lambda: lab.kernel_of(name), timeout=30)

        # Run every cell above the teardown, from the Run menu.
        teardown = roles["teardown"]
        cells.nth(teardown).click()
        expect(cells.nth(teardown)).to_have_class(re.compile(r"\bjp-mod-active\b"))
        run_menu(page, "Run All Above Selected Cell")
        for i in (i for i in nb.code_cells if i < teardown):
            lab.wait_executed(cells.nth(i), EXECUTED, timeout=180)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
        stderr = cells.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        failures = [t for t in stderr.all_inner_texts() if FAILED.search(t)]
        assert not failures, "a cell failed:\n" + "\n---\n".join(failures)[-4000:]

        def output(role: str):
            return cells.nth(roles[role]).locator(".jp-OutputArea")

        def shows(label: str, where, text: str, timeout: float = 5_000) -> None:
            """``text`` shows literally in ``where`` (else a problem naming what shows instead)."""
            try:
                expect(where).to_contain_text(text, timeout=timeout, use_inner_text=True)
            except AssertionError:
                problems.append(f"{label}: {text!r} is not shown as text; the view reads {text_of(where)[:600]!r}")

        # Each monitor: its header names its job, literally, and the job finished.
        monitors = output("monitors").locator(".jp-OutputArea-output")
        expect(monitors).to_have_count(len(HOSTILE))
        for i, hostile in enumerate(HOSTILE):
            header = monitors.nth(i).locator(".widget-html").first
            header.scroll_into_view_if_needed()
            expect(header).to_contain_text("FINISHED:COMPLETED", timeout=60_000, use_inner_text=True)
            shows(f"monitor {i} header", header, hostile)
            observed.append(f"monitor {i} header: {text_of(header)!r}")
        # The U+202E name stays inside its own box: the id, the status badge and the time still read left to right
        rtl = monitors.nth(RTL_JOB).locator(".widget-html").first
        order = rtl.evaluate(HEADER_ORDER)
        observed.append(f"header of the U+202E job, left edges (name, id, status, time): {order!r}")
        if not order == sorted(order) or len(set(order)) != 4:
            problems.append(f"the U+202E job name reordered its monitor's header: left edges {order}")

        # The jobs panel's table, the DataFrame of %flare jobs, and the dashboard's jobs tab: every name as text.
        views = {
            "jobs panel table": output("jobs-panel").locator("table").first,
            "%flare jobs DataFrame": output("jobs-frame").locator("table").first,
            "dashboard": output("dashboard"),
        }
        for label, where in views.items():
            where.scroll_into_view_if_needed()
            expect(where).to_contain_text("FINISHED:COMPLETED", timeout=30_000, use_inner_text=True)
            for hostile in HOSTILE:
                shows(label, where, hostile)
            observed.append(f"{label}: {text_of(where)[:1500]!r}")

        # The job's server log (viewer and %flare logs): the metric keys the hostile client reported, as text.
        for label, where in (("job log viewer", output("job-log")), ("%flare logs", output("logs-text"))):
            where.scroll_into_view_if_needed()
            expect(where).to_contain_text("not in metrics from site-1", timeout=30_000, use_inner_text=True)
            for form in SERVER_LOG_FORMS:
                shows(label, where, form)
            lines = [ln for ln in text_of(where).splitlines() if "not in metrics from" in ln]
            observed.append(f"{label}: {lines!r}")

        # The client's job log (%flare cat): the lines the client printed, as text.
        client_log = output("client-log")
        client_log.scroll_into_view_if_needed()
        expect(client_log).to_contain_text(" says ", timeout=30_000, use_inner_text=True)
        for hostile in HOSTILE:
            shows("client log (%flare cat)", client_log, CLIENT_LINE.format(site="site-1", round=0, line=hostile))
        observed.append(f"client log: {[ln for ln in text_of(client_log).splitlines() if ' says ' in ln]!r}")

        # Each job's meta (a dict, shown as text): its name as the dict's repr shows it.
        for i, cell in enumerate(nb.meta_cells):
            meta = cells.nth(cell).locator(".jp-OutputArea")
            meta.scroll_into_view_if_needed()
            shows(f"%flare meta of job {i}", meta, f"'name': {HOSTILE[i]!r}")

        # The server's own log: shown (nothing a job submitter controls reaches it on NVFlare 2.9).
        server_log = output("server-log")
        server_log.scroll_into_view_if_needed()
        expect(server_log).to_contain_text("Launch job_id", timeout=30_000, use_inner_text=True)
        observed.append(f"server log viewer: {text_of(server_log)[:300]!r} ...")

        # MathJax does typeset in this lab (the control cell), and typesets none of our strings.
        control = cells.nth(roles["mathjax-control"])
        control.scroll_into_view_if_needed()
        expect(control.locator(".jp-OutputArea mjx-container").first).to_be_attached(timeout=60_000)
        injected = page.evaluate(FIND_INJECTED, [INJECTED, [roles["mathjax-control"]]])
        for hit in injected:
            role = next((r for r, i in roles.items() if i == hit["cell"]), hit["cell"])
            problems.append(f"injected element in the output of cell {role!r} ({hit['selector']}): {hit['html']}")
        observed.append(f"injected elements in outputs: {injected!r}")
        if page.locator(INJECTED_IMAGE).count() or page.locator("svg[onload]").count():
            problems.append("an img with src x (as JupyterLab resolves it) or an svg[onload] exists in the page")
        problems.extend(script_ran(page, dialogs))

        page.screenshot(path=str(tmp_path / "injection-full.png"), full_page=True)
        shutil.copy(tmp_path / "injection-full.png", artifacts / "injection-full.png")
        for role in ("monitors", "jobs-panel", "jobs-frame", "job-log", "client-log"):
            output(role).scroll_into_view_if_needed()
            save_shot(output(role), tmp_path, artifacts, f"injection-{role}.png")

        # teardown: the notebook's last cell stops the embedded FLARE system; then the kernel is shut down
        cells.nth(teardown).click()
        run_menu(page, "Run Selected Cell")
        lab.wait_executed(cells.nth(teardown), EXECUTED, timeout=60)
        expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)
        wait_for(lambda: not lab.flare_processes(), timeout=60)
        lab.api("DELETE", f"/api/kernels/{kernel}", timeout=30)
        wait_for(lambda: lab.kernel_state(kernel) == "gone", timeout=30)
        problems.extend(p for p in script_ran(page, dialogs) if p not in problems)  # (nothing ran since?)
        assert not problems, "hostile strings that did not stay plain text:\n" + "\n".join(problems)
    finally:
        observed.extend(f"PROBLEM: {p}" for p in problems)
        observed.append(f"dialogs: {dialogs!r}")
        (artifacts / "injection-observed.txt").write_text("".join(f"{line}\n" for line in observed))
        try:
            page.screenshot(path=str(artifacts / "injection-last.png"), full_page=True)
        finally:
            page.close()
