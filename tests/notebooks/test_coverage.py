"""Every operation of the FLARE API is taught by the notebooks: across notebooks/[0-9]*.ipynb, each method that
``KernelSession`` mirrors from NVFlare's ``Session`` (and each re-exported module function: new_secure_session,
new_insecure_session, basic_cb_with_print) is really called in a code cell, as Python (``fj.session().clone_job(j)``)
or through the ``%flare`` operation that makes that call, and the markdown cell just above that code cell names it
(the sentence on when to use it and what comes back). test_notebooks.py runs those cells and fails on any error, so
a call counted here is a call that worked."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
from flare_reference import magic_for, module_functions, seed_operations  # noqa: E402

from flare_jupyter.magics import TABLE  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
#: Cell magics and the Session method each one calls.
CELL_MAGICS = {"flare_cat": "cat_target", "flare_app_command": "do_app_command"}


@dataclass
class Use:
    """One operation used in one code cell: how (the names a reader would look for in the prose above it)."""

    operation: str
    names: set[str] = field(default_factory=set)


def uses_in(source: str) -> list[Use]:
    """The FLARE API operations a code cell calls (magics included), parsed, never run."""
    code = TransformerManager().transform_cell(source)
    seed, functions = set(seed_operations()), set(module_functions())
    found: list[Use] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            found.extend(_magic_uses(node))
            if node.func.attr in seed - functions:
                found.append(Use(node.func.attr, {node.func.attr}))
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if name in functions:  # new_secure_session(...) is called; basic_cb_with_print is handed over as cb
            found.append(Use(name, {name}))
    return found


def _magic_uses(call: ast.Call) -> list[Use]:
    """``get_ipython().run_line_magic('flare', 'OP ...')`` / ``run_cell_magic('flare_cat', ...)``."""
    texts = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if call.func.attr == "run_line_magic" and len(texts) >= 2 and texts[0] == "flare" and texts[1].split():
        word = texts[1].split()[0]
        try:
            op = TABLE.lookup(word)
        except Exception:
            return []
        return [Use(op.name, {op.name, *op.aliases})] if magic_for(op.name) else []
    if call.func.attr == "run_cell_magic" and texts and texts[0] in CELL_MAGICS:
        return [Use(CELL_MAGICS[texts[0]], {CELL_MAGICS[texts[0]], texts[0]})]
    return []


def taught(notebooks: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """({operation: where it is taught}, {operation: where it is called without a sentence naming it above})."""
    where, unexplained = {}, {}
    for path in notebooks:
        prose = ""
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                prose = cell.source
                continue
            if cell.cell_type != "code":
                continue
            for use in uses_in(cell.source):
                place = f"{path.name} cell {i}"
                if any(name in prose for name in use.names):
                    where.setdefault(use.operation, place)
                else:
                    unexplained.setdefault(use.operation, place)
    return where, unexplained


def test_every_flare_api_operation_is_taught_in_a_cell_that_runs_it():
    where, unexplained = taught(NOTEBOOKS)
    missing = [op for op in seed_operations() if op not in where]
    detail = [
        f"{op} (called in {unexplained[op]}, but the markdown above it does not name it)" if op in unexplained else op
        for op in missing
    ]
    assert not missing, f"{len(missing)} FLARE API operations are not taught by notebooks/: " + ", ".join(detail)


def test_shutdown_system_ends_a_notebook_that_owns_its_embedded_system():
    ends = []
    for path in NOTEBOOKS:
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        starts = any("fj.poc.start(" in c.source or "%flare poc start" in c.source for c in cells)
        if starts and cells and any(u.operation == "shutdown_system" for u in uses_in(cells[-1].source)):
            ends.append(path.name)
    assert ends, "no notebook that starts its embedded system ends with shutdown_system"


# -- the parser itself, on cells written here ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source, operations",
    [
        ("%flare jobs --limit 5", ["list_jobs"]),
        ("job = %flare submit $folder", ["submit_job"]),
        ("%flare monitor $job --wait", []),  # the widget, not NVFlare's blocking monitor_job
        ("fj.session().monitor_job(job, cb=fj.basic_cb_with_print, cb_run_counter={'count': 0})", None),
        ("%%flare_cat server\nlog.txt", ["cat_target"]),
        ('%%flare_app_command $job progress\n{"detail": true}', ["do_app_command"]),
        ("s = fj.new_secure_session('admin@nvidia.com', kit)", ["new_secure_session"]),
        ("# fj.session().clone_job(job)\nprint('clone_job')", []),  # comments and strings teach nothing
        ("%flare nosuchop", []),
    ],
)
def test_the_parser_finds_what_a_cell_calls(source, operations):
    found = [u.operation for u in uses_in(source)]
    if operations is None:
        assert sorted(set(found)) == ["basic_cb_with_print", "monitor_job"]
    else:
        assert found == operations


def test_a_call_without_a_sentence_above_it_is_not_taught(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Clone a job with `clone_job`: it returns the new job's id."),
        nbformat.v4.new_code_cell("new = fj.session().clone_job(job)"),
        nbformat.v4.new_markdown_cell("Now something else."),
        nbformat.v4.new_code_cell("fj.session().delete_job(new)"),
    ]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    where, unexplained = taught([path])
    assert where == {"clone_job": "01_x.ipynb cell 1"}
    assert unexplained == {"delete_job": "01_x.ipynb cell 3"}
