"""A saved run report opened in a real browser (Debian's Chromium) with the network off.

The report is of a real run on an embedded FLARE system started for this module: a job whose name is hostile HTML
and whose site-2 raises in round 1, so the page holds metrics, a plot and a triage. The browser must render it from
the file alone (no request besides the file itself), show the plot (a PNG decoded from the page), and show the
hostile name as text: no element made of it, no script run, no dialog.
"""

from __future__ import annotations

import json

import pytest
from experiment_jobs import any_job, inside, write_client

import flare_jupyter as fj
from flare_jupyter.poc import PocSystem, free_ports
from flare_jupyter.runs import export

HOSTILE = "<img src=x onerror=window.__pwned=1;alert(1)>"


@pytest.fixture(scope="module")
def saved_report(tmp_path_factory):
    """(path of the saved report, the run): a failed run with a hostile name on an embedded system of its own (not the
    kernel's: this worker may run the integration tests' shared one, which must not be stopped here), stopped after."""
    base = tmp_path_factory.mktemp("report")
    system = PocSystem(base / "poc", 2, *free_ports(2))
    try:
        system.bring_up(120)
        fj.connect(system.kit)
        work = base / "work"
        write_client(work)
        with inside(work):
            folder = export(any_job("hostile", rounds=3, fail_site="site-2", fail_round=1), work / "export")
        meta_file = work / "export" / "hostile" / "meta.json"
        meta = json.loads(meta_file.read_text())
        meta["name"] = HOSTILE
        meta_file.write_text(json.dumps(meta))
        run = fj.submit(folder)
        assert run.wait(timeout=240) == fj.compat.MonitorReturnCode.JOB_FINISHED
        path = fj.report(run).save(base / "shared" / "report.html")
    finally:
        fj.disconnect()
        system.stop()
    return path, run


def test_a_saved_report_renders_offline_shows_its_plot_and_the_hostile_name_as_text(browser, saved_report, artifacts):
    path, run = saved_report
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        requests, dialogs = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(artifacts / "report.png"), full_page=True)

        title = f"Run {HOSTILE} ({run})"
        assert page.title() == title and page.locator("h1").inner_text() == title
        body = page.locator("body").inner_text()
        for heading in ("Run", "Timeline", "Settings", "Sites", "Metrics", "Triage"):
            assert page.locator("h2", has_text=heading).count() == 1
        assert "the failure started on site-2: RuntimeError: site-2 cannot train round 1" in body
        assert body.count(HOSTILE) >= 3  # the title, the header, the identity table: as text

        images = page.locator("img")
        assert images.count() == 1 and images.get_attribute("src").startswith("data:image/png;base64,")
        assert page.evaluate("() => { const i = document.querySelector('img'); return i.complete && i.naturalWidth }")

        assert page.evaluate("() => typeof window.__pwned") == "undefined" and not dialogs
        assert page.locator("script, [onerror], [onload], img[src='x']").count() == 0
        elsewhere = [u for u in requests if u != path.as_uri() and not u.startswith("data:")]
        assert not elsewhere, elsewhere
    finally:
        context.close()
