"""Experiments end to end on the real embedded system: runs from a recipe, a FedJob and a folder; metrics equal to
NVFlare's own ``round_metrics.jsonl`` while the job runs and after it ended (the server log, labelled so, where the
release writes none); ``await run``; re-attaching from a fresh kernel; compare; triage of a run that failed at one
site (also in the live monitor); a saved report. On both releases (recipes where the release has them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from experiment_jobs import CLIENT, FAIL_LINE, any_job, fed_job, inside, recipe, write_client
from live_jobs import CLIENTS, UUID, usage_error_line
from matplotlib.figure import Figure

import flare_jupyter as fj
from flare_jupyter import analysis, compat
from flare_jupyter.metrics import AGGREGATED, ROUND_METRICS, ROUND_METRICS_READABLE
from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAIL_ROUND = 1  # the round the failing run raises in, at site-2
FAIL_LINE_NUMBER = next(i for i, line in enumerate(CLIENT.splitlines(), 1) if FAIL_LINE in line)
#: The metrics' source on this release: NVFlare's records, or (nvflare 2.5) the server log.
RECORDS = compat.HAS_METRICS_ARTIFACT
needs_recipes = pytest.mark.skipif(
    compat.NumpyFedAvgRecipe is None, reason=f"nvflare {compat.NVFLARE_VERSION} has no job recipes (2.7+)"
)


def artifact_rows(jsonl: str) -> list[tuple]:
    """NVFlare's records read the plain way: each line's sites' metrics in order, then its aggregated ones."""
    rows = []
    for line in jsonl.splitlines():
        record = json.loads(line)
        for site in record["sites"]:
            rows += [(record["round"], site["name"], m["name"], m["value"]) for m in site["metrics"]]
        rows += [(record["round"], AGGREGATED, m["name"], m["value"]) for m in record["aggregated_metrics"]]
    return rows


def rows(frame) -> list[tuple]:
    return list(frame.itertuples(index=False, name=None))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The experiment's folder: the client script, where recipes are built and submitted from."""
    folder = tmp_path_factory.mktemp("experiment")
    write_client(folder)
    return folder


def submit(work: Path, make, *args, **settings) -> fj.Run:
    """``make(*args, **settings)`` (a recipe or a FedJob, built in the experiment's folder, where its script is)
    submitted with ``fj.submit``."""
    with inside(work):
        return fj.submit(make(*args, **settings))


def finished(run: fj.Run, timeout: float = 240) -> str:
    assert run.wait(timeout=timeout) == compat.MonitorReturnCode.JOB_FINISHED
    return run.status


def connected(poc_system) -> None:
    """What the ``live`` fixture does, for the module's fixtures (``live`` is per test)."""
    s = fj.current()
    if s is None or s.kit != poc_system.kit:
        fj.connect(poc_system.kit)


@pytest.fixture(scope="module")
def two_runs(poc_system, work):
    """Two finished runs of the same job with different settings (learning rate, rounds)."""
    connected(poc_system)
    a = submit(work, any_job, "exp-a", rounds=3, lr=0.1)
    b = submit(work, any_job, "exp-b", rounds=4, lr=0.2)
    assert finished(a) == finished(b) == "FINISHED:COMPLETED"
    return a, b


def stats_answer(run) -> bool:
    try:
        return isinstance(fj.session().show_stats(run.job_id, "server"), dict)
    except Exception:  # "not running" before its job process is up, or the error answer
        return False


@pytest.fixture(scope="module")
def failed_run(poc_system, work):
    """A run whose client raises in round 1 at site-2 only, watched by a live monitor from its start, its server
    asked ``show_stats`` from the moment it was submitted: NVFlare's server job process answers those that reach it
    before its engine is ready with an ERROR in the job's log, which the triage must not take for the origin."""
    connected(poc_system)
    run = submit(work, any_job, "exp-failing", rounds=3, lr=0.1, fail_site="site-2", fail_round=FAIL_ROUND)
    wait_for(lambda: stats_answer(run), timeout=120, interval=0.02)
    monitor = run.monitor()
    assert monitor.wait(timeout=240) == compat.MonitorReturnCode.JOB_FINISHED
    yield run, monitor
    monitor.close()


# -- metrics: NVFlare's records, while running and after ----------------------------------------------------------
def server_file(poc_system, job: str, path: str) -> Path:
    return poc_system.prod_dir / "server" / job / path


def tail_offsets(poc_system, job: str) -> list[int]:
    """The byte offsets of every ``tail -c +N`` of the job's readable records the server's audit log recorded."""
    audit = (poc_system.prod_dir / "server" / "audit.log").read_text()
    found = re.findall(rf"tail server -c \+(\d+) {re.escape(job)}/{re.escape(ROUND_METRICS_READABLE)}", audit)
    return [int(n) - 1 for n in found]


def test_metrics_equal_nvflares_records_row_for_row_while_running_and_after(live, poc_system, work, tmp_path):
    hold = tmp_path / "let-it-go"
    run = submit(work, any_job, "exp-held", rounds=3, lr=0.1, hold_file=str(hold))
    try:
        if RECORDS:
            # rounds 0 and 1 done, round 2 held: the records read so far are the server's file, row for row
            (m,) = wait_for(lambda: [f for f in [fj.metrics(run)] if f["round"].nunique() == 2], timeout=180)
            assert run.status == "RUNNING"
            on_disk = server_file(poc_system, run, ROUND_METRICS).read_text()
            assert rows(m) == artifact_rows(on_disk) and len(on_disk.splitlines()) == 2
            assert m.source == analysis.FROM_RUNNING_JOB and m.summary == {}
            assert {"accuracy", "train_loss"} == set(m["metric"]) and set(m["site"]) == CLIENTS | {AGGREGATED}
            assert rows(fj.metrics(run)) == rows(m)
            offsets = tail_offsets(poc_system, run)  # as the server's audit log recorded our reads
            assert offsets[-1] == len(on_disk.encode())  # the last read asked only for what came after
            assert sorted(offsets) == offsets  # no read went back to bytes already read
        else:
            (m,) = wait_for(lambda: [f for f in [fj.metrics(run)] if len(f)], timeout=180)
            assert run.status == "RUNNING" and m.source == analysis.NO_ARTIFACT_RELEASE
            assert set(m["site"]) <= CLIENTS and set(m["metric"]) == {"accuracy"}
    finally:
        hold.write_text("go")
    assert finished(run) == "FINISHED:COMPLETED"
    after = fj.metrics(run)
    result = Path(run.result(tmp_path / "result")) / "workspace"
    if RECORDS:
        assert rows(after) == artifact_rows((result / ROUND_METRICS).read_text())
        assert after["round"].max() == 2 and after.source == analysis.FROM_RESULT
        assert after.summary == json.loads((result / "metrics/metrics_summary.json").read_text())
    else:
        assert not (result / ROUND_METRICS).exists() and after.source == analysis.NO_ARTIFACT_RELEASE
        log_rounds = [int(r) for r in re.findall(r"Round (\d+) started", (result / "log.txt").read_text())]
        assert set(after["round"]) <= set(log_rounds) and set(after["site"]) == CLIENTS


def test_flare_metrics_is_fj_metrics(live, flare, two_runs):
    a, _ = two_runs
    shown = flare(f"metrics {a}")
    assert rows(shown) == rows(fj.metrics(a)) and shown.source == fj.metrics(a).source


# -- runs: a recipe, a FedJob, a folder -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    [pytest.param("recipe", marks=needs_recipes), "fedjob", "folder"],
)
def test_a_run_from_a_recipe_a_fedjob_or_a_folder(live, poc_system, work, jobs_dir, kind):
    if kind == "recipe":
        run = submit(work, recipe, "exp-recipe", rounds=2)
    elif kind == "fedjob":
        run = submit(work, fed_job, "exp-fedjob", rounds=2)
    else:
        run = fj.submit(fj.examples.hello_numpy(jobs_dir / "exp-folder", num_rounds=2, name="exp-folder"))
    assert isinstance(run, fj.Run) and UUID.match(run) and run.job_id == str(run)
    folder = Path(run.folder)
    assert (folder / "meta.json").is_file()
    if kind != "folder":  # exported into the system's workspace, a folder per submission, kept
        assert folder.parent.parent == poc_system.workspace / "submissions"
    assert finished(run) == "FINISHED:COMPLETED" and run.status == "FINISHED:COMPLETED"
    assert run.name == json.loads((folder / "meta.json").read_text())["name"]
    m = run.metrics
    assert len(m) and set(CLIENTS) <= set(m["site"])
    if not RECORDS:
        assert m.source == analysis.NO_ARTIFACT_RELEASE
    elif kind == "fedjob":  # a plain FedJob has no NVFlare metrics writer: its server log
        assert m.source == analysis.NO_WRITER and run.summary == {}
    else:
        assert m.source == analysis.FROM_RESULT and run.summary["final_round"] == 1


def test_await_run_leaves_the_event_loop_free(live, work):
    run = submit(work, any_job, "exp-awaited", rounds=2)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.create_task(ticker())
        code = await run
        task.cancel()
        return code, ticks

    code, ticks = asyncio.run(main())
    assert code == compat.MonitorReturnCode.JOB_FINISHED and run.status.startswith("FINISHED")
    assert ticks > 20  # the loop ran other work all along


def test_wait_with_a_timeout_returns_timeout_while_the_job_runs(live, work, tmp_path):
    hold = tmp_path / "go"
    run = submit(work, any_job, "exp-timeout", rounds=3, hold_file=str(hold))
    try:
        assert run.wait(timeout=1) == compat.MonitorReturnCode.TIMEOUT
        assert asyncio.run(run.wait_async(timeout=1)) == compat.MonitorReturnCode.TIMEOUT
        with pytest.raises(fj.FlareError, match=r"its result exists once it ends \(await run"):
            run.result()
        assert "abort" in run.abort().lower()
    finally:
        hold.write_text("go")
    assert finished(run) == "FINISHED:ABORTED"


def test_reattach_by_id_from_a_fresh_kernel(live, poc_system, two_runs):
    a, _ = two_runs
    script = (
        "import json, sys\nimport flare_jupyter as fj\n"
        "fj.connect(sys.argv[1])\nrun = fj.run(sys.argv[2])\n"
        "m = run.metrics\n"
        "print(json.dumps({'id': run.job_id, 'status': run.status, 'source': m.source,"
        " 'rows': [list(r) for r in m.itertuples(index=False, name=None)]}))\n"
        "fj.disconnect()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, poc_system.kit, a[:8]], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["id"] == a and seen["status"] == "FINISHED:COMPLETED"
    assert [tuple(r) for r in seen["rows"]] == rows(fj.metrics(a)) and seen["source"] == fj.metrics(a).source


def test_run_of_an_unknown_job_is_one_line(live):
    with pytest.raises(compat.JobNotFound) as raised:
        fj.run("00000000-0000-0000-0000-000000000000")
    assert "does not exist on the server" in str(raised.value)


# -- %flare submit NAME -----------------------------------------------------------------------------------------------
def test_flare_submit_of_a_notebook_variable_holding_a_job(ip, cell, live, work):
    with inside(work):
        ip.user_ns["my_job"] = any_job("exp-magic", rounds=1)
        submitted, _ = cell("run = %flare submit my_job")
    assert submitted.success
    run = ip.user_ns["run"]
    assert isinstance(run, fj.Run) and Path(run.folder, "meta.json").is_file()
    assert finished(run) == "FINISHED:COMPLETED" and run.name == "exp-magic"
    meta, _ = cell("%flare meta $run")  # a Run expands to its job id
    assert meta.result["job_id"] == run


def test_flare_submit_of_a_name_that_is_neither_a_job_nor_a_folder(live, cell):
    _, out = cell("%flare submit no_such_variable_or_folder")
    assert "no_such_variable_or_folder" in usage_error_line(out)


# -- compare ----------------------------------------------------------------------------------------------------------
def test_compare_two_runs(live, two_runs, flare):
    a, b = two_runs
    table = fj.compare(a, b)
    assert list(table["job_id"]) == [a, b] and list(table["rounds"]) == [3, 4]
    assert [args.split()[:2] for args in table["script_args"]] == [["--lr", "0.1"], ["--lr", "0.2"]]
    assert {"min_clients", "sites", "script"} <= set(table.hidden) and "min_clients" not in table.columns
    assert list(table["status"]) == ["FINISHED:COMPLETED"] * 2 and list(table["key_metric"]) == ["accuracy"] * 2
    for run, row in zip(two_runs, table.itertuples(), strict=True):
        m = fj.metrics(run)
        if RECORDS:
            assert row.final == m.summary["final_aggregated_metrics"][0]["value"]
            assert row.best_round == m.summary["best_round"]
        else:
            last = m[m["round"] == m["round"].max()]
            assert row.final == pytest.approx(last[last["metric"] == "accuracy"]["value"].mean())
    (ax,) = table.plot().axes
    assert len(ax.get_lines()) == 2 and ax.get_ylabel() == "accuracy"
    assert isinstance(flare(f"compare {a} {b} --all"), fj.Comparison)
    assert "min_clients" in flare(f"compare {a} {b} --all").columns


# -- triage ------------------------------------------------------------------------------------------------------------
def test_triage_of_a_run_that_failed_at_one_site(live, failed_run, flare):
    run, _ = failed_run
    t = fj.triage(run)
    assert t.status == run.status and t.status != "FINISHED:COMPLETED"
    assert t.origin == "site-2"
    first = t.frame.iloc[0]
    assert first["target"] == "site-2" and first["first"]
    assert first["exception"] == f"RuntimeError: site-2 cannot train round {FAIL_ROUND}"
    assert first["line"] == FAIL_LINE_NUMBER and first["code"] == FAIL_LINE and first["function"] == "train"
    assert set(t.frame["target"]) == {"server"} | CLIENTS
    assert f"the failure started on site-2: RuntimeError: site-2 cannot train round {FAIL_ROUND}" in repr(t)
    assert flare(f"triage {run}").origin == "site-2"


def test_the_monitor_shows_the_triage_once_the_job_failed(live, failed_run):
    _, monitor = failed_run
    assert monitor.finished and monitor.status != "FINISHED:COMPLETED"
    assert "the failure started on <b><bdi>site-2</bdi></b>" in monitor.triage.value
    assert f"RuntimeError: site-2 cannot train round {FAIL_ROUND}" in monitor.triage.value
    assert f"line {FAIL_LINE_NUMBER}, in train" in monitor.triage.value


# -- report ------------------------------------------------------------------------------------------------------------
def test_report_of_the_failed_run_saved_as_one_page(live, failed_run, tmp_path, flare):
    run, _ = failed_run
    report = fj.report(run)
    page = report.save(tmp_path / "failed.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "<h2>Triage</h2>" in page
    # its metrics as a table and a plot, or the word that there are none: nvflare 2.9 records round 0 before the
    # failure; 2.5's server log has none (its model selector skips round 0, and site-2 failing round 1 ends the run
    # before site-1's round-1 metrics are taken; were they taken first, the round would end and the run complete)
    metrics = fj.metrics(run)
    assert len(metrics) or not RECORDS
    if len(metrics):
        assert "src='data:image/png;base64," in page and "no metrics were reported" not in page
    else:
        assert "no metrics were reported" in page and "data:image/png" not in page
    assert "the failure started on <b><bdi>site-2</bdi></b>" in page
    assert isinstance(flare(f"report {run}"), fj.Report)


def test_a_comparison_plot_is_a_figure(live, two_runs):
    assert isinstance(fj.compare(*two_runs).plot("train_loss" if RECORDS else "accuracy"), Figure)
