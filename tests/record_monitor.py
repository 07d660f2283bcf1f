"""Record what the live widgets ask a real NVFlare system while jobs run, for the widget unit tests.

    .venv/bin/python tests/record_monitor.py     # writes tests/recordings/widgets-<version>.json

Starts the embedded FLARE system and drives the real widgets on their own poller (ticked here, once a second)
through a job's whole lifecycle: two monitors and the jobs panel on a 3-round job (already running when they open),
a monitor on a job whose name is hostile HTML (submitted just before), the clients panel and the server log; then a
long job aborted through its monitor's button; then each job's whole server log once (what ``fj.metrics`` and the
Errors button read). Every call reaching NVFlare's ``Session`` is stored in order with its answer (a download into
a temporary folder with the text files it held), with the number of ticks of each phase, so the unit tests can
replay the same lifecycle tick by tick. Nothing is invented.

The poller chooses between status calls by what calls cost; here it runs on fixed costs (``recorded_costs``), the
same the replays use, so that both choose alike: a listing dearer than six ``get_job_meta`` calls, listed by the
jobs panel every third tick (at the 1 s interval it ticks at, which replays give their pollers too).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.job_list import CallCosts
from flare_jupyter.poller import Poller
from flare_jupyter.widgets import ClientsPanel, JobMonitor, JobsPanel, LogViewer
from record import HOSTILE, Recorder

OUT = Path(__file__).parent / "recordings"


def hostile_job(dest: Path) -> str:
    job = Path(fj.examples.hello_numpy(dest, num_rounds=1, name="hostile"))
    meta = json.loads((job / "meta.json").read_text())
    meta["name"] = HOSTILE
    (job / "meta.json").write_text(json.dumps(meta))
    return str(job)


def recorded_costs() -> CallCosts:
    """The call costs the recording's poller (and every replay of it) chooses by, in seconds."""
    return CallCosts({"list_jobs": 0.03, "get_job_meta": 0.005})


def lifecycle_widgets(poller, ids):
    """The widgets of phase 1 (the unit tests build the same ones, in the same order)."""
    return {
        "monitor_a": JobMonitor(ids["three_rounds"], poller=poller),
        "monitor_b": JobMonitor(ids["three_rounds"], poller=poller),
        "monitor_hostile": JobMonitor(ids["hostile"], poller=poller),
        "jobs": JobsPanel(poller=poller),
        "clients": ClientsPanel(poller=poller, every=0),
        "log": LogViewer("server", lines=20, follow=True, poller=poller),
    }


def tick_until(poller, done, timeout=150) -> int:
    ticks, deadline = 0, time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the recorded lifecycle did not end in time")
        poller.tick()
        ticks += 1
        time.sleep(1.0)
    return ticks


def panel_phase(poller, raw, ids) -> int:
    """Phase 3: a jobs panel on the finished jobs: its page, then filtered by name, then a clone of the 3-round job
    through its button (the clone is aborted and deleted afterwards, outside the recording)."""
    panel = JobsPanel(poller=poller)
    poller.tick()
    panel.name_filter.value = "hello"
    poller.tick()
    panel.select.value = ids["three_rounds"]
    panel.buttons["Clone"].click()
    poller.tick()  # the clone runs first, then the page is listed again
    clone = panel.message.rsplit(" ", 1)[-1]
    ids["clone"] = clone
    panel.close()
    raw.abort_job(clone)
    deadline = time.monotonic() + 60
    while not raw.get_job_meta(clone)["status"].startswith("FINISHED") and time.monotonic() < deadline:
        time.sleep(0.2)
    raw.delete_job(clone)
    return 3


def main() -> int:
    calls: list = []
    with tempfile.TemporaryDirectory() as tmp:
        system = fj.poc.start(workspace=Path(tmp) / "poc", connect=False)
        try:
            raw = compat.open_session(system.username, system.kit, True, 10.0)
            ks = fj.KernelSession(system.kit, system.username, raw=Recorder(raw, calls))
            poller = Poller(session_fn=lambda: ks, interval_fn=lambda: 1.0, autostart=False, costs=recorded_costs())
            ids = {"three_rounds": raw.submit_job(fj.examples.hello_numpy(Path(tmp) / "jobs", num_rounds=3))}
            deadline = time.monotonic() + 60
            while raw.get_job_meta(ids["three_rounds"])["status"] != "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.2)
            ids["hostile"] = raw.submit_job(hostile_job(Path(tmp) / "hostile"))
            calls.clear()  # the submissions are not part of what the widgets ask
            widgets = lifecycle_widgets(poller, ids)
            monitors = [m for k, m in widgets.items() if k.startswith("monitor")]
            phase1 = tick_until(poller, lambda: all(m.finished for m in monitors))
            for wdg in widgets.values():
                wdg.close()
            mark = len(calls)
            ids["aborted"] = raw.submit_job(fj.examples.hello_numpy(Path(tmp) / "long", num_rounds=40, name="long"))
            del calls[mark:]
            m = JobMonitor(ids["aborted"], poller=poller)
            before_abort = tick_until(poller, lambda: (m.progress.round or 0) >= 1)
            m.abort_button.click()
            m.confirm.yes.click()
            phase2 = tick_until(poller, lambda: m.finished)
            for job in ids.values():  # each job's whole server log, as fj.metrics and the Errors button read it
                ks.job_log(job, "server")
            panel_ticks = panel_phase(poller, raw, ids)
            raw.close()
        finally:
            system.stop()
    OUT.mkdir(exist_ok=True)
    out = OUT / f"widgets-{compat.NVFLARE_VERSION}.json"
    doc = {
        "nvflare": str(compat.NVFLARE_VERSION),
        "clients": system.clients,
        "jobs": ids,
        "ticks": {"lifecycle": phase1, "before_abort": before_abort, "after_abort": phase2, "panel": panel_ticks},
        "calls": calls,
    }
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(calls)} calls in {phase1} + {before_abort} + {phase2} + {panel_ticks} ticks into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
