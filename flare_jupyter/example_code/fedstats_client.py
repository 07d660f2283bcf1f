"""fed-stats client: the local statistics generator that FLARE runs on every site of the federated statistics job.

Each site loads a real tabular dataset shipped with scikit-learn (no download) and keeps only its own contiguous
block of rows: with ``n`` rows and ``k`` sites, the site at position ``i`` of ``sites`` holds rows
``[i * n // k, (i + 1) * n // k)``. NVFlare's ``DFStatisticsCore`` computes count, sum, mean, stddev, histogram and
quantiles from that pandas DataFrame; only those statistics leave the site. Quantiles need the optional
``fastdigest`` package (as in NVFlare); without it they are reported empty.

This file is copied into the job's ``custom`` folder, so it depends on nothing but NVFlare, pandas and scikit-learn.
"""

from __future__ import annotations

from math import sqrt

import pandas as pd
from nvflare.app_common.app_constant import StatisticsConstants
from nvflare.app_opt.statistics.df.df_core_statistics import DFStatisticsCore

# A handful of numeric columns per dataset keeps the job small and fast.
DATASETS = {
    "breast_cancer": ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"],
    "diabetes": ["age", "bmi", "bp", "s1", "target"],
}


def load_frame(dataset: str = "breast_cancer") -> pd.DataFrame:
    """The whole dataset (every row), restricted to the job's feature columns, as a float DataFrame."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    from sklearn import datasets

    if dataset == "breast_cancer":
        frame = datasets.load_breast_cancer(as_frame=True).frame
    else:
        frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
    return frame[DATASETS[dataset]].astype("float64").reset_index(drop=True)


def site_bounds(n_rows: int, index: int, n_sites: int) -> tuple[int, int]:
    """The ``[start, stop)`` row range of the site at 0-based position ``index`` among ``n_sites`` sites."""
    if not 0 <= index < n_sites:
        raise ValueError(f"site index {index} is outside 0..{n_sites - 1}")
    return index * n_rows // n_sites, (index + 1) * n_rows // n_sites


def site_index(site_name: str, sites: list[str] | None = None, n_sites: int | None = None) -> int:
    """0-based position of ``site_name``: in ``sites`` when given, else parsed from ``site-<k>`` (k from 1)."""
    if sites:
        if site_name not in sites:
            raise ValueError(f"site {site_name!r} is not one of {sites}")
        return sites.index(site_name)
    prefix, _, number = site_name.rpartition("-")
    if prefix != "site" or not number.isdigit() or int(number) < 1 or (n_sites and int(number) > n_sites):
        raise ValueError(f"cannot place site {site_name!r} among site-1..site-{n_sites or 'N'}")
    return int(number) - 1


def site_slice(frame: pd.DataFrame, site_name: str, n_sites: int, sites: list[str] | None = None) -> pd.DataFrame:
    """The rows of ``frame`` that ``site_name`` holds when the data is split across ``n_sites`` sites."""
    start, stop = site_bounds(len(frame), site_index(site_name, sites, n_sites), n_sites)
    return frame.iloc[start:stop]


class SklearnSliceStatistics(DFStatisticsCore):
    """Local statistics over this site's slice of a scikit-learn dataset, reported as one dataset named after it."""

    _always_serialize_args = ("dataset",)  # name the dataset in the job config even when it is the default

    def __init__(self, sites: list, dataset: str = "breast_cancer", max_bin: int | None = None):
        super().__init__(max_bin=max_bin)
        # the job config stores these attributes as the constructor's arguments: keep the names identical
        self.sites = list(sites)
        self.dataset = dataset

    def initialize(self, fl_ctx):
        site = fl_ctx.get_identity_name()
        part = site_slice(load_frame(self.dataset), site, len(self.sites), self.sites)
        self.log_info(fl_ctx, f"{site}: {len(part)} rows of {self.dataset} ({', '.join(part.columns)})")
        self.data = {self.dataset: part}

    def quantiles(self, dataset_name: str, feature_name: str, percents: list) -> dict:
        """Local quantiles plus the compressed t-digest the server merges into global ones.

        NVFlare's own version builds the digest with the fastdigest 0.4 API (``TDigest(values)`` then ``compress``),
        which later releases (e.g. 0.12) replaced by ``TDigest.from_values(values, max_centroids=...)``; both are
        accepted here. The result has the same shape as NVFlare's.
        """
        try:
            from fastdigest import TDigest
        except ImportError:
            return {StatisticsConstants.STATS_QUANTILE: {}}
        values = self.data[dataset_name][feature_name].dropna().to_numpy(dtype="float64")
        max_bin = self.max_bin or round(sqrt(len(values)))
        if hasattr(TDigest, "from_values"):
            digest = TDigest.from_values(values.tolist(), max_centroids=max_bin)
        else:
            digest = TDigest(values)
            digest.compress(max_bin)
        return {
            StatisticsConstants.STATS_QUANTILE: {p: round(digest.quantile(p), 4) for p in percents},
            StatisticsConstants.STATS_DIGEST_COORD: digest.to_dict(),
        }
