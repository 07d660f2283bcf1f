"""Runnable example jobs for demos and tests, built with NVFlare's own job API."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import FlareError

_CODE = Path(__file__).parent / "example_code"


def hello_numpy(dest: str | os.PathLike, num_rounds: int = 3, min_clients: int = 2, name: str = "hello-numpy") -> str:
    """Write a FedAvg job over a small NumPy model into ``dest/<name>``; return the job folder's path.

    Built with NVFlare's ``NumpyFedAvgRecipe``; each client adds 1 to the weights and reports an ``accuracy``
    metric every round.
    """
    for label, value in (("num_rounds", num_rounds), ("min_clients", min_clients)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FlareError(f"{label} must be a whole number >= 1, not {value!r}")
    from .compat import NumpyFedAvgRecipe

    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "client.py"
        shutil.copy(_CODE / "hello_numpy_client.py", script)
        cwd = os.getcwd()
        os.chdir(tmp)  # the recipe records the script by the name it was given
        try:
            recipe = NumpyFedAvgRecipe(
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
    return str(job)


def fed_stats(
    dest: str | os.PathLike, dataset: str = "breast_cancer", n_sites: int = 2, bins: int = 10, name: str = "fed-stats"
) -> str:
    """Write a federated-statistics job over scikit-learn's bundled ``dataset`` (``breast_cancer`` or ``diabetes``,
    no download), each site holding its own slice of the rows; return the job folder's path.

    The sites compute count, sum, mean, stddev, a ``bins``-bin histogram and quartiles of a few numeric columns;
    ``fj.fedstats(job_id)`` reads the result once the job finished. Built with NVFlare's ``FedStatsRecipe``.
    """
    from .fedstats_job import fed_stats_job

    return fed_stats_job(dest, dataset=dataset, n_sites=n_sites, bins=bins, name=name)
