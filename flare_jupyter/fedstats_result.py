"""Federated statistics results as tidy DataFrames, a summary table and histograms.

NVFlare's statistics controller writes one JSON file: ``{feature: {statistic: {site or "Global": {dataset: value}}}}``
where a histogram value is ``[[low, high, count], ...]`` and a quantile value is ``{p: value}``. ``FedStats`` turns
it into one long table (``.frame``) with a row per number, so every question is a pandas filter away.

Pure: no IPython, no widgets (the interactive explorer is ``analysis.FedStats.explore``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from . import render
from .errors import FlareError

GLOBAL = "Global"
COLUMNS = ["feature", "statistic", "site", "dataset", "value", "low", "high", "quantile"]
#: Where NVFlare's statistics controller writes its result (relative to the job's server workspace) by default.
STATS_FILE_NAMES = ("stats.json", "statistics.json", "adults_stats.json")


def stats_frame(result: dict) -> pd.DataFrame:
    """The tidy table of a statistics result: one row per number.

    Columns: feature, statistic, site ("Global" for the combined figures), dataset, value; for a histogram bucket
    low and high (its edges) with value = the bucket's count; for a quantile, quantile = p."""
    rows = []
    for feature, stats in (result or {}).items():
        for statistic, by_site in (stats or {}).items():
            for site, by_dataset in (by_site or {}).items():
                for dataset, value in (by_dataset or {}).items():
                    rows.extend(_rows(feature, statistic, site, dataset, value))
    df = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("feature", "statistic", "site", "dataset"):
        df[col] = df[col].astype("string")
    for col in ("value", "low", "high", "quantile"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def _rows(feature, statistic, site, dataset, value):
    base = {"feature": feature, "statistic": statistic, "site": site, "dataset": dataset}
    if statistic == "histogram" and isinstance(value, list):
        return [
            {**base, "value": b[2], "low": b[0], "high": b[1]} for b in value if isinstance(b, list) and len(b) == 3
        ]
    if statistic == "quantile" and isinstance(value, dict):
        return [{**base, "value": v, "quantile": float(p)} for p, v in value.items()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [{**base, "value": value}]
    return []


class FedStats:
    """A federated statistics result: ``.frame`` (tidy), ``.summary()``, ``.histograms()``. What ``fj.fedstats``
    returns adds ``.explore()``, the interactive histogram (``analysis.FedStats``)."""

    def __init__(self, result: dict, source: str = ""):
        if not isinstance(result, dict) or not result:
            raise FlareError(f"{source or 'the result'} holds no statistics")
        self.result = result
        self.source = source
        self.frame = stats_frame(result)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> FedStats:
        path = Path(path)
        try:
            return cls(json.loads(path.read_text()), source=str(path))
        except (OSError, ValueError) as e:
            raise FlareError(f"cannot read the statistics file {path}: {e}") from None

    # -- what is there -----------------------------------------------------------------------------------------
    @property
    def features(self) -> list[str]:
        return list(self.result)

    @property
    def sites(self) -> list[str]:
        """The sites, in name order, then "Global"."""
        names = sorted({str(s) for s in self.frame["site"]} - {GLOBAL})
        return names + ([GLOBAL] if (self.frame["site"] == GLOBAL).any() else [])

    @property
    def statistics(self) -> list[str]:
        return list(dict.fromkeys(str(s) for s in self.frame["statistic"]))

    def value(self, feature: str, statistic: str, site: str = GLOBAL, dataset: str | None = None):
        """One number (or a histogram / quantile table); a clear error when it was not computed."""
        rows = self._rows(feature, statistic, site, dataset)
        if statistic in ("histogram", "quantile"):
            return rows[["low", "high", "value"] if statistic == "histogram" else ["quantile", "value"]]
        return float(rows["value"].iloc[0])

    def _rows(self, feature, statistic, site=GLOBAL, dataset=None) -> pd.DataFrame:
        if feature not in self.result:
            raise FlareError(f"no feature {feature!r} in these statistics (features: {', '.join(self.features)})")
        f = self.frame[(self.frame["feature"] == feature) & (self.frame["statistic"] == statistic)]
        if f.empty:
            have = sorted({str(s) for s in self.frame.loc[self.frame["feature"] == feature, "statistic"]})
            raise FlareError(f"{statistic!r} was not computed for {feature!r} (computed: {', '.join(have) or 'none'})")
        f = f[f["site"] == site]
        if f.empty:
            raise FlareError(f"no {statistic} of {feature!r} for site {site!r} (sites: {', '.join(self.sites)})")
        if dataset is not None:
            have = sorted({str(d) for d in f["dataset"]})
            f = f[f["dataset"] == dataset]
            if f.empty:
                raise FlareError(
                    f"no dataset {dataset!r} in the {statistic} of {feature!r} (datasets: {', '.join(have)})"
                )
        return f

    # -- tables ------------------------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Features × statistics, one column group per site (Global last): count, sum, mean, stddev, ... and one
        column per quantile (``q0.25`` ...). Histograms are left to ``.histograms()``."""
        f = self.frame[self.frame["statistic"] != "histogram"].copy()
        q = f["statistic"] == "quantile"
        f.loc[q, "statistic"] = "q" + f.loc[q, "quantile"].map(lambda p: f"{p:g}")
        table = f.pivot_table(index="feature", columns=["site", "statistic"], values="value", aggfunc="first")
        order = [s for s in self.sites if s in table.columns.get_level_values(0)]
        stats = list(dict.fromkeys(str(s) for s in f["statistic"]))
        columns = [(site, stat) for site in order for stat in stats if (site, stat) in table.columns]
        table = table[columns]
        table.columns = pd.MultiIndex.from_tuples(columns, names=["site", "statistic"])
        return table.reindex([x for x in self.features if x in table.index])

    def histogram_frame(self, feature: str, percent: bool = False) -> pd.DataFrame:
        """One feature's histogram: a row per bucket and site (low, high, site, count or percent)."""
        f = self.frame[(self.frame["feature"] == feature) & (self.frame["statistic"] == "histogram")]
        if f.empty:
            self._rows(feature, "histogram")  # raises the clear error
        out = f[["site", "dataset", "low", "high", "value"]].rename(columns={"value": "count"}).reset_index(drop=True)
        if percent:
            totals = out.groupby(["site", "dataset"])["count"].transform("sum")
            out["percent"] = (out["count"] / totals.where(totals > 0) * 100).fillna(0.0)
        return out

    # -- plots -------------------------------------------------------------------------------------------------
    def histograms(self, features=None, percent: bool = False, sites=None):
        """One axis per feature: each site's histogram, and the global one outlined. Returns the Figure."""
        from .plots import histograms_figure  # deferred: matplotlib takes about half a second to import

        features = self._features(features)
        frames = {f: self.histogram_frame(f, percent=percent) for f in features}
        return histograms_figure(frames, percent=percent, sites=sites)

    def _features(self, features) -> list[str]:
        if features is None:
            have = set(self.frame.loc[self.frame["statistic"] == "histogram", "feature"])
            features = [f for f in self.features if f in have]
            if not features:
                raise FlareError("these statistics hold no histogram: compute one with the 'histogram' statistic")
        elif isinstance(features, str):
            features = [features]
        for f in features:
            if f not in self.result:
                raise FlareError(f"no feature {f!r} in these statistics (features: {', '.join(self.features)})")
        return list(features)

    def __repr__(self) -> str:
        return (
            f"FedStats: {len(self.features)} features ({', '.join(self.features)}), sites {', '.join(self.sites)}, "
            f"statistics {', '.join(self.statistics)}" + (f"\nfrom {self.source}" if self.source else "")
        )

    def _repr_html_(self) -> str:
        table = self.summary().to_html(escape=True, float_format=lambda v: f"{v:.4g}")
        return render.titled(repr(self).splitlines()[0], table)


def find_stats_file(folder: str | os.PathLike) -> Path:
    """The statistics JSON inside a downloaded job result (``workspace/.../*.json`` shaped like a statistics
    result); a clear error when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FlareError(f"the job result folder {folder} does not exist")
    candidates = sorted(folder.rglob("*.json"), key=lambda p: (p.name not in STATS_FILE_NAMES, len(p.parts), str(p)))
    for path in candidates:
        if path.name in ("meta.json", "fed_admin.json") or "config" in path.parent.name:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _looks_like_stats(data):
            return path
    raise FlareError(
        f"no statistics file in the job's result ({folder}): is this a federated statistics job "
        "(e.g. fj.examples.fed_stats), and did it complete?"
    )


def _looks_like_stats(data) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    first = next(iter(data.values()))
    return (
        isinstance(first, dict)
        and bool(first)
        and all(isinstance(v, dict) for v in first.values())
        and any(k in first for k in ("count", "sum", "mean", "stddev", "histogram", "quantile", "variance"))
    )
