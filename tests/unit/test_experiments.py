"""Metrics from NVFlare's records, comparisons, triage, reports and the monitor's chart and triage, on what real jobs
wrote (tests/record_experiments.py, nvflare 2.9.0 and 2.5.2): three runs of tests/experiment_jobs.py, one of them
read chunk by chunk while it was held at round 2, and one whose site-2 raised in round 1.

``RecordedRuns`` answers as the kernel session does (``get_job_meta``, ``finished_job_files``, ``job_log``), with
those recorded texts only.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from experiment_jobs import CLIENT, FAIL_LINE
from IPython.core.error import UsageError
from matplotlib.figure import Figure

import flare_jupyter as fj
from fakes import RECORDINGS
from flare_jupyter import analysis, render
from flare_jupyter.failures import ended_abnormally, failures, first_failure, outlived_before, round_starts
from flare_jupyter.metrics import AGGREGATED, ROUND_METRICS_READABLE, metrics_frame, round_metrics_rows
from flare_jupyter.poller import JobDetail, Poller, Snapshot
from flare_jupyter.report import site_rows
from flare_jupyter.widgets import JobMonitor

compare_module = importlib.import_module("flare_jupyter.compare")
connection = importlib.import_module("flare_jupyter.connection")

R29 = RECORDINGS / "experiments-2.9.0"
R25 = RECORDINGS / "experiments-2.5.2"
RUNS = ("a", "b", "failed")
#: ``failed`` again, its server asked ``show_stats`` from the moment it was submitted (tests/record_experiments.py).
ASKED_EARLY = "failed-asked-early"
#: The line of the client script that raises, as its traceback names it.
FAIL_LINE_NUMBER = next(i for i, line in enumerate(CLIENT.splitlines(), 1) if FAIL_LINE in line)


def meta(folder: Path, run: str) -> dict:
    return json.loads((folder / run / "meta.json").read_text())


def job_id(folder: Path, run: str) -> str:
    return meta(folder, run)["job_id"]


def text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def artifact_rows(jsonl: str) -> list[tuple]:
    """The records read the plain way (a line, its sites' metrics in order, then its aggregated ones): what the
    parser under test must give."""
    rows = []
    for line in jsonl.splitlines():
        record = json.loads(line)
        for site in record["sites"]:
            rows += [(record["round"], site["name"], m["name"], m["value"]) for m in site["metrics"]]
        rows += [(record["round"], "aggregated", m["name"], m["value"]) for m in record["aggregated_metrics"]]
    return rows


class RecordedRuns:
    """The kernel session's answers about the recorded runs (their recorded texts; anything else: LookupError)."""

    closed = False
    _shut_down = False

    def __init__(self, folder: Path = R29):
        self.folder = folder
        self.runs = {job_id(folder, run): folder / run for run in (*RUNS, ASKED_EARLY) if (folder / run).is_dir()}
        self.calls: list[tuple] = []

    def _run(self, job: str) -> Path:
        if job not in self.runs:
            raise LookupError(f"nothing recorded for job {job}")
        return self.runs[job]

    def get_job_meta(self, job: str) -> dict:
        self.calls.append(("get_job_meta", job))
        return json.loads((self._run(job) / "meta.json").read_text())

    def finished_job_files(self, job: str, *paths: str) -> dict:
        self.calls.append(("finished_job_files", job, paths))
        return {p: text(self._run(job) / "result" / p) for p in paths}

    def job_log(self, job: str, target: str = "server") -> str:
        self.calls.append(("job_log", job, target))
        found = text(self._run(job) / "logs" / f"{target}.txt")
        if found is None:
            raise LookupError(f"no log of {target} recorded for job {job}")
        return found

    def close(self):
        self.closed = True


@pytest.fixture
def runs():
    """The recorded runs as the kernel's current session."""
    fake = RecordedRuns()
    connection._set_current(fake)
    yield fake
    connection._set_current(None)


# -- NVFlare's round records -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", RUNS)
def test_the_rows_are_the_records_row_for_row(run):
    jsonl = (R29 / run / "result/metrics/round_metrics.jsonl").read_text()
    assert round_metrics_rows(jsonl) == artifact_rows(jsonl)


def test_the_records_hold_two_metrics_with_values_of_each_site():
    rows = round_metrics_rows((R29 / "a/result/metrics/round_metrics.jsonl").read_text())
    m = metrics_frame(rows)
    assert set(m["metric"]) == {"accuracy", "train_loss"}
    assert set(m["site"]) == {"site-1", "site-2", AGGREGATED}
    assert sorted(set(m["round"])) == [0, 1, 2]  # NVFlare counts rounds from 0
    per_site = m[m["site"] != AGGREGATED].pivot_table(index=["round", "metric"], columns="site", values="value")
    assert (per_site["site-1"] != per_site["site-2"]).all()


def recorded_chunks() -> list[dict]:
    return json.loads((R29 / "a/while_running/chunks.json").read_text())


def test_the_readable_copy_was_the_servers_round_metrics_jsonl_byte_for_byte_while_the_job_ran():
    read = "".join(c["text"] for c in recorded_chunks())
    assert read == (R29 / "a/while_running/round_metrics.jsonl").read_text()
    assert (R29 / "a/result/metrics/round_metrics.jsonl").read_text().startswith(read)


class GrowingFile:
    """``job_file_since`` over a recorded file, as the server answers it: the bytes from ``offset`` on, of the
    part of the file written so far (``written`` bytes)."""

    def __init__(self, data: str):
        self.data, self.written, self.asked = data.encode(), 0, []

    def job_file_since(self, job, path, offset):
        self.asked.append((path, offset))
        return self.data[offset : self.written].decode()


def test_a_running_jobs_records_are_read_from_where_the_last_read_ended():
    chunks = recorded_chunks()
    whole = "".join(c["text"] for c in chunks)
    server = GrowingFile(whole)
    reader = analysis._RunningRecords(server, "job")
    seen = []
    for chunk in chunks:
        server.written = chunk["offset"] + len(chunk["text"].encode())
        seen.append(reader.read())
    assert [offset for _path, offset in server.asked] == [c["offset"] for c in chunks]
    assert {path for path, _ in server.asked} == {ROUND_METRICS_READABLE}
    assert seen[-1] == artifact_rows(whole)
    assert seen[0] == artifact_rows(chunks[0]["text"])


@pytest.mark.parametrize("cut", [1, 17, 300, 684, 685, 686, 1000])
def test_a_record_cut_between_two_reads_is_read_whole_once_it_is_complete(cut):
    whole = "".join(c["text"] for c in recorded_chunks())
    server = GrowingFile(whole)
    reader = analysis._RunningRecords(server, "job")
    server.written = cut
    first = reader.read()
    assert first == artifact_rows(whole[: whole.rfind("\n", 0, cut) + 1])  # only whole lines
    server.written = len(whole.encode())
    assert reader.read() == artifact_rows(whole)


# -- fj.metrics -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", RUNS)
def test_fj_metrics_of_a_finished_job_are_its_records_with_nvflares_summary(runs, run):
    m = fj.metrics(job_id(R29, run))
    jsonl = (R29 / run / "result/metrics/round_metrics.jsonl").read_text()
    assert list(m.itertuples(index=False, name=None)) == artifact_rows(jsonl)
    assert m.source == analysis.FROM_RESULT and m.source.startswith("artifact")
    assert m.summary == json.loads((R29 / run / "result/metrics/metrics_summary.json").read_text())
    assert [c[0] for c in runs.calls] == ["get_job_meta", "finished_job_files"]  # one download, nothing else


def test_the_failed_runs_records_stop_at_its_last_aggregated_round(runs):
    m = fj.metrics(job_id(R29, "failed"))
    assert m["round"].max() == m.summary["final_round"] == 1


def test_run_summary_is_nvflares_metrics_summary(runs):
    run = fj.Run(job_id(R29, "a"))
    assert run.summary["key_metric"]["name"] == "accuracy" and run.summary["best_round"] == 2


def test_the_log_fallback_numbers_rounds_as_nvflare_does():
    """nvflare 2.5 writes no records: its log's metric lines, under NVFlare's round numbers, are what the 2.9
    records say of the same run (the same client and settings)."""
    config = (R25 / "a/result" / analysis.SERVER_CONFIG).read_text()
    fallback = analysis._from_log((R25 / "a/logs/server.txt").read_text(), config, analysis.NO_ARTIFACT_RELEASE)
    assert fallback.source.startswith("server log: nvflare") and len(fallback)
    assert set(fallback["metric"]) == {"accuracy"}  # the model selector's key metric
    records = set(round_metrics_rows((R29 / "a/result/metrics/round_metrics.jsonl").read_text()))
    assert set(fallback.itertuples(index=False, name=None)) <= records


def test_fallback_labels_say_where_the_rows_came_from():
    for label in (analysis.NO_ARTIFACT_RELEASE, analysis.NO_WRITER, analysis.NOT_READABLE_WHILE_RUNNING):
        assert label.startswith("server log")
    for label in (analysis.FROM_RESULT, analysis.FROM_RUNNING_JOB):
        assert label.startswith("artifact")


# -- compare -----------------------------------------------------------------------------------------------------------
def test_compare_shows_what_differs_and_hides_what_the_runs_share(runs):
    a, b = job_id(R29, "a"), job_id(R29, "b")
    table = fj.compare(a, b)
    assert list(table["job_id"]) == [a, b] and list(table["name"]) == ["exp-a", "exp-b"]
    assert list(table["rounds"]) == [3, 4]
    assert table["script_args"].tolist()[1] == "--lr 0.2" and table["script_args"].tolist()[0].startswith("--lr 0.1")
    for shared in ("min_clients", "sites", "script"):
        assert shared not in table.columns and shared in table.hidden
    assert list(table.columns[-6:]) == compare_module.OUTCOME
    assert list(table["status"]) == ["FINISHED:COMPLETED"] * 2
    for run, row in zip(("a", "b"), table.itertuples(), strict=True):
        summary = json.loads((R29 / run / "result/metrics/metrics_summary.json").read_text())
        final = {m["name"]: m["value"] for m in summary["final_aggregated_metrics"]}
        assert row.key_metric == summary["key_metric"]["name"] == "accuracy"
        assert row.final == final["accuracy"] and row.best_round == summary["best_round"]
    assert str(table["duration"].dtype) == "timedelta64[ns]"


def test_compare_all_shows_every_setting(runs):
    table = fj.compare(job_id(R29, "a"), job_id(R29, "b"), show_all=True)
    assert list(table["min_clients"]) == [2, 2] and list(table["sites"]) == ["site-1, site-2"] * 2
    assert list(table["script"]) == ["client.py"] * 2 and table.hidden == []
    assert list(table["server.controller.num_clients"]) == [2, 2]


def test_compare_plot_overlays_the_aggregated_key_metric_of_each_run(runs):
    a, b = job_id(R29, "a"), job_id(R29, "b")
    fig = fj.compare(a, b).plot()
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "accuracy" and ax.get_xlabel() == "round"
    for run, line in zip(("a", "b"), ax.get_lines(), strict=True):
        rows = artifact_rows((R29 / run / "result/metrics/round_metrics.jsonl").read_text())
        expected = [(r, v) for r, s, m, v in rows if s == "aggregated" and m == "accuracy"]
        assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == expected
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"exp-a ({a[:8]})", f"exp-b ({b[:8]})"]


def test_compare_plot_of_another_metric(runs):
    (ax,) = fj.compare(job_id(R29, "a"), job_id(R29, "b")).plot("train_loss").axes
    assert ax.get_ylabel() == "train_loss" and len(ax.get_lines()) == 2


def test_compare_without_runs_is_one_clear_line():
    with pytest.raises(fj.FlareError, match="compare needs at least one run"):
        fj.compare()


def test_settings_of_a_fedjob_on_nvflare_25_are_read_the_same_way():
    def settings(run):
        folder = R25 / run
        server = json.loads((folder / "result" / analysis.SERVER_CONFIG).read_text())
        client = json.loads((folder / "result" / analysis.CLIENT_CONFIG).read_text())
        return compare_module.headline_settings(meta(R25, run), server, client)

    assert settings("a")["rounds"] == 3 and settings("b")["rounds"] == 4
    assert settings("b")["script_args"] == "--lr 0.2" and settings("b")["script"] == "client.py"
    assert settings("b")["sites"] == "site-1, site-2" and settings("b")["min_clients"] == 2


# -- triage ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", [R29, R25], ids=["2.9.0", "2.5.2"])
def test_triage_names_the_site_the_exception_and_the_line(folder):
    logs = {t: ((folder / "failed/logs" / f"{t}.txt").read_text(), "") for t in ("server", "site-1", "site-2")}
    found = failures(logs)
    first = found[0]
    assert first.target == "site-2"
    assert first.exception == "RuntimeError: site-2 cannot train round 1"
    assert first.file.endswith("/custom/client.py") and first.line == FAIL_LINE_NUMBER and first.function == "train"
    assert first.code == FAIL_LINE
    assert first.error_time <= first.exception_time and first.before
    server = next(f for f in found if f.target == "server")
    assert server.failed and server.error_time > first.error_time  # the server failed because site-2 did
    assert not next(f for f in found if f.target == "site-1").failed


def recorded_logs(folder: Path, run: str) -> dict:
    return {t: ((folder / run / "logs" / f"{t}.txt").read_text(), "") for t in ("server", "site-1", "site-2")}


def test_an_error_the_run_outlived_is_not_where_the_failure_started():
    logs = recorded_logs(R29, ASKED_EARLY)
    # the server job process answered the early show_stats with an error (its engine was not ready), before round 0:
    # a command's error (NVFlare's "blob_cb threw"), outlived whenever it is written
    server_log = logs["server"][0]
    command_errors = [line for line in server_log.splitlines() if " - ERROR - " in line and "blob_cb threw" in line]
    assert len(command_errors) == 2 and "get_widget" in command_errors[0]
    # read with no round to go by (as when it is written inside round 0, as CI saw on a busy machine), it is no failure
    early = first_failure("server", server_log)
    assert early.outlived == 2 and "get_widget" not in early.error and "get_widget" not in early.exception
    found = failures(logs)
    first, server = found[0], next(f for f in found if f.target == "server")
    assert first.target == "site-2" and first.exception == "RuntimeError: site-2 cannot train round 1"
    assert first.line == FAIL_LINE_NUMBER and first.code == FAIL_LINE
    assert server.outlived == 2 and "get_widget" not in server.error and server.error_time > first.error_time


def test_the_round_starts_are_read_from_both_releases_log_formats():
    for folder in (R29, R25):
        log = (folder / "failed/logs/server.txt").read_text()
        starts = round_starts(log)
        assert len(starts) == len(re.findall(r"Round \d+ started", log)) and starts == sorted(starts)
        site_2 = first_failure("site-2", (folder / "failed/logs/site-2.txt").read_text())
        assert outlived_before(log) == starts[-2] <= site_2.error_time  # the round site-2 raised in is not outlived
    assert outlived_before("no round in this log") is None and round_starts("") == []


def test_fj_triage_counts_the_errors_the_run_outlived(runs):
    t = fj.triage(job_id(R29, ASKED_EARLY))
    assert t.origin == "site-2"
    assert list(t.frame["outlived"]) == [0, 2, 0] and list(t.frame["target"]) == ["site-2", "server", "site-1"]
    lines = repr(t).splitlines()
    assert lines[1] == "the failure started on site-2: RuntimeError: site-2 cannot train round 1"
    server_line = next(line for line in lines if line.startswith("server: first error at"))
    assert server_line.endswith("(2 earlier errors the run outlived: a round completed after, or a command failed)")
    assert "<i>2 earlier errors the run outlived: a round completed after, or a command failed</i>" in t._repr_html_()


def test_a_log_without_errors_has_no_failure():
    f = first_failure("server", (R29 / "a/logs/server.txt").read_text())
    assert not f.failed and f.error_time is None and f.location == ""


def test_fj_triage_frame_and_text(runs):
    job = job_id(R29, "failed")
    t = fj.triage(job)
    assert t.origin == "site-2" and t.status == "FINISHED:EXECUTION_EXCEPTION"
    frame = t.frame
    assert list(frame["target"]) == ["site-2", "server", "site-1"]
    assert list(frame["first"]) == [True, False, False]
    assert frame.loc[0, "line"] == FAIL_LINE_NUMBER and frame.loc[0, "exception"].startswith("RuntimeError")
    assert isinstance(frame["error_time"].dtype, type(pd.Series(pd.to_datetime(["2026-01-01"])).dtype))
    assert pd.isna(frame.loc[2, "error_time"]) and frame.loc[2, "error"] == ""
    lines = repr(t).splitlines()
    assert lines[0] == f"triage of job exp-failed ({job}): FINISHED:EXECUTION_EXCEPTION"
    assert lines[1] == "the failure started on site-2: RuntimeError: site-2 cannot train round 1"
    assert f"  raised at client.py, line {FAIL_LINE_NUMBER}, in train: {FAIL_LINE}" in lines
    assert "site-1: no error in its job log" in lines
    assert f"site-2: first error at {frame.loc[0, 'error_time']:%H:%M:%S.%f}"[:-3] in repr(t)
    assert "Traceback" not in repr(t)  # a record that only opens a traceback says what it raised
    page = t._repr_html_()
    assert "the failure started on <b><bdi>site-2</bdi></b>" in page
    assert render.esc(FAIL_LINE) in page and FAIL_LINE not in page  # quotes escaped


def test_triage_html_escapes_what_the_logs_say():
    hostile = "<img src=x onerror=alert(1)>"
    view = {"target": hostile, "time": "t", "component": hostile, "error": hostile, "exception": hostile}
    page = render.triage(hostile, hostile, [{**view, "code": hostile, "before": [hostile], "location": hostile}])
    assert "<img" not in page and page.count(render.esc(hostile)) == 11  # every place it is shown


def test_abnormal_ends():
    assert ended_abnormally("FINISHED:EXECUTION_EXCEPTION") and ended_abnormally("FINISHED:ABNORMAL")
    assert not ended_abnormally("FINISHED:COMPLETED") and not ended_abnormally("FINISHED:ABORTED")
    assert not ended_abnormally("RUNNING")


# -- report ------------------------------------------------------------------------------------------------------------
def test_the_report_of_a_failed_run_is_one_self_contained_page(runs, tmp_path):
    job = job_id(R29, "failed")
    report = fj.report(job)
    path = report.save(tmp_path / "out" / "failed")
    assert path == (tmp_path / "out" / "failed.html").resolve()
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page and "https://" not in page and "src='data:image/png;base64," in page
    for heading in ("Run", "Timeline", "Settings", "Sites", "Metrics", "Triage"):
        assert f"<h2>{heading}</h2>" in page
    assert "the failure started on <b><bdi>site-2</bdi></b>" in page
    assert render.esc(analysis.FROM_RESULT) in page
    assert repr(report).startswith(f"Run exp-failed ({job}): FINISHED:EXECUTION_EXCEPTION, final accuracy 0.71")


def test_the_reports_site_table_says_what_each_site_reported_and_its_first_error(runs):
    report = fj.report(job_id(R29, "failed"))
    rows = {row["site"]: row for row in site_rows(report.facts, report.triage)}
    assert list(rows) == ["site-1", "site-2", "aggregated", "server"]
    assert rows["site-2"]["first error"] == "RuntimeError: site-2 cannot train round 1"
    assert rows["site-1"]["first error"] == "" and rows["server"]["first error"].startswith("ValueError: ")
    final = report.facts.metrics.summary["final_round"]
    assert rows["aggregated"]["last round"] == final and rows["aggregated"]["rounds reported"] == final + 1
    assert rows["aggregated"]["last values"] == "accuracy 0.71, train_loss 0.3333"


def test_the_report_of_a_completed_run_has_no_triage(runs):
    page = fj.report(job_id(R29, "a"))._repr_html_()
    assert "<h2>Triage</h2>" not in page and "<h2>Metrics</h2>" in page
    assert "<html" not in page  # in a notebook: a fragment, not a page


# -- the monitor: metric picker and chart, triage at an abnormal end ---------------------------------------------------
@pytest.fixture
def quiet_poller():
    poller = Poller(autostart=False)
    yield poller


def ended(folder: Path, run: str) -> Snapshot:
    """A tick that finds the recorded run finished (its listing and meta as the server gave them)."""
    m = meta(folder, run)
    listing = {"job_id": m["job_id"], "job_name": m["name"], "status": m["status"], "duration": m["duration"]}
    return Snapshot(time=time.time(), jobs={m["job_id"]: listing}, details={m["job_id"]: JobDetail(meta=m)})


def test_the_monitor_of_a_job_that_failed_shows_where_it_started(quiet_poller):
    fake = RecordedRuns()
    job = job_id(R29, "failed")
    m = JobMonitor(job, poller=quiet_poller, meta=meta(R29, "failed"))
    m.update(fake, ended(R29, "failed"))
    assert m.finished
    assert "the failure started on <b><bdi>site-2</bdi></b>" in m.triage.value
    assert "RuntimeError: site-2 cannot train round 1" in m.triage.value
    assert "the failure started on site-2: RuntimeError: site-2 cannot train round 1" in repr(m)
    assert sorted(c[2] for c in fake.calls if c[0] == "job_log") == ["server", "site-1", "site-2"]
    m.update(fake, ended(R29, "failed"))
    assert len([c for c in fake.calls if c[0] == "job_log"]) == 3  # read once
    m.close()


def test_the_monitor_of_a_completed_job_shows_no_triage(quiet_poller):
    fake = RecordedRuns()
    m = JobMonitor(job_id(R29, "a"), poller=quiet_poller, meta=meta(R29, "a"))
    m.update(fake, ended(R29, "a"))
    assert m.finished and m.triage.value == "" and not fake.calls
    m.close()


def test_the_monitor_chart_picks_a_metric_and_shows_every_round_per_site_and_aggregated(quiet_poller):
    m = JobMonitor(job_id(R29, "a"), poller=quiet_poller, meta=meta(R29, "a"))
    m.progress.metrics = round_metrics_rows((R29 / "a/result/metrics/round_metrics.jsonl").read_text())
    m._render()
    assert list(m.metric_picker.options) == ["accuracy", "train_loss"] and m.metric_picker.value == "accuracy"
    chart = m.chart.value
    assert "accuracy by round" in chart and chart.count("<polyline") == 3 and chart.count("<circle") == 9
    for series in ("site-1 accuracy", "site-2 accuracy", "aggregated accuracy"):
        assert series in chart
    m.metric_picker.value = "train_loss"
    assert "train_loss by round" in m.chart.value and "aggregated train_loss" in m.chart.value
    m.progress.metrics = m.progress.metrics + [(3, "site-1", "accuracy", 0.9)]
    m._render()
    assert m.metric_picker.value == "train_loss"  # the choice stays while rows arrive
    m.close()


def test_the_monitor_hides_the_picker_while_no_metric_came(quiet_poller):
    m = JobMonitor(job_id(R29, "a"), poller=quiet_poller, meta=meta(R29, "a"))
    assert m.metric_picker.layout.display == "none" and m.chart.value == ""
    m.close()


# -- Run -------------------------------------------------------------------------------------------------------------
def test_a_run_is_its_job_id():
    job = job_id(R29, "a")
    run = fj.Run(job, folder="/somewhere")
    assert isinstance(run, str) and run == job and str(run) == job and f"{run}" == job
    assert repr(run) == repr(job) and run.job_id == job and type(run.job_id) is str
    assert run.folder == "/somewhere" and fj.Run(job).folder is None


def test_submit_refuses_what_is_no_job_in_one_line(runs):
    with pytest.raises(fj.FlareError, match="fj.submit takes a job folder, an NVFlare Recipe or a FedJob, not a int"):
        fj.submit(42)


# -- magics ---------------------------------------------------------------------------------------------------------
def test_flare_triage_compare_and_report(flare, runs, tmp_path):
    a, b, failed = (job_id(R29, r) for r in RUNS)
    assert flare(f"triage {failed}").origin == "site-2"
    table = flare(f"compare {a} {b}")
    assert isinstance(table, fj.Comparison) and "rounds" in table.columns and "min_clients" not in table.columns
    assert "min_clients" in flare(f"compare {a} {b} --all").columns
    saved = flare(f"report {failed} --save {tmp_path / 'r.html'}")
    assert saved == f"report of job {failed} saved to {tmp_path / 'r.html'}"
    assert "<h2>Triage</h2>" in (tmp_path / "r.html").read_text()
    assert isinstance(flare(f"report {a}"), fj.Report)


def test_flare_submit_of_a_variable_holding_no_job_is_one_line(ip, flare, runs):
    ip.user_ns["not_a_job"] = 42
    with pytest.raises(UsageError, match=r"^not_a_job holds a int, not an NVFlare Recipe or FedJob \(nor is it a job"):
        flare("submit not_a_job")


def test_flare_compare_needs_a_job(flare, runs):
    with pytest.raises(UsageError, match="the following arguments are required: JOB"):
        flare("compare")
