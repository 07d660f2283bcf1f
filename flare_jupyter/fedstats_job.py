"""A runnable federated-statistics job over real tabular data, built with NVFlare's ``FedStatsRecipe``.

The data is a dataset shipped with scikit-learn (no download), split into contiguous, deterministic row blocks:
``site-1`` holds the first block, ``site-2`` the next, and so on. ``site_slice`` recomputes any site's block locally,
so results can be checked against pandas.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .errors import FlareError

_CODE = Path(__file__).parent / "example_code"
_CLIENT = "fedstats_client"  # module name of the client code inside the job's ``custom`` folder

# NVFlare's privacy filters, set explicitly (these are FedStatsRecipe's defaults): a site reports nothing for a
# feature with fewer than MIN_COUNT rows, and no histogram with as many bins as MAX_BINS_PERCENT % of its rows.
MIN_COUNT = 10
MAX_BINS_PERCENT = 10
QUANTILES = [0.25, 0.5, 0.75]


def _client_module():
    """The packaged client code, imported under its package name (for the helpers below)."""
    from .example_code import fedstats_client

    return fedstats_client


def datasets() -> list[str]:
    """Names accepted by ``fed_stats_job(dataset=...)``."""
    return sorted(_client_module().DATASETS)


def load_frame(dataset: str = "breast_cancer") -> pd.DataFrame:
    """The whole dataset with the job's feature columns: exactly what the sites split between them."""
    if dataset not in _client_module().DATASETS:
        raise FlareError(f"dataset must be one of {datasets()}, not {dataset!r}")
    return _client_module().load_frame(dataset)


def site_slice(frame: pd.DataFrame, site_name: str, n_sites: int) -> pd.DataFrame:
    """The rows of ``frame`` that ``site_name`` (``site-1`` ... ``site-<n_sites>``) holds in a ``fed_stats_job``."""
    try:
        return _client_module().site_slice(frame, site_name, n_sites)
    except ValueError as e:
        raise FlareError(str(e))


def fed_stats_job(
    dest: str | os.PathLike,
    dataset: str = "breast_cancer",
    n_sites: int = 2,
    bins: int = 10,
    name: str = "fed-stats",
) -> str:
    """Write a federated statistics job into ``dest/<name>``; return the job folder's path.

    Sites ``site-1`` ... ``site-<n_sites>`` each compute count, sum, mean, stddev, a ``bins``-bin histogram and the
    0.25/0.5/0.75 quantiles of a handful of numeric columns of their own slice of the scikit-learn ``dataset``
    (``breast_cancer`` or ``diabetes``); the server combines them into global statistics and writes them as JSON
    to ``statistics/stats.json`` in the job's server workspace (downloaded with the job's result). Quantiles need
    NVFlare's optional ``fastdigest`` package on the sites and the server; without it they come back empty.
    """
    for label, value in (("n_sites", n_sites), ("bins", bins)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FlareError(f"{label} must be a whole number >= 1, not {value!r}")
    frame = load_frame(dataset)
    smallest = len(frame) // n_sites
    if smallest < MIN_COUNT:
        raise FlareError(f"{n_sites} sites leave {smallest} rows of {dataset} per site, below the minimum {MIN_COUNT}")
    if bins >= round(smallest * MAX_BINS_PERCENT / 100):
        raise FlareError(
            f"{bins} bins is too many for {smallest} rows per site: NVFlare drops histograms whose bins reach "
            f"{MAX_BINS_PERCENT}% of a site's rows"
        )
    from nvflare.recipe.fedstats import FedStatsRecipe

    sites = [f"site-{i}" for i in range(1, n_sites + 1)]
    configs = {
        "count": {},
        "sum": {},
        "mean": {},
        "stddev": {},
        "histogram": {"*": {"bins": bins}},
        "quantile": {"*": list(QUANTILES)},
    }
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    saved = sys.modules.pop(_CLIENT, None)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / f"{_CLIENT}.py"
        shutil.copy(_CODE / f"{_CLIENT}.py", script)
        # NVFlare copies a component's source file into the job's ``custom`` folder under its module name, so the
        # generator must come from a top-level ``fedstats_client`` module, not from this package.
        spec = importlib.util.spec_from_file_location(_CLIENT, script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_CLIENT] = module
        try:
            spec.loader.exec_module(module)
            recipe = FedStatsRecipe(
                name=name,
                stats_output_path="statistics/stats.json",
                sites=sites,
                statistic_configs=configs,
                stats_generator=module.SklearnSliceStatistics(sites=sites, dataset=dataset),
                min_count=MIN_COUNT,
                max_bins_percent=MAX_BINS_PERCENT,
            )
            recipe.export(str(dest))
        finally:
            sys.modules.pop(_CLIENT, None)
            if saved is not None:
                sys.modules[_CLIENT] = saved
    job = dest / name
    if not (job / "meta.json").is_file():
        raise FlareError(f"NVFlare did not write a job folder at {job}")
    return str(job)
