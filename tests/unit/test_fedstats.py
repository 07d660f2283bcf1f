"""Federated statistics results (FedStats), on the statistics JSON a real NVFlare run wrote.

The input is tests/recordings/fedstats-2.9.0/statistics.json (tests/record_fedstats.py: breast_cancer, 2 sites,
10 bins, quantiles 0.25/0.5/0.75) and the result folder layout that run downloaded (layout.txt). Results with
something missing are derived from it by deleting entries, never by adding any. Expected numbers are recomputed
with pandas on each site's slice of the same scikit-learn dataset (``examples.load_frame`` / ``site_slice``);
NVFlare rounds every statistic to 4 decimals, so those compare within half a unit of the 4th decimal.
"""

from __future__ import annotations

import copy
import json
import shutil

import pandas as pd
import pytest
from matplotlib.figure import Figure

import flare_jupyter as fj
from fakes import RECORDINGS, RecordedSession, load_recording
from flare_jupyter.analysis import FedStats
from flare_jupyter.errors import FlareError
from flare_jupyter.examples import load_frame, site_slice
from flare_jupyter.fedstats_result import find_stats_file, stats_frame
from flare_jupyter.widgets.fedstats import FedStatsExplorer

FOLDER = RECORDINGS / "fedstats-2.9.0"
RAW = (FOLDER / "statistics.json").read_text()
LAYOUT = (FOLDER / "layout.txt").read_text().split()
#: where the run's statistics JSON sat in its downloaded result (the one statistics file of layout.txt)
STATS_PATH = "workspace/statistics/stats.json"
WIDGETS = json.loads((RECORDINGS / "widgets-2.9.0.json").read_text())

DATASET = "breast_cancer"
SITES = ["site-1", "site-2"]  # the recorded run's sites (tests/record_fedstats.py: N_SITES = 2)
BINS = 10
QUANTILES = {0.25, 0.5, 0.75}
NUMBERS = ["value", "low", "high", "quantile"]
TEXT = ["feature", "statistic", "site", "dataset"]
#: NVFlare's 4-decimal rounding (as tests/record_fedstats.py checks it)
ROUNDING = 0.5e-4 + 1e-9

DATA = load_frame(DATASET)
PARTS = {site: site_slice(DATA, site, len(SITES)) for site in SITES}


def result() -> dict:
    """A fresh copy of the recorded statistics (tests delete from it)."""
    return json.loads(RAW)


@pytest.fixture(scope="module")
def stats() -> FedStats:
    return FedStats(result(), source="recorded")


def without(statistic: str, feature: str | None = None) -> dict:
    """The recording with ``statistic`` deleted for ``feature`` (or for every feature)."""
    r = result()
    for f in [feature] if feature else list(r):
        del r[f][statistic]
    return r


def without_site(site: str) -> dict:
    r = result()
    for per_feature in r.values():
        for per_stat in per_feature.values():
            del per_stat[site]
    return r


def rows(frame: pd.DataFrame, **where) -> pd.DataFrame:
    for col, value in where.items():
        frame = frame[frame[col] == value]
    return frame


# -- the tidy frame ------------------------------------------------------------------------------------------------
def test_the_recording_is_what_its_recorder_describes():
    r = result()
    assert list(r) == list(DATA.columns)  # the job's features, in the dataset's column order
    for per_feature in r.values():
        for per_stat in per_feature.values():
            assert set(per_stat) == {*SITES, "Global"}
            assert {d for per_site in per_stat.values() for d in per_site} == {DATASET}


def test_frame_has_one_row_per_number_of_the_result(stats):
    expected = 0
    for per_feature in result().values():
        for statistic, per_stat in per_feature.items():
            for per_site in per_stat.values():
                value = per_site[DATASET]
                expected += len(value) if statistic in ("histogram", "quantile") else 1
    assert len(stats.frame) == expected
    assert list(stats.frame.columns) == ["feature", "statistic", "site", "dataset", "value", "low", "high", "quantile"]


def test_frame_dtypes(stats):
    for col in TEXT:
        assert stats.frame[col].dtype == "string", col
    for col in NUMBERS:
        assert stats.frame[col].dtype == "float64", col


def test_stats_frame_is_the_frame_of_fedstats(stats):
    pd.testing.assert_frame_equal(stats_frame(result()), stats.frame)


def test_plain_statistics_are_the_recorded_numbers(stats):
    r = result()
    plain = stats.frame[~stats.frame["statistic"].isin(["histogram", "quantile"])]
    assert len(plain) == sum(
        len(per_stat) for pf in r.values() for s, per_stat in pf.items() if s not in ("histogram", "quantile")
    )
    for row in plain.itertuples():
        assert row.value == r[row.feature][row.statistic][row.site][row.dataset]
        assert pd.isna(row.low) and pd.isna(row.high) and pd.isna(row.quantile)


def test_histogram_rows_are_buckets_with_their_counts(stats):
    hist = rows(stats.frame, statistic="histogram")
    assert len(hist) == len(DATA.columns) * (len(SITES) + 1) * BINS
    assert (hist["low"] < hist["high"]).all()
    assert hist["quantile"].isna().all()
    r = result()
    for (feature, site), buckets in hist.groupby(["feature", "site"]):
        recorded = r[feature]["histogram"][site][DATASET]
        assert buckets[["low", "high", "value"]].values.tolist() == recorded


def test_each_sites_histogram_counts_add_up_to_its_count(stats):
    hist = rows(stats.frame, statistic="histogram")
    for feature in stats.features:
        for site in [*SITES, "Global"]:
            total = rows(hist, feature=feature, site=site)["value"].sum()
            assert total == stats.value(feature, "count", site)
            assert total == (len(PARTS[site]) if site in PARTS else len(DATA))


def test_global_histogram_is_the_sum_of_the_sites_on_shared_edges(stats):
    for feature in stats.features:
        h = stats.histogram_frame(feature)
        edges = {site: h[h["site"] == site][["low", "high"]].values.tolist() for site in [*SITES, "Global"]}
        assert edges["site-1"] == edges["site-2"] == edges["Global"]
        bounds = edges["Global"]
        assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))  # contiguous buckets
        per_site = [h[h["site"] == site]["count"].tolist() for site in SITES]
        assert [sum(c) for c in zip(*per_site, strict=True)] == h[h["site"] == "Global"]["count"].tolist()


def test_quantile_rows(stats):
    q = rows(stats.frame, statistic="quantile")
    assert set(q["quantile"]) == QUANTILES
    assert q["low"].isna().all() and q["high"].isna().all()
    for (_feature, site), per in q.groupby(["feature", "site"]):
        assert len(per) == 3 and site in {*SITES, "Global"}
        values = per.sort_values("quantile")["value"].tolist()
        assert values == sorted(values)  # quartiles never decrease


def test_global_is_present_and_sites_are_named(stats):
    assert stats.sites == [*SITES, "Global"]
    assert set(stats.frame["site"]) == {*SITES, "Global"}
    assert stats.features == list(DATA.columns)
    assert stats.statistics == ["count", "sum", "mean", "quantile", "stddev", "histogram"]


def test_counts_are_the_rows_of_each_sites_slice_and_of_the_dataset(stats):
    assert len(PARTS["site-1"]) + len(PARTS["site-2"]) == len(DATA)
    for feature in stats.features:
        assert stats.value(feature, "count") == len(DATA)
        for site, part in PARTS.items():
            assert stats.value(feature, "count", site) == len(part)


@pytest.mark.parametrize(("statistic", "compute"), [("sum", "sum"), ("mean", "mean"), ("stddev", "std")])
def test_site_statistics_match_pandas_on_the_sites_slice(stats, statistic, compute):
    for feature in stats.features:
        for site, part in PARTS.items():
            expected = float(getattr(part[feature], compute)())
            assert abs(stats.value(feature, statistic, site) - expected) <= ROUNDING, (feature, site)


def test_global_sum_and_mean_match_pandas_on_the_whole_dataset(stats):
    for feature in stats.features:
        assert abs(stats.value(feature, "mean") - DATA[feature].mean()) <= ROUNDING
        # the global sum adds the sites' 4-decimal sums, and is rounded itself
        assert abs(stats.value(feature, "sum") - DATA[feature].sum()) <= 3 * ROUNDING


def test_repr_names_features_sites_statistics_and_source(stats):
    text = repr(stats)
    assert text.splitlines()[0] == (
        "FedStats: 5 features (mean radius, mean texture, mean perimeter, mean area, mean smoothness), "
        "sites site-1, site-2, Global, statistics count, sum, mean, quantile, stddev, histogram"
    )
    assert text.splitlines()[1] == "from recorded"


def test_html_repr_is_the_summary_table(stats):
    html = stats._repr_html_()
    assert html.startswith("<div><b><bdi>FedStats: 5 features")
    for name in ["site-1", "site-2", "Global", "q0.25", "mean radius", "mean smoothness"]:
        assert name in html
    assert "histogram" not in html.split("</b></div>", 1)[1]


# -- summary -------------------------------------------------------------------------------------------------------
def test_summary_rows_are_the_features_in_file_order(stats):
    assert stats.summary().index.tolist() == list(result())


def test_summary_column_groups_are_the_sites_then_global(stats):
    columns = stats.summary().columns
    assert columns.names == ["site", "statistic"]
    assert list(dict.fromkeys(columns.get_level_values("site"))) == [*SITES, "Global"]
    expected = ["count", "sum", "mean", "q0.25", "q0.5", "q0.75", "stddev"]
    for site in [*SITES, "Global"]:
        assert [s for g, s in columns if g == site] == expected
    assert "histogram" not in set(columns.get_level_values("statistic"))


def test_summary_values_are_the_frames(stats):
    table = stats.summary()
    f = stats.frame
    for feature in stats.features:
        for site, statistic in table.columns:
            if statistic.startswith("q"):
                want = rows(f, feature=feature, site=site, statistic="quantile", quantile=float(statistic[1:]))
            else:
                want = rows(f, feature=feature, site=site, statistic=statistic)
            assert len(want) == 1
            assert table.loc[feature, (site, statistic)] == want["value"].iloc[0]


def test_summary_of_a_feature_without_quantiles_leaves_them_empty():
    s = FedStats(without("quantile", "mean area"))
    table = s.summary()
    assert table.index.tolist() == list(result())
    q = [c for c in table.columns if c[1].startswith("q")]
    assert len(q) == 9
    assert table.loc["mean area", q].isna().all()
    assert table.drop(index="mean area")[q].notna().all().all()
    assert table.loc["mean area", ("site-1", "count")] == len(PARTS["site-1"])


def test_summary_without_a_site_has_no_column_group_for_it():
    s = FedStats(without_site("site-2"))
    assert s.sites == ["site-1", "Global"]
    assert list(dict.fromkeys(s.summary().columns.get_level_values("site"))) == ["site-1", "Global"]


# -- value ---------------------------------------------------------------------------------------------------------
def test_value_is_a_number(stats):
    v = stats.value("mean radius", "count", "site-2")
    assert type(v) is float and v == len(PARTS["site-2"])
    assert stats.value("mean radius", "count", "site-2", dataset=DATASET) == v
    assert stats.value("mean radius", "mean") == result()["mean radius"]["mean"]["Global"][DATASET]


def test_value_of_a_histogram_and_of_quantiles_are_tables(stats):
    h = stats.value("mean texture", "histogram", "site-1")
    assert list(h.columns) == ["low", "high", "value"] and len(h) == BINS
    assert h["value"].sum() == len(PARTS["site-1"])
    q = stats.value("mean texture", "quantile")
    assert list(q.columns) == ["quantile", "value"] and set(q["quantile"]) == QUANTILES


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_value_of_a_statistic_not_computed_for_the_feature_says_what_was():
    s = FedStats(without("quantile", "mean radius"))
    with pytest.raises(FlareError) as e:
        s.value("mean radius", "quantile", "site-1")
    message = one_line_error(e)
    assert "'quantile'" in message and "'mean radius'" in message
    assert "(computed: count, histogram, mean, stddev, sum)" in message
    assert s.value("mean texture", "quantile", "site-1")["value"].notna().all()  # other features keep theirs


def test_value_of_a_statistic_nobody_computed(stats):
    with pytest.raises(FlareError) as e:
        stats.value("mean radius", "variance")
    assert one_line_error(e) == (
        "'variance' was not computed for 'mean radius' (computed: count, histogram, mean, quantile, stddev, sum)"
    )


def test_value_of_an_unknown_feature_lists_the_features(stats):
    with pytest.raises(FlareError) as e:
        stats.value("nope", "mean")
    message = one_line_error(e)
    assert "'nope'" in message
    assert all(f in message for f in stats.features)


def test_value_for_an_unknown_site_lists_the_sites(stats):
    with pytest.raises(FlareError) as e:
        stats.value("mean radius", "mean", "site-9")
    message = one_line_error(e)
    assert "'site-9'" in message and "'mean radius'" in message
    assert "(sites: site-1, site-2, Global)" in message


def test_value_for_a_site_missing_from_the_result():
    s = FedStats(without_site("site-2"))
    with pytest.raises(FlareError) as e:
        s.value("mean radius", "count", "site-2")
    assert "(sites: site-1, Global)" in one_line_error(e)
    assert s.value("mean radius", "count", "site-1") == len(PARTS["site-1"])


def test_value_for_an_unknown_dataset_is_a_clear_error(stats):
    # the dataset is the fourth thing value() filters on; an unknown one must be refused like the others
    with pytest.raises(FlareError) as e:
        stats.value("mean radius", "count", "site-1", dataset="diabetes")
    assert "'diabetes'" in one_line_error(e)


# -- histogram_frame -----------------------------------------------------------------------------------------------
def test_histogram_frame_counts(stats):
    h = stats.histogram_frame("mean area")
    assert list(h.columns) == ["site", "dataset", "low", "high", "count"]
    assert len(h) == (len(SITES) + 1) * BINS
    assert h.groupby("site")["count"].sum().to_dict() == {
        "Global": len(DATA),
        "site-1": len(PARTS["site-1"]),
        "site-2": len(PARTS["site-2"]),
    }


def test_histogram_frame_percents_add_up_to_100_per_site(stats):
    for feature in stats.features:
        h = stats.histogram_frame(feature, percent=True)
        for site, per in h.groupby("site"):
            assert abs(per["percent"].sum() - 100.0) <= 1e-9
            total = len(PARTS[site]) if site in PARTS else len(DATA)
            assert (per["percent"] - per["count"] / total * 100).abs().max() <= 1e-12


def test_histogram_frame_of_a_feature_without_histogram():
    s = FedStats(without("histogram", "mean radius"))
    with pytest.raises(FlareError) as e:
        s.histogram_frame("mean radius")
    assert one_line_error(e) == (
        "'histogram' was not computed for 'mean radius' (computed: count, mean, quantile, stddev, sum)"
    )


# -- histograms (the Figure) ---------------------------------------------------------------------------------------
def visible(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def bars(ax) -> dict:
    """{site: [(left, width, height), ...]} of an axis' bar containers."""
    return {c.get_label(): [(p.get_x(), p.get_width(), p.get_height()) for p in c.patches] for c in ax.containers}


def test_histograms_is_one_visible_axis_per_feature(stats):
    fig = stats.histograms()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6  # a 2 x 3 grid for 5 features
    hidden = [ax for ax in fig.axes if not ax.get_visible()]
    assert len(hidden) == 1 and not hidden[0].patches and not hidden[0].lines
    axes = visible(fig)
    assert [ax.get_title() for ax in axes] == stats.features
    assert [ax.get_xlabel() for ax in axes] == stats.features
    assert {ax.get_ylabel() for ax in axes} == {"rows"}


def test_histograms_bars_are_each_sites_buckets(stats):
    fig = stats.histograms()
    for ax, feature in zip(visible(fig), stats.features, strict=True):
        h = stats.histogram_frame(feature)
        drawn = bars(ax)
        assert sorted(drawn) == SITES
        assert len(ax.patches) == len(SITES) * BINS
        for site in SITES:
            per = h[h["site"] == site]
            assert len(drawn[site]) == BINS
            assert [b[0] for b in drawn[site]] == per["low"].tolist()
            assert [b[2] for b in drawn[site]] == per["count"].tolist()
            assert [b[1] for b in drawn[site]] == pytest.approx((per["high"] - per["low"]).tolist())


def test_histograms_outline_the_global_counts(stats):
    fig = stats.histograms()
    for ax, feature in zip(visible(fig), stats.features, strict=True):
        (line,) = ax.lines
        assert line.get_label() == "Global"
        g = stats.histogram_frame(feature).query("site == 'Global'").sort_values("low")
        assert list(line.get_xdata()) == [*g["low"], g["high"].iloc[-1]]
        assert list(line.get_ydata())[:-1] == g["count"].tolist()


def test_histograms_legend_is_the_sites_and_global(stats):
    for ax in visible(stats.histograms()):
        assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted([*SITES, "Global"])


def test_histograms_in_percent(stats):
    fig = stats.histograms(percent=True)
    for ax, feature in zip(visible(fig), stats.features, strict=True):
        assert ax.get_ylabel() == "percent of rows"
        h = stats.histogram_frame(feature, percent=True)
        for site, drawn in bars(ax).items():
            assert [b[2] for b in drawn] == h[h["site"] == site]["percent"].tolist()
            assert sum(b[2] for b in drawn) == pytest.approx(100.0, abs=1e-9)
        assert list(ax.lines[0].get_ydata())[:-1] == h[h["site"] == "Global"]["percent"].tolist()


def test_histograms_of_one_feature_by_name(stats):
    fig = stats.histograms(features="mean radius")
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "mean radius"


def test_histograms_of_chosen_sites_leave_the_others_out(stats):
    ax = stats.histograms(features=["mean texture"], sites=["site-1"]).axes[0]
    assert sorted(bars(ax)) == ["site-1"] and len(ax.patches) == BINS
    assert not ax.lines  # "Global" was not chosen either
    ax = stats.histograms(features=["mean texture"], sites=["site-1", "Global"]).axes[0]
    assert sorted(bars(ax)) == ["site-1"] and [ln.get_label() for ln in ax.lines] == ["Global"]


def test_histograms_of_an_unknown_feature():
    with pytest.raises(FlareError) as e:
        FedStats(result()).histograms(features=["nope"])
    message = one_line_error(e)
    assert "'nope'" in message and "mean radius" in message


def test_histograms_of_a_result_without_histograms():
    s = FedStats(without("histogram"))
    with pytest.raises(FlareError) as e:
        s.histograms()
    assert "no histogram" in one_line_error(e)


def test_histograms_skip_features_without_one():
    s = FedStats(without("histogram", "mean area"))
    axes = visible(s.histograms())
    assert [ax.get_title() for ax in axes] == ["mean radius", "mean texture", "mean perimeter", "mean smoothness"]
    with pytest.raises(FlareError) as e:
        s.histograms(features="mean area")
    assert "'histogram' was not computed for 'mean area'" in one_line_error(e)


# -- explore -------------------------------------------------------------------------------------------------------
def png(x: FedStatsExplorer) -> bytes:
    return bytes(x.image.value)


@pytest.fixture
def explorer() -> FedStatsExplorer:
    x = FedStats(result()).explore()
    yield x
    x.close()


def test_explorer_offers_the_features_with_a_histogram(explorer):
    assert isinstance(explorer, FedStatsExplorer)
    assert list(explorer.feature.options) == list(result())
    assert list(explorer.site_boxes) == [*SITES, "Global"]
    assert png(explorer).startswith(b"\x89PNG") and explorer.banner.value == ""


def test_explorer_options_leave_out_features_without_histogram():
    x = FedStats(without("histogram", "mean texture")).explore()
    try:
        assert "mean texture" not in x.feature.options and len(x.feature.options) == 4
    finally:
        x.close()


def test_explorer_redraws_in_percent(explorer):
    before = png(explorer)
    explorer.scale.value = "percent"
    assert png(explorer) != before and png(explorer).startswith(b"\x89PNG")
    ax = explorer.figure().axes[0]
    assert ax.get_ylabel() == "percent of rows"
    assert explorer.banner.value == ""


def test_explorer_redraws_without_an_unticked_site(explorer):
    before = png(explorer)
    explorer.site_boxes["site-2"].value = False
    assert png(explorer) != before
    assert explorer.selected_sites == ["site-1", "Global"]
    ax = explorer.figure().axes[0]
    assert sorted(bars(ax)) == ["site-1"] and [ln.get_label() for ln in ax.lines] == ["Global"]
    assert repr(explorer) == "FedStats explorer (mean radius, count, sites site-1, Global)"


def test_explorer_redraws_another_feature(explorer):
    before = png(explorer)
    explorer.feature.value = "mean area"
    assert png(explorer) != before
    fig = explorer.figure()
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "mean area"


def test_explorer_with_every_site_unticked_says_to_tick_one(explorer):
    for box in explorer.site_boxes.values():
        box.value = False
    assert explorer.selected_sites == []
    assert "tick at least one site" in explorer.banner.value  # shown in the widget, nothing raised
    with pytest.raises(ValueError, match="tick at least one site"):
        explorer.figure()
    explorer.site_boxes["site-2"].value = True
    assert explorer.banner.value == ""
    assert sorted(bars(explorer.figure().axes[0])) == ["site-2"]


def test_explorer_shows_an_error_in_its_banner_instead_of_raising(explorer):
    before = png(explorer)
    # the result it explores loses its histograms (derived by deletion): the next redraw cannot draw
    explorer.stats = FedStats(without("histogram"))
    explorer.scale.value = "percent"  # must not raise
    assert "&#x27;histogram&#x27; was not computed for &#x27;mean radius&#x27;" in explorer.banner.value
    assert png(explorer) == before
    explorer.stats = FedStats(result())
    explorer.scale.value = "count"
    assert explorer.banner.value == ""


def test_explore_of_a_result_without_histograms_is_a_clear_error():
    with pytest.raises(FlareError) as e:
        FedStats(without("histogram")).explore()
    assert "no histogram" in one_line_error(e)


# -- reading a result: files and folders ---------------------------------------------------------------------------
def test_the_recorded_layout_has_the_statistics_where_the_job_writes_them():
    assert STATS_PATH in LAYOUT
    assert [p for p in LAYOUT if p.endswith("stats.json")] == [STATS_PATH]


@pytest.fixture
def result_folder(tmp_path):
    """A downloaded job result laid out as the recorded one, holding its JSON files: the statistics the run wrote,
    the recorded job meta (widgets recording) as every meta.json, and the recorded server config as every config."""
    meta = [c["result"] for c in WIDGETS["calls"] if c["method"] == "get_job_meta" and "result" in c][-1]
    config = [c["result"] for c in WIDGETS["calls"] if c["method"] == "cat_target" and "result" in c][0]
    for rel in LAYOUT:
        if not rel.endswith(".json") or rel.split("/")[-1].startswith(".__nvfl"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            continue
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel == STATS_PATH:
            path.write_text(RAW)
        elif path.name == "meta.json":
            path.write_text(json.dumps(meta))
        elif path.parent.name == "config":
            path.write_text(config)
    assert (tmp_path / "meta.json").is_file() and (tmp_path / "workspace/app_server/config").is_dir()
    return tmp_path


def test_find_stats_file_in_a_downloaded_result(result_folder):
    found = find_stats_file(result_folder)
    assert found == result_folder / STATS_PATH
    loaded = FedStats.from_file(found)
    assert loaded.source == str(found)
    pd.testing.assert_frame_equal(loaded.frame, FedStats(result()).frame)


def test_find_stats_file_finds_it_under_another_name(result_folder):
    shutil.move(result_folder / STATS_PATH, result_folder / "workspace/statistics/result.json")
    assert find_stats_file(result_folder) == result_folder / "workspace/statistics/result.json"


def test_find_stats_file_in_a_result_without_statistics(result_folder):
    (result_folder / STATS_PATH).unlink()
    with pytest.raises(FlareError) as e:
        find_stats_file(result_folder)
    assert str(result_folder) in one_line_error(e)


def test_find_stats_file_in_a_missing_folder(tmp_path):
    missing = tmp_path / "not-downloaded"
    with pytest.raises(FlareError) as e:
        find_stats_file(missing)
    assert one_line_error(e) == f"the job result folder {missing} does not exist"


def test_from_file_of_a_file_that_is_not_json():
    with pytest.raises(FlareError) as e:
        FedStats.from_file(FOLDER / "layout.txt")
    assert one_line_error(e).startswith(f"cannot read the statistics file {FOLDER / 'layout.txt'}")


def test_fedstats_of_nothing_is_a_clear_error():
    with pytest.raises(FlareError, match="holds no statistics"):
        FedStats({})


def test_deleting_does_not_touch_the_recording():
    r = result()
    before = copy.deepcopy(r)
    without("quantile", "mean radius")
    without_site("site-1")
    assert result() == before


# -- fj.fedstats through recorded sessions -------------------------------------------------------------------------
def test_fedstats_of_an_aborted_job(install):
    install(RecordedSession(WIDGETS))
    job = WIDGETS["jobs"]["aborted"]
    with pytest.raises(FlareError) as e:
        fj.fedstats(job)
    assert one_line_error(e) == f"job {job} ended FINISHED:ABORTED, so it wrote no statistics: see %flare logs {job}"


def test_fedstats_of_a_running_job(install):
    raw = RecordedSession(WIDGETS, sequence=True)  # its first recorded meta: RUNNING
    install(raw)
    job = WIDGETS["jobs"]["three_rounds"]
    with pytest.raises(FlareError) as e:
        fj.fedstats(job)
    assert one_line_error(e).startswith(f"job {job} is RUNNING: its statistics are written when it finishes")
    assert [name for name, _ in raw.calls] == ["get_job_meta"]


def test_fedstats_of_a_finished_job_whose_download_is_gone(install):
    recording = load_recording("2.9.0")
    raw = RecordedSession(recording)
    install(raw)
    job = recording["jobs"]["finished"]
    (answer,) = [c["result"] for c in recording["calls"] if c["method"] == "download_job_result"]
    with pytest.raises(FlareError) as e:
        fj.fedstats(job)
    assert one_line_error(e) == f"the job result folder {answer} does not exist"
    assert [name for name, _ in raw.calls] == ["get_job_meta", "download_job_result"]
