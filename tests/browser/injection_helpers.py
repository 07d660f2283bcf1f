"""The notebook of the injection test (``test_injection.py``), generated at run time into the lab's root folder.

Five jobs whose names are hostile strings (HTML, an attribute break-out, markdown and LaTeX, a JS template), one of
which (``CUSTOM_LOG_JOB``) runs a client script that prints every hostile string into the site's job log and, from
round 1 on, reports metrics keyed by them: the server's model selector then logs
``validation metric `accuracy` not in metrics from site-N: [<the keys>]`` into the job's server log. (On NVFlare
2.9 nothing a job submitter controls reaches the server's own log.txt: job names are not logged there, admin
commands with hostile arguments are rejected or not logged, and app names are checked against a strict pattern.)

Every view of those strings is shown: a monitor per job, the jobs panel, the server log viewer, the job's log
viewer, ``%flare jobs``, ``%flare meta``, ``%flare logs``, the client's job log (``%flare cat``) and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

#: Job names; each must show as this exact text wherever it appears.
HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '"><svg onload="window.__pwned=3">',
    r"$\alpha$ **b** [x](javascript:window.__pwned=4)",  # <= 50 characters: pandas cuts longer cells with "..."
    "${window.__pwned=5}",
    "\u202ertl-override-name",  # a RIGHT-TO-LEFT OVERRIDE: it must not reorder the rest of the monitor's header
]
#: The job whose name starts with U+202E (its monitor's header keeps id, status and time in reading order).
RTL_JOB = len(HOSTILE) - 1
#: The job whose client prints hostile lines and reports metrics keyed by them (2 rounds: the model selector
#: skips round 0).
CUSTOM_LOG_JOB = 2
#: The selector's warning names the metric keys as a Python list: each key shows as its repr.
SERVER_LOG_FORMS = [repr(h) for h in HOSTILE]

CLIENT_SCRIPT = f'''"""hello-numpy client that prints hostile lines and reports metrics keyed by hostile strings."""

import numpy as np
import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel

HOSTILE = {HOSTILE!r}

flare.init()
site = flare.get_site_name()
while flare.is_running():
    model = flare.receive()
    params = {{k: np.asarray(v) + 1.0 for k, v in model.params.items()}}
    current_round = model.current_round or 0
    for line in HOSTILE:
        print(f"{{site}} round {{current_round}} says {{line}}")
    metrics = {{"accuracy": 0.5}} if current_round == 0 else {{h: 0.5 for h in HOSTILE}}
    flare.send(FLModel(params=params, metrics=metrics, meta={{"NUM_STEPS_CURRENT_ROUND": 1}}))
'''

CLIENT_LINE = "{site} round {round} says {line}"  # what the client prints, as its log shows it


@dataclass
class InjectionNotebook:
    """The generated notebook and where each view sits in it (cell positions)."""

    path: Path
    cells: dict[str, int] = field(default_factory=dict)  # role -> cell index
    code_cells: list[int] = field(default_factory=list)
    meta_cells: list[int] = field(default_factory=list)  # one ``%flare meta`` per job, in HOSTILE's order

    @property
    def n_cells(self) -> int:
        return len(nbformat.read(self.path, as_version=4).cells)


def write_notebook(folder: Path, name: str = "injection.ipynb") -> InjectionNotebook:
    """Write the notebook into ``folder`` (the lab's root): setup, jobs, every view, a MathJax control, teardown."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = InjectionNotebook(path=folder / name)

    def add(role: str | None, source: str, kind: str = "code") -> int:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if role:
            cell.metadata["tags"] = [role]
        nb.cells.append(cell)
        index = len(nb.cells) - 1
        if role:
            out.cells[role] = index
        if kind == "code":
            out.code_cells.append(index)
        return index

    add(None, "# Injection safety\nJob names and log lines that are HTML, markdown or LaTeX must show as text.", "md")
    add("setup", "%load_ext flare_jupyter\nimport flare_jupyter as fj\n\n%config FlareMagics.poll_interval = 1.0")
    add("start", "system = fj.poc.start()\nsystem")
    add(
        "write-jobs",
        f"""import json
from pathlib import Path

HOSTILE = {HOSTILE!r}
CUSTOM_LOG_JOB = {CUSTOM_LOG_JOB}
CLIENT_SCRIPT = {CLIENT_SCRIPT!r}

folders = []
for i, hostile_name in enumerate(HOSTILE):
    rounds = 2 if i == CUSTOM_LOG_JOB else 1
    folder = Path(fj.examples.hello_numpy(system.workspace / "jobs", num_rounds=rounds, name=f"hostile-{{i}}"))
    meta = json.loads((folder / "meta.json").read_text())
    meta["name"] = hostile_name
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    if i == CUSTOM_LOG_JOB:
        (script,) = folder.glob("**/custom/client.py")
        script.write_text(CLIENT_SCRIPT)
    folders.append(str(folder))
len(folders)""",
    )
    job_vars = ", ".join(f"job_{i}" for i in range(len(HOSTILE)))
    add(
        "submit",
        f"job_ids = [fj.session().submit_job(folder) for folder in folders]\n{job_vars} = job_ids\njob_ids",
    )
    add("monitors", "monitors = [fj.monitor(job) for job in job_ids]\nfor m in monitors:\n    display(m)")
    add("jobs-panel", "panel = fj.jobs_panel()\npanel")
    add("wait", "[str(m.wait(timeout=150)) for m in monitors], [m.status for m in monitors]")
    add("server-log", 'fj.log_viewer("server", lines=200)')
    add("job-log", f'fj.log_viewer("server", job=job_{CUSTOM_LOG_JOB})')
    add("jobs-frame", "%flare jobs")
    for i in range(len(HOSTILE)):
        out.meta_cells.append(add(f"meta-{i}", f"%flare meta $job_{i}"))
    add("logs-text", f"%flare logs $job_{CUSTOM_LOG_JOB}")
    add("client-log", f"%flare cat site-1 --file {{job_{CUSTOM_LOG_JOB}}}/log.txt")
    add("dashboard", "fj.dashboard()")
    add("mathjax-control", 'from IPython.display import Math\n\nMath(r"\\gamma_{\\mathrm{control}}")')
    add("teardown", "fj.poc.stop()")
    nbformat.write(nb, out.path)
    return out


def run_menu(page, item: str) -> None:
    """Run > ``item``, as a user clicks it."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()  # (its role name has the shortcut)
