"""The documentation's generated pages and its checks (docs/_ext): the references are complete for the code as it
is, and the checks refuse what a reader without a kernel could not read. The full build runs in scripts/docs.sh."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import flare_docs  # noqa: E402
import flare_reference as ref  # noqa: E402

from flare_jupyter import compat  # noqa: E402
from flare_jupyter.magics import TABLE  # noqa: E402

VIEW, STATE = flare_docs.VIEW, flare_docs.STATE
MODEL = "0123456789abcdef0123456789abcdef"


def test_the_side_by_side_page_has_a_row_for_every_operation():
    rows = flare_docs.side_by_side_rows()
    magics = " ".join(r[0] for r in rows)
    assert all(f"%flare {name}" in magics for name in TABLE.operations), "every %flare operation has a row"
    methods = {r[2].split(".")[-1] for r in rows}
    assert set(ref.seed_operations()) <= methods, "every FLARE API operation has a row"
    assert all(all(cell.strip() for cell in row) for row in rows)


def test_every_flare_api_method_names_its_admin_console_command():
    unknown = [m for m in ref.seed_operations() if ref.console_command(m).startswith("(not in")]
    assert not unknown
    assert ref.console_command("download_job_result") == "download_job"
    assert ref.console_command("tail_target_log") == "tail"
    assert ref.console_command("get_connected_client_list") == "check_status"
    assert ref.console_command("monitor_job") == "get_job_meta (repeated until the job ends)"


def test_the_operations_to_teach_follow_the_kernel_session():
    ops = ref.seed_operations()
    assert {"clone_job", "reset_errors", "shutdown_system", "do_app_command", "set_timeout"} <= set(ops)
    assert {"new_secure_session", "new_insecure_session", "basic_cb_with_print"} <= set(ops)
    assert "job_log" not in ops and "summary" not in ops  # flare-jupyter's own additions are not NVFlare's API
    if compat.HAS_SERVICE_PROVIDERS is False:
        assert "list_sp" in ops  # kept on every release, so taught


def test_a_magic_counts_only_when_it_makes_the_session_call():
    assert ref.magic_for("list_jobs").name == "list_jobs"
    assert ref.magic_for("monitor_job") is None  # the widget, not NVFlare's blocking monitor
    assert ref.magic_for("connect") is None  # ours, not NVFlare's


def test_the_python_call_of_an_operation_is_read_from_its_handler():
    assert ref.python_call(TABLE.lookup("check_kit")) == "fj.check_kit(...)"
    assert ref.python_call(TABLE.lookup("jobs_panel")) == "fj.jobs_panel(...)"
    assert ref.python_call(TABLE.lookup("session")) == "fj.session()"
    assert ref.python_call(TABLE.lookup("abort")) == "fj.session().abort_job(job_id)"


# -- the checks around the build --------------------------------------------------------------------------------
def notebook(path: Path, code: list[str], outputs=None, state=None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T")] + [nbformat.v4.new_code_cell(c) for c in code]
    if outputs is not None:
        nb.cells[1].outputs = outputs
    if state is not None:
        nb.metadata["widgets"] = {STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    nbformat.write(nb, path)
    return path


def widget_output():
    return nbformat.v4.new_output("display_data", data={VIEW: {"model_id": MODEL}, "text/plain": "w"})


def test_an_executed_copy_that_is_current_and_complete_is_accepted(tmp_path):
    source = notebook(tmp_path / "01.ipynb", ["x = 1"])
    done = notebook(tmp_path / "01x.ipynb", ["x = 1"], [widget_output()], {MODEL: {"model_name": "HTMLModel"}})
    assert flare_docs.problems_of_executed(source, done) == []


@pytest.mark.parametrize(
    "code, outputs, state, problem",
    [
        (["x = 2"], [], {}, "is stale"),
        (["x = 1"], [nbformat.v4.new_output("error", ename="KeyError", evalue="", traceback=[])], {}, "failed"),
        (["x = 1"], [widget_output()], {}, "state was not saved"),
    ],
)
def test_an_executed_copy_a_reader_could_not_use_is_refused(tmp_path, code, outputs, state, problem):
    source = notebook(tmp_path / "01.ipynb", ["x = 1"])
    done = notebook(tmp_path / "01x.ipynb", code, outputs, state)
    found = flare_docs.problems_of_executed(source, done)
    assert len(found) == 1 and problem in found[0]
    assert "no executed copy" in flare_docs.problems_of_executed(source, tmp_path / "missing.ipynb")[0]


def page(html: Path, name: str, state: dict, views: list[str], tables: int = 0) -> None:
    (html / "notebooks").mkdir(parents=True, exist_ok=True)
    body = f'<script type="{STATE}">{json.dumps({"state": state})}</script>' if state else ""
    body += "".join(f'<script type="{VIEW}">{json.dumps({"model_id": v})}</script>' for v in views)
    body += "<table class='dataframe'></table>" * tables
    (html / "notebooks" / f"{name}.html").write_text(f"<html><head></head><body>{body}</body></html>")


def test_a_built_page_must_hold_the_widget_state_its_views_need(tmp_path):
    notebooks, html = tmp_path / "nb", tmp_path / "html"
    notebooks.mkdir()
    notebook(notebooks / "01_x.ipynb", ["w"], [widget_output()])
    child = "f" * 32
    page(html, "01_x", {MODEL: {"state": {"children": [f"IPY_MODEL_{child}"]}}}, [MODEL])
    assert any(child in p for p in flare_docs.site_problems(html, notebooks))  # a child model is missing
    page(html, "01_x", {MODEL: {"state": {"children": [f"IPY_MODEL_{child}"]}}, child: {"state": {}}}, [MODEL])
    assert flare_docs.site_problems(html, notebooks) == []
    page(html, "01_x", {}, [MODEL])
    assert "without saved state" in " ".join(flare_docs.site_problems(html, notebooks))
    page(html, "01_x", {MODEL: {"state": {}}}, [])
    assert "0 widget views, its notebook has 1" in " ".join(flare_docs.site_problems(html, notebooks))
