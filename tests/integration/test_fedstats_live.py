"""Federated statistics and training metrics end to end on the real embedded system.

The statistics job computes over scikit-learn's bundled breast-cancer data, each site on its own slice; what
``fj.fedstats`` returns is checked against the same computation done here with pandas on the same slices.
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from live_jobs import CLIENTS, slow_job, wait_finished
from matplotlib.figure import Figure

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.analysis import FedStats
from flare_jupyter.examples import load_frame, site_slice
from flare_jupyter.metrics import AGGREGATED, MetricsFrame
from flare_jupyter.widgets import JobMonitor
from polling import wait_for

#: NVFlare rounds every statistic to 4 decimals.
HALF_UNIT = 0.5e-4


@pytest.fixture(scope="module")
def stats_job(poc_system, jobs_dir):
    s = fj.connect(poc_system.kit)
    job = s.submit_job(fj.examples.fed_stats(jobs_dir / "fedstats", dataset="breast_cancer", n_sites=2))
    assert wait_finished(s, job, timeout=180) == "FINISHED:COMPLETED"
    return job


@pytest.fixture(scope="module")
def stats(stats_job, tmp_path_factory):
    return fj.fedstats(stats_job, dest=str(tmp_path_factory.mktemp("fedstats-result")))


def test_counts_add_up_to_the_rows_of_the_dataset(stats):
    data = load_frame("breast_cancer")
    counts = stats.frame[stats.frame["statistic"] == "count"]
    for feature in stats.features:
        per_site = counts[(counts["feature"] == feature) & (counts["site"] != "Global")]
        assert set(per_site["site"]) == CLIENTS
        assert per_site["value"].sum() == len(data)
        assert stats.value(feature, "count") == len(data)


def test_site_and_global_means_match_pandas_on_the_same_slices(stats):
    data = load_frame("breast_cancer")
    for feature in stats.features:
        for site in sorted(CLIENTS):
            expected = site_slice(data, site, len(CLIENTS))[feature].mean()
            assert abs(stats.value(feature, "mean", site) - expected) <= HALF_UNIT + 1e-9 * abs(expected)
        assert abs(stats.value(feature, "mean") - data[feature].mean()) <= HALF_UNIT + 1e-9 * abs(data[feature].mean())


def test_histograms_and_quartiles_are_there_for_every_site(stats):
    for feature in stats.features:
        hist = stats.histogram_frame(feature)
        for site in [*sorted(CLIENTS), "Global"]:
            assert hist.loc[hist["site"] == site, "count"].sum() == stats.value(feature, "count", site)
        q = stats.value(feature, "quantile")
        assert list(q["quantile"]) == [0.25, 0.5, 0.75] and q["value"].is_monotonic_increasing
    fig = stats.histograms()
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.get_visible()]) == len(stats.features)
    table = stats.summary()
    assert list(table.index) == stats.features and table.columns.get_level_values(0)[-1] == "Global"


def test_the_magic_gives_the_same_statistics(flare, stats_job, stats, tmp_path):
    again = flare(f"fedstats {stats_job[:8]} --dest {tmp_path}")
    assert isinstance(again, FedStats)
    pd.testing.assert_frame_equal(again.frame, stats.frame)


def test_statistics_of_a_job_that_is_not_a_statistics_job_say_so(live, finished_job, flare, tmp_path):
    with pytest.raises(fj.FlareError, match="no statistics file in the job's result"):
        fj.fedstats(finished_job, dest=str(tmp_path / "a"))
    with pytest.raises(UsageError, match="no statistics file"):
        flare(f"fedstats {finished_job} --dest {tmp_path / 'b'}")


def test_statistics_of_a_running_or_aborted_job_say_why_there_are_none(live, jobs_dir, tmp_path):
    job = live.submit_job(slow_job(jobs_dir / "not-stats", name="not-stats"))
    try:
        with pytest.raises(fj.FlareError, match="its statistics are written when it finishes"):
            fj.fedstats(job, dest=str(tmp_path))
        # nvflare 2.5 can miss an abort sent while it schedules the job: abort it once it runs
        wait_for(lambda: live.get_job_meta(job)["status"] == "RUNNING", timeout=60)
    finally:
        live.abort_job(job)
        assert wait_finished(live, job, aborted=True) == "FINISHED:ABORTED"
    with pytest.raises(fj.FlareError, match="ended FINISHED:ABORTED, so it wrote no statistics"):
        fj.fedstats(job, dest=str(tmp_path))


def test_metrics_of_the_hello_numpy_example(live, finished_job):
    m = fj.metrics(finished_job)
    assert isinstance(m, MetricsFrame) and list(m.columns) == ["round", "site", "metric", "value"]
    if compat.HAS_METRICS_ARTIFACT:  # NVFlare's records: rounds 0, 1, 2 of each site, and aggregated
        assert m.source.startswith("artifact") and m["round"].tolist() == [0] * 3 + [1] * 3 + [2] * 3
        assert set(m["site"]) == CLIENTS | {AGGREGATED} and m.summary["final_round"] == 2
    else:  # the server log's metric lines, under NVFlare's round numbers (the log has none of round 0)
        assert m.source.startswith("server log") and set(m["site"]) == CLIENTS and m["round"].max() == 2
        log = live.job_log(finished_job)
        assert len(m) == log.count("validation metric") - log.count("new best validation metric")
    fig = m.plot()
    assert isinstance(fig, Figure) and fig.axes[0].get_xlabel() == "round"
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == set(m["site"])


def test_stats_history_is_recorded_while_a_monitor_watches(live, jobs_dir, flare):
    job = live.submit_job(fj.examples.hello_numpy(jobs_dir / "history", num_rounds=2, name="history"))
    with pytest.raises(fj.FlareError, match="no stats were recorded"):
        fj.stats_history(job)
    m = fj.monitor(job)
    assert isinstance(m, JobMonitor) and m.wait(timeout=180) is not None
    history = fj.stats_history(job)
    assert list(history.columns) == ["time", "target", "component", "key", "value"]
    assert {"server"} | CLIENTS >= set(history["target"]) and len(history) > 0
    assert history["time"].is_monotonic_increasing
    assert isinstance(history.plot(), Figure)
    assert len(flare(f"stats_history {job}")) == len(history)
