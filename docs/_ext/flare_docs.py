"""The Sphinx side of flare-jupyter's documentation.

* Before reading: the notebooks the test run executed (``notebooks/executed/``, with outputs and the widgets' saved
  state) are checked and copied into ``docs/notebooks/``; the browser tests' widget screenshots into
  ``docs/screenshots/``. Nothing is executed here. A notebook without an executed copy, a copy older than its
  notebook (its code cells differ), a copy with an error output or a widget without saved state fails the build
  with one line saying what to run.
* Directives: ``flare-magics`` (the ``%flare`` reference, from ``flare_jupyter.magics.TABLE`` and its parsers'
  own help) and ``flare-side-by-side`` (``%flare`` command, Python call, NVFlare Session method, admin console
  command), generated at every build, so they cannot go stale.
* After the build (``python docs/_ext/flare_docs.py --after docs/_build/html``, run by scripts/docs.sh): every
  built notebook page is read back and must hold the widget state and a view for each widget output (what lets a
  reader without a kernel see the widgets), and the DataFrames and figures its notebook has.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import flare_reference as ref
import nbformat
from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

from flare_jupyter.magics import TABLE

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = NOTEBOOKS / "executed"
SCREENSHOTS = ROOT / "tests" / "browser" / "artifacts" / "widgets"
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
#: The widget screenshots the widgets page shows (tests/browser/test_screenshots.py takes them).
WIDGET_SHOTS = ["monitor", "jobs_panel", "clients_panel", "log_viewer", "dashboard", "fedstats_explorer"]
RUN_THE_TESTS = "bash scripts/test.sh tests/notebooks tests/browser"


# -- the executed notebooks and the screenshots ---------------------------------------------------------------------
def _code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def problems_of_executed(source: Path, executed: Path) -> list[str]:
    """Why the executed copy of ``source`` cannot be published (empty when it can)."""
    if not executed.is_file():
        return [f"{source.name} has no executed copy in notebooks/executed/"]
    nb, copy = nbformat.read(source, as_version=4), nbformat.read(executed, as_version=4)
    if _code_sources(nb) != _code_sources(copy):
        return [f"notebooks/executed/{source.name} is stale: its code cells differ from notebooks/{source.name}"]
    found = []
    state = copy.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    for i, cell in enumerate(copy.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{source.name} cell {i} failed ({out.get('ename')})")
            view = out.get("data", {}).get(VIEW)
            if view and view.get("model_id") not in state:
                found.append(f"{source.name} cell {i} shows a widget whose state was not saved")
    return found


def input_problems() -> list[str]:
    """Why the site cannot be built from what the tests left (executed notebooks, screenshots); empty if it can."""
    problems = [p for s in _sources() for p in problems_of_executed(s, EXECUTED / s.name)]
    missing = [s for s in _shots() if not s.is_file()]
    problems += [f"the screenshot {s.name} is missing from {s.parent.relative_to(ROOT)}/" for s in missing]
    return problems


def _sources() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def _shots() -> list[Path]:
    return [SCREENSHOTS / f"{name}.png" for name in WIDGET_SHOTS]


def copy_executed(app) -> None:
    """Check and copy the executed notebooks and the screenshots into the source tree (both git-ignored)."""
    problems = input_problems()
    if problems:
        raise ExtensionError("; ".join(problems) + f". Run the tests that make them first: {RUN_THE_TESTS}")
    srcdir = Path(app.srcdir)
    copies = [EXECUTED / s.name for s in _sources()]
    for folder, files in ((srcdir / "notebooks", copies), (srcdir / "screenshots", _shots())):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for f in files:
            shutil.copy2(f, folder / f.name)


# -- the %flare reference --------------------------------------------------------------------------------------------
def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


def _section(doc: SphinxDirective, title: str, anchor: str) -> nodes.section:
    section = nodes.section(ids=[nodes.make_id(anchor)])
    section += nodes.title(title, title)
    return section


class FlareMagics(SphinxDirective):
    """Every ``%flare`` operation, grouped as ``%flare help`` groups them: summary, aliases, its parser's help."""

    def run(self):
        out = []
        for group in TABLE.groups:
            section = _section(self, group.title, f"group-{group.name}")
            for op in group.operations:
                entry = _section(self, f"%flare {op.name}", f"flare-{op.name}")
                entry += nodes.paragraph(text=op.summary)
                if op.aliases:
                    entry += nodes.paragraph(text="Aliases: " + ", ".join(f"%flare {a}" for a in op.aliases))
                method = ref.magic_for(op.name)
                if method is not None:
                    entry += nodes.paragraph(text=f"Calls NVFlare's Session.{op.name} (Python: {ref.python_call(op)}).")
                else:
                    entry += nodes.paragraph(text=f"Python: {ref.python_call(op)}")
                entry += _literal(op.parser.format_help().replace("usage: ", "", 1))
                section += entry
            out.append(section)
        cells = _section(self, "Cell magics", "group-cell-magics")
        for usage, what in CELL_MAGICS:
            cells += nodes.paragraph(text=f"{usage}: {what}")
        out.append(cells)
        return out


CELL_MAGICS = [
    (
        "%%flare_cat TARGET [--options OPTS]",
        "cat every file named in the cell (one per line) from TARGET (NVFlare's Session.cat_target).",
    ),
    (
        "%%flare_app_command JOB TOPIC",
        "send the cell's JSON as the command data to a running job's app; returns its answer "
        "(NVFlare's Session.do_app_command).",
    ),
]


# -- %flare, Python, NVFlare, admin console side by side -----------------------------------------------------------
def side_by_side_rows() -> list[tuple[str, str, str, str]]:
    """(%flare command, Python call, NVFlare Session method, admin console command), one row per operation of the
    FLARE API, then the operations flare-jupyter adds."""
    rows = []
    for method in ref.seed_operations():
        op, named = ref.magic_for(method), TABLE.operations.get(method)
        if op is not None:
            magic = _with_aliases(op)
        elif named is not None:  # %flare monitor_job: the live widget; --wait blocks as NVFlare's call does
            magic = f"{_with_aliases(named)}   (a live widget; --wait blocks like this call)"
        else:
            magic = _magic_alternative(method)
        if method in ref.module_functions():
            python = f"fj.{method}(...)"
            nvflare = f"flare_api.{method}"
        else:
            python = f"fj.session().{method}({', '.join(ref.parameters(method))})"
            nvflare = f"Session.{method}"
        rows.append((magic, python, nvflare, ref.console_command(method)))
    for op in TABLE.operations.values():
        if op.name not in ref.seed_operations():
            rows.append((_with_aliases(op), ref.python_call(op), "(flare-jupyter)", "(none)"))
    return rows


#: FLARE API operations without their own %flare operation, and what to use in a notebook instead.
MAGIC_ALTERNATIVES = {
    "monitor_job_and_return_job_meta": "%flare monitor JOB --wait, then %flare meta JOB",
    "wait_for_job": "%flare monitor JOB --wait",
    "get_job_status": "%flare meta JOB",
    "get_job_logs": "%flare logs JOB",
    "new_secure_session": "%flare connect KIT",
    "new_insecure_session": "%flare connect KIT --insecure",
    "close": "%flare disconnect",
}


def _with_aliases(op) -> str:
    aliases = f"   (also: {', '.join(op.aliases)})" if op.aliases else ""
    return ref.usage(op) + aliases


def _magic_alternative(method: str) -> str:
    return MAGIC_ALTERNATIVES.get(method, "(Python only)")


class FlareSideBySide(SphinxDirective):
    """The side-by-side table."""

    def run(self):
        header = ("%flare command", "Python call", "NVFlare Session method", "admin console command")
        table = nodes.table(classes=["side-by-side"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (30, 30, 20, 20):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(header)
        group += head
        body = nodes.tbody()
        for row in side_by_side_rows():
            body += _row(row, literal=True)
        group += body
        return [table]


def _row(cells, literal: bool = False) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        para = nodes.paragraph()
        if literal and not text.startswith("("):
            para += nodes.literal(text, text)
        else:
            para += nodes.Text(text)
        entry += para
        row += entry
    return row


# -- after the build: the pages hold what a reader without a kernel needs ------------------------------------------
class _Scripts(HTMLParser):
    """The widget state and widget views embedded in a built page, its tables and images."""

    def __init__(self):
        super().__init__()
        self.state: dict = {}
        self.views: list[str] = []
        self.tables = 0
        self.images = 0
        self._in: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("type") in (VIEW, STATE):
            self._in, self._text = attrs["type"], []
        elif tag == "table" and "dataframe" in (attrs.get("class") or ""):
            self.tables += 1
        elif tag == "img":
            self.images += 1

    def handle_data(self, data):
        if self._in:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in:
            payload = json.loads("".join(self._text))
            if self._in == STATE:
                self.state = payload.get("state", {})
            else:
                self.views.append(payload.get("model_id"))
            self._in = None


def _expected(nb) -> tuple[int, int, int]:
    """(widget views, DataFrames, figures) among a notebook's outputs."""
    views = tables = figures = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            views += VIEW in data
            tables += "dataframe" in str(data.get("text/html", "")) and VIEW not in data
            figures += "image/png" in data and VIEW not in data
    return views, tables, figures


def site_problems(html: Path, notebooks: Path) -> list[str]:
    """Why built notebook pages would not show a reader without a kernel what their notebooks hold: each page
    must embed the widget state with a view per widget output (and every model they refer to), and at least as
    many DataFrames and images as its notebook has."""
    problems = []
    for nb_path in sorted(notebooks.glob("*.ipynb")):
        page = html / "notebooks" / f"{nb_path.stem}.html"
        if not page.is_file():
            problems.append(f"{page} was not built")
            continue
        seen = _Scripts()
        seen.feed(page.read_text(encoding="utf-8"))
        views, tables, figures = _expected(nbformat.read(nb_path, as_version=4))
        name = page.relative_to(html)
        if len(seen.views) != views:
            problems.append(f"{name}: {len(seen.views)} widget views, its notebook has {views}")
        missing = [m for m in seen.views if m not in seen.state] + _missing_children(seen.state)
        if missing:
            problems.append(f"{name}: widget models without saved state: {', '.join(missing[:5])}")
        if seen.tables < tables:
            problems.append(f"{name}: {seen.tables} DataFrames, its notebook has {tables}")
        if seen.images < figures:
            problems.append(f"{name}: {seen.images} images, its notebook has {figures} figures")
    return problems


def _missing_children(state: dict) -> list[str]:
    """Models referred to (``IPY_MODEL_<id>``) by saved widget states but not saved themselves."""
    refs = set(re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(state)))
    return sorted(refs - set(state))


def setup(app):
    app.connect("builder-inited", copy_executed)
    app.add_directive("flare-magics", FlareMagics)
    app.add_directive("flare-side-by-side", FlareSideBySide)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str]) -> int:
    """``--before``: can the site be built from what the tests left? ``--after HTML``: do the built pages show
    everything without a kernel? One line per problem (scripts/docs.sh runs both around sphinx-build)."""
    if argv[:1] == ["--before"]:
        problems = input_problems()
        hint = f"run the tests that make them first: {RUN_THE_TESTS}"
    elif argv[:1] == ["--after"] and len(argv) == 2:
        problems = site_problems(Path(argv[1]), Path(__file__).resolve().parents[1] / "notebooks")
        hint = "the pages above would show blank widgets or miss outputs"
    else:
        print("usage: flare_docs.py --before | --after HTML_DIR", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    if problems:
        print(f"docs: {hint}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
