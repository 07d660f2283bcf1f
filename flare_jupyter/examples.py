"""Runnable example jobs for demos and tests, built with NVFlare's own job API: ``hello_numpy`` (FedAvg over a tiny
NumPy model) and ``fed_stats`` (federated statistics over a scikit-learn dataset split between the sites, in
contiguous, deterministic row blocks: ``site_slice`` recomputes any site's block locally, so results can be checked
against pandas)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from . import compat
from .errors import FlareError
from .metrics import ROUND_METRICS_READABLE
from .values import whole_number

_CODE = Path(__file__).parent / "example_code"


def hello_numpy(dest: str | os.PathLike, num_rounds: int = 3, min_clients: int = 2, name: str = "hello-numpy") -> str:
    """Write a FedAvg job over a small NumPy model into ``dest/<name>``; return the job folder's path.

    Built with NVFlare's ``NumpyFedAvgRecipe``; each client adds 1 to the weights and reports an ``accuracy``
    metric every round.
    """
    whole_number("num_rounds", num_rounds)
    whole_number("min_clients", min_clients)

    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "client.py"
        shutil.copy(_CODE / "hello_numpy_client.py", script)
        cwd = os.getcwd()
        os.chdir(tmp)  # the recipe records the script by the name it was given
        try:
            recipe = (compat.NumpyFedAvgRecipe or _NumpyFedAvgRecipe)(
                name=name,
                model=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
                min_clients=min_clients,
                num_rounds=num_rounds,
                train_script="client.py",
            )
            recipe.export(str(dest))
        finally:
            os.chdir(cwd)
    job = dest / name
    if not (job / "meta.json").is_file():
        raise FlareError(f"NVFlare did not write a job folder at {job}")
    add_readable_metrics(job)
    return str(job)


#: NVFlare's metrics writer (the last part of its class path) and the id of our readable copy of it in a job's config.
METRICS_WRITER = "MetricsArtifactWriter"
READABLE_WRITER_ID = "fj_readable_metrics"


def add_readable_metrics(job_folder: str | os.PathLike) -> bool:
    """Give a job's server app a second copy of NVFlare's metrics writer, writing the same round records under a
    name NVFlare's file commands can read while the job runs (``metrics.ROUND_METRICS_READABLE``). Only where the
    job has NVFlare's writer (nvflare >= 2.9); returns whether it did. Idempotent."""
    added = False
    for config in Path(job_folder).rglob("config_fed_server.json"):
        data = json.loads(config.read_text())
        components = data.get("components") or []
        writers = [c for c in components if isinstance(c, dict) and str(c.get("path", "")).endswith(METRICS_WRITER)]
        if not writers or any(c.get("id") == READABLE_WRITER_ID for c in components):
            continue
        args = dict(writers[0].get("args") or {})
        args.update(
            round_file_name=os.path.basename(ROUND_METRICS_READABLE),
            summary_file_name="metrics_summary.copy.json",
        )
        components.append({"id": READABLE_WRITER_ID, "path": writers[0]["path"], "args": args})
        config.write_text(json.dumps(data, indent=4))
        added = True
    return added


# -- hello-numpy before job recipes (nvflare < 2.7) ---------------------------------------------------------------
_NP_PERSISTOR_MODULE = "fj_numpy_persistor"


class _NumpyFedAvgRecipe:
    """What ``nvflare.app_common.np.recipes.fedavg.NumpyFedAvgRecipe`` (2.7+) writes, built with the ``FedJob`` API
    of older releases: a FedAvg controller, a NumPy persistor starting from ``model``, a model selector on
    ``key_metric`` (its log lines "validation metric X from client Y" feed our progress) and the training script
    run in-process on every client. Only the arguments flare-jupyter uses are accepted."""

    def __init__(
        self, *, name: str, model, min_clients: int, num_rounds: int, train_script: str, key_metric: str = "accuracy"
    ):
        self.name, self.model, self.min_clients, self.num_rounds = name, model, min_clients, num_rounds
        self.train_script, self.key_metric = train_script, key_metric

    def export(self, job_dir: str) -> None:
        # deferred: NVFlare's job API takes about a second to import, and only this fallback for 2.5 needs it
        from nvflare.app_common.np.np_model_persistor import NPModelPersistor
        from nvflare.app_common.widgets.intime_model_selector import IntimeModelSelector
        from nvflare.app_common.workflows.fedavg import FedAvg
        from nvflare.job_config.api import FedJob
        from nvflare.job_config.script_runner import FrameworkType, ScriptRunner

        job = FedJob(name=self.name, min_clients=self.min_clients)
        job.to_server(FedAvg(num_clients=self.min_clients, num_rounds=self.num_rounds), id="controller")
        job.to_server(NPModelPersistor(), id="persistor")
        job.to_server(IntimeModelSelector(key_metric=self.key_metric), id="model_selector")
        job.to_clients(ScriptRunner(script=self.train_script, framework=FrameworkType.NUMPY))
        job.export_job(job_dir)
        app = os.path.join(job_dir, self.name, "app")
        config_file = os.path.join(app, "config", "config_fed_server.json")
        with open(config_file) as f:
            config = json.load(f)
        for comp in config.get("components", []):
            if comp.get("id") == "persistor":
                comp["path"] = f"{_NP_PERSISTOR_MODULE}.InitialNPModelPersistor"
                comp["args"] = {"model": self.model}
        with open(config_file, "w") as f:
            json.dump(config, f, indent=4)
        os.makedirs(os.path.join(app, "custom"), exist_ok=True)
        shutil.copy(_CODE / f"{_NP_PERSISTOR_MODULE}.py", os.path.join(app, "custom"))


# -- federated statistics over scikit-learn data -------------------------------------------------------------------
_CLIENT = "fedstats_client"  # module name of the client code inside the job's ``custom`` folder

# NVFlare's privacy filters, set explicitly (these are FedStatsRecipe's defaults): a site reports nothing for a
# feature with fewer than MIN_COUNT rows, and no histogram with as many bins as MAX_BINS_PERCENT % of its rows.
MIN_COUNT = 10
MAX_BINS_PERCENT = 10
QUANTILES = [0.25, 0.5, 0.75]


def _client_module():
    """The packaged client code, imported under its package name (for the helpers below)."""
    # deferred: it imports scikit-learn and NVFlare's DataFrame statistics (absent in 2.5)
    from .example_code import fedstats_client

    return fedstats_client


def datasets() -> list[str]:
    """Names accepted by ``fed_stats(dataset=...)``."""
    return sorted(_client_module().DATASETS)


def load_frame(dataset: str = "breast_cancer") -> pd.DataFrame:
    """The whole dataset with the job's feature columns: exactly what the sites split between them."""
    if dataset not in _client_module().DATASETS:
        raise FlareError(f"dataset must be one of {datasets()}, not {dataset!r}")
    return _client_module().load_frame(dataset)


def site_slice(frame: pd.DataFrame, site_name: str, n_sites: int) -> pd.DataFrame:
    """The rows of ``frame`` that ``site_name`` (``site-1`` ... ``site-<n_sites>``) holds in a ``fed_stats`` job."""
    try:
        return _client_module().site_slice(frame, site_name, n_sites)
    except ValueError as e:
        raise FlareError(str(e))


def fed_stats(
    dest: str | os.PathLike,
    dataset: str = "breast_cancer",
    n_sites: int = 2,
    bins: int = 10,
    name: str = "fed-stats",
) -> str:
    """Write a federated-statistics job over scikit-learn's bundled ``dataset`` (``breast_cancer`` or ``diabetes``,
    no download), each site holding its own slice of the rows; return the job folder's path (``dest/<name>``).

    Sites ``site-1`` ... ``site-<n_sites>`` each compute count, sum, mean, stddev, a ``bins``-bin histogram and the
    0.25/0.5/0.75 quantiles of a handful of numeric columns of their own block of rows (``site_slice``); the server
    combines them into global statistics and writes them as JSON to ``statistics/stats.json`` in the job's server
    workspace, which ``fj.fedstats(job_id)`` reads once the job finished. Built with NVFlare's ``FedStatsRecipe``.
    Quantiles need NVFlare's optional ``fastdigest`` package on the sites and the server.
    """
    whole_number("n_sites", n_sites)
    whole_number("bins", bins)
    frame = load_frame(dataset)
    smallest = len(frame) // n_sites
    if smallest < MIN_COUNT:
        raise FlareError(f"{n_sites} sites leave {smallest} rows of {dataset} per site, below the minimum {MIN_COUNT}")
    if bins >= round(smallest * MAX_BINS_PERCENT / 100):
        raise FlareError(
            f"{bins} bins is too many for {smallest} rows per site: NVFlare drops histograms whose bins reach "
            f"{MAX_BINS_PERCENT}% of a site's rows"
        )
    from nvflare.recipe.fedstats import FedStatsRecipe  # deferred: it imports much of NVFlare, and 2.5 lacks it

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
