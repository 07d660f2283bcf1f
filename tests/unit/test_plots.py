"""The figures of training metrics and of ``show_stats`` over time, and matplotlib's global state left alone.

Inputs are real answers from tests/recordings/widgets-2.9.0.json (tests/record_monitor.py: a 3-round hello-numpy
job whose clients report an ``accuracy`` metric): its final server log (``get_job_logs``), its server config
(``cat_target``) and its ``show_stats`` answers. The figures are checked without rendering any image: axes, labels,
legends and the data of the drawn lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from record_monitor import lifecycle_widgets

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, decode
from flare_jupyter.metrics import HISTORY_COLUMNS, MetricsFrame, StatsHistory, history_frame, metrics_frame
from flare_jupyter.poller import Poller
from flare_jupyter.progress import ROUND_STARTED, key_metric_from_config, metrics_from_log

RECORDING = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())
THREE = RECORDING["jobs"]["three_rounds"]
CLIENTS = RECORDING["clients"]
STATS_JSON = RECORDINGS / "fedstats-2.9.0" / "statistics.json"


def results(method: str, **args) -> list:
    """Every recorded answer of ``method`` whose arguments include ``args``, in recorded order (errors left out)."""
    return [
        decode(c["result"])
        for c in RECORDING["calls"]
        if c["method"] == method and "result" in c and all(c["args"].get(k) == v for k, v in args.items())
    ]


FINAL_LOG = results("get_job_logs", job_id=THREE)[-1]["logs"]["server"]
(CONFIG,) = [
    decode(c["result"]) for c in RECORDING["calls"] if c["method"] == "cat_target" and THREE in c["args"]["file"]
]
KEY_METRIC = key_metric_from_config(CONFIG)
ROWS = metrics_from_log(FINAL_LOG, KEY_METRIC)
#: the job's show_stats answers (server and client, in recorded order), each paired with its index as seconds
SNAPSHOTS = list(enumerate(results("show_stats", job_id=THREE)))


def visible(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


# -- matplotlib's global state -------------------------------------------------------------------------------------
CHECK_GLOBAL_STATE = textwrap.dedent(
    """
    import json, sys
    import matplotlib

    def snapshot():  # raw values: reading rcParams["backend"] through RcParams would resolve (and import) pyplot
        return {k: repr(v) for k, v in dict.items(matplotlib.rcParams)}

    before = snapshot()
    import flare_jupyter
    import flare_jupyter.analysis, flare_jupyter.fedstats_result, flare_jupyter.plots, flare_jupyter.widgets.fedstats
    imported = snapshot()
    from flare_jupyter.analysis import FedStats
    stats = FedStats.from_file(sys.argv[1])
    stats.histograms(percent=True)
    stats.explore()
    drawn = snapshot()
    print(json.dumps({
        "changed_by_import": sorted(k for k in before if imported.get(k) != before[k]),
        "changed_by_drawing": sorted(k for k in before if drawn.get(k) != before[k]),
        "pyplot": "matplotlib.pyplot" in sys.modules,
        "defaults": {k: matplotlib.rcParams[k] == matplotlib.rcParamsDefault[k]
                     for k in ("axes.prop_cycle", "figure.figsize", "font.size", "lines.linewidth")},
    }))
    """
)


@pytest.fixture(scope="module")
def global_state(tmp_path_factory) -> dict:
    """What a fresh interpreter saw of matplotlib's rcParams around importing flare_jupyter and drawing with it."""
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "MATPLOTLIBRC")}
    env["MPLCONFIGDIR"] = str(tmp_path_factory.mktemp("mplconfig"))  # no user matplotlibrc
    done = subprocess.run(
        [sys.executable, "-c", CHECK_GLOBAL_STATE, str(STATS_JSON)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_flare_jupyter_changes_no_rcparams(global_state):
    assert global_state["changed_by_import"] == []
    assert global_state["defaults"] == {
        "axes.prop_cycle": True,
        "figure.figsize": True,
        "font.size": True,
        "lines.linewidth": True,
    }


def test_drawing_changes_no_rcparams_and_needs_no_pyplot(global_state):
    assert global_state["changed_by_drawing"] == []
    assert global_state["pyplot"] is False


# -- metrics -------------------------------------------------------------------------------------------------------
def test_the_recorded_job_reports_accuracy_for_every_site():
    assert KEY_METRIC == "accuracy"
    assert ROWS and {r[1] for r in ROWS} == set(CLIENTS) and {r[2] for r in ROWS} == {"accuracy"}


def test_metrics_frame_dtypes_and_rows():
    m = metrics_frame(ROWS)
    assert isinstance(m, MetricsFrame)
    assert list(m.columns) == ["round", "site", "metric", "value"]
    assert m.dtypes.astype(str).tolist() == ["int64", "string", "string", "float64"]
    assert list(m.itertuples(index=False, name=None)) == ROWS


def test_metrics_frame_stays_a_metrics_frame_when_filtered():
    m = metrics_frame(ROWS)
    one = m[m["site"] == CLIENTS[0]]
    assert isinstance(one, MetricsFrame)
    ax = one.plot().axes[0]
    assert [ln.get_label() for ln in ax.lines] == [CLIENTS[0]]


def test_metrics_plot_is_one_axis_per_metric_and_one_line_per_site():
    m = metrics_frame(ROWS)
    fig = m.plot()
    assert isinstance(fig, Figure)
    (ax,) = visible(fig)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("accuracy", "round", "accuracy")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == sorted(CLIENTS)
    assert [ln.get_label() for ln in ax.lines] == sorted(CLIENTS)
    for line in ax.lines:
        assert isinstance(line, Line2D)
        mine = sorted((r[0], r[3]) for r in ROWS if r[1] == line.get_label())
        assert list(line.get_xdata()) == [r for r, _ in mine]
        assert list(line.get_ydata()) == [v for _, v in mine]


def test_metrics_plot_of_two_metrics_has_two_axes():
    # the same real log read twice: once under the key metric, once under NVFlare's generic name
    m = metrics_frame(ROWS + metrics_from_log(FINAL_LOG))
    fig = m.plot()
    assert [ax.get_title() for ax in visible(fig)] == ["accuracy", "validation metric"]
    for ax in visible(fig):
        assert ax.get_xlabel() == "round"
        assert [ln.get_label() for ln in ax.lines] == sorted(CLIENTS)


def test_metrics_before_any_was_reported():
    lines = FINAL_LOG.splitlines()
    first_round = next(i for i, ln in enumerate(lines) if ROUND_STARTED.search(ln))
    m = metrics_frame(metrics_from_log("\n".join(lines[:first_round]), KEY_METRIC))
    assert m.empty
    assert m.dtypes.astype(str).tolist() == ["int64", "string", "string", "float64"]
    (ax,) = visible(m.plot())
    assert not ax.lines and ax.get_legend() is None


@pytest.fixture
def fresh_poller(monkeypatch):
    """A shared poller that has watched nothing (what a fresh kernel has)."""
    poller = Poller(autostart=False)
    monkeypatch.setattr(Poller, "_shared", poller)
    return poller


@pytest.fixture
def watched(install, monkeypatch):
    """The kernel after a monitor watched the 3-round job through its recorded lifecycle (the shared poller)."""
    raw = RecordedSession(RECORDING, sequence=True)
    ks = install(raw)
    poller = Poller(session_fn=lambda: ks, interval_fn=lambda: 1.0, autostart=False)
    monkeypatch.setattr(Poller, "_shared", poller)
    widgets = lifecycle_widgets(poller, RECORDING["jobs"])
    for _ in range(RECORDING["ticks"]["lifecycle"]):
        poller.tick()
    yield poller
    for widget in widgets.values():
        widget.close()


# fj.metrics itself (NVFlare's metric records, the log fallback) is tested in test_experiments.py.


# -- stats over time -----------------------------------------------------------------------------------------------
def test_history_frame_columns_and_dtypes():
    h = history_frame(SNAPSHOTS)
    assert isinstance(h, StatsHistory)
    assert list(h.columns) == HISTORY_COLUMNS
    assert isinstance(h["time"].dtype, pd.DatetimeTZDtype) and str(h["time"].dt.tz) == "UTC"
    for col in ("target", "component", "key"):
        assert h[col].dtype == "string"


def test_history_frame_rows_are_the_answers_at_their_times():
    h = history_frame(SNAPSHOTS)
    assert set(h["time"]) == {pd.Timestamp(i, unit="s", tz="UTC") for i, _ in SNAPSHOTS}
    for i, answer in SNAPSHOTS:
        at = h[h["time"] == pd.Timestamp(i, unit="s", tz="UTC")]
        assert set(at["target"]) == set(answer)
        for row in at.itertuples():
            if pd.isna(row.key):  # a target that said nothing ({}), kept as one empty row
                assert answer[row.target] == {} and pd.isna(row.component) and row.value is None
            else:
                assert answer[row.target][row.component][row.key] == row.value
        told = sum(len(per_component) for per_target in answer.values() for per_component in per_target.values())
        assert at["key"].notna().sum() == told


def test_history_frame_of_no_snapshots_keeps_its_schema():
    h = history_frame([])
    assert isinstance(h, StatsHistory) and h.empty
    assert list(h.columns) == HISTORY_COLUMNS
    assert isinstance(h["time"].dtype, pd.DatetimeTZDtype)


def test_stats_history_plot_of_the_recorded_stats():
    # NVFlare's show_stats of this job holds names, statuses and task lists, no number
    h = history_frame(SNAPSHOTS)
    assert pd.to_numeric(h["value"], errors="coerce").isna().all()
    fig = h.plot()
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "no numeric stats recorded" and not ax.lines


def test_stats_history_plot_of_nothing():
    (ax,) = history_frame([]).plot().axes
    assert ax.get_title() == "no numeric stats recorded"


def test_fj_stats_history_after_a_monitor_watched_the_job(watched):
    answers = [answer for _t, answer in watched.history(THREE)]
    assert answers == [answer for _i, answer in SNAPSHOTS]  # every dict answer the monitor's polls got
    h = fj.stats_history(THREE)
    assert isinstance(h, StatsHistory)
    assert h.drop(columns="time").equals(history_frame(SNAPSHOTS).drop(columns="time"))
    assert h["time"].is_monotonic_increasing


def test_fj_stats_history_of_a_job_nobody_watched(install, fresh_poller):
    install(RecordedSession(RECORDING))
    with pytest.raises(fj.FlareError) as e:
        fj.stats_history(THREE)
    assert str(e.value) == (
        f"no stats were recorded for job {THREE}: open fj.monitor({THREE!r}) while it runs, then ask again"
    )
