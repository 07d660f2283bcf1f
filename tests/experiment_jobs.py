"""Jobs for the experiment tests and recordings: a NumPy FedAvg whose sites report two metrics with values of
their own, written as an NVFlare recipe (2.7+), a ``FedJob`` (every release) or a job folder.

The client takes its settings as script arguments (``--lr``), can be told to fail (``--fail-site site-2
--fail-round 1`` raises ``RuntimeError`` there, while the other sites take 5 s over that round: nvflare 2.5's FedAvg
ends the run only when the failure comes before any other site's result, else it completes the round without it)
or to hold a round until a file exists (``--hold-round 2 --hold-file F``: the job stays RUNNING after rounds 0 and
1, so a test reads its metrics mid-run without racing it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flare_jupyter import compat

CLIENT_NAME = "client.py"
#: The line of CLIENT that raises when told to fail (the triage must name it).
FAIL_LINE = 'raise RuntimeError(f"{site} cannot train round {rnd}")'
CLIENT = f'''\
"""Two metrics per round, with site-specific values; fails or holds a round when told to."""

import argparse
import os
import time

import numpy as np
import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--fail-site", default="")
parser.add_argument("--fail-round", type=int, default=-1)
parser.add_argument("--hold-round", type=int, default=-1)
parser.add_argument("--hold-file", default="")
args = parser.parse_args()


def train(site, rnd, params):
    if site == args.fail_site and rnd == args.fail_round:
        {FAIL_LINE}
    if rnd == args.hold_round:
        deadline = time.monotonic() + 150
        while not os.path.exists(args.hold_file) and time.monotonic() < deadline:
            time.sleep(0.2)
    if args.fail_site and site != args.fail_site and rnd == args.fail_round:
        time.sleep(5)  # the other sites train that round slowly: the failure reaches the server first
    index = int(site.rsplit("-", 1)[-1])
    accuracy = round(min(0.99, 0.5 + args.lr * (rnd + 1) + 0.01 * index), 4)
    loss = round(1.0 / (rnd + 1 + index), 4)
    return {{k: np.asarray(v) + args.lr for k, v in params.items()}}, {{"accuracy": accuracy, "train_loss": loss}}


flare.init()
site = flare.get_site_name()
while flare.is_running():
    model = flare.receive()
    params, metrics = train(site, model.current_round or 0, model.params)
    flare.send(FLModel(params=params, metrics=metrics, meta={{"NUM_STEPS_CURRENT_ROUND": 1}}))
'''


def client_args(lr: float = 0.1, fail_site: str = "", fail_round: int = -1, hold_file: str = "") -> str:
    parts = [f"--lr {lr}"]
    if fail_site:
        parts.append(f"--fail-site {fail_site} --fail-round {fail_round}")
    if hold_file:
        parts.append(f"--hold-round 2 --hold-file {hold_file}")
    return " ".join(parts)


def write_client(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLIENT_NAME).write_text(CLIENT)
    return folder / CLIENT_NAME


@contextlib.contextmanager
def inside(folder: Path):
    """Work in ``folder`` (NVFlare records a recipe's script by the path it was given, relative to here)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)


def recipe(name: str, rounds: int = 3, **client):
    """NVFlare's ``NumpyFedAvgRecipe`` (2.7+) over ``client.py`` of the working folder."""
    return compat.NumpyFedAvgRecipe(
        name=name,
        model=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        min_clients=2,
        num_rounds=rounds,
        train_script=CLIENT_NAME,
        train_args=client_args(**client),
    )


def fed_job(name: str, rounds: int = 3, **client):
    """The same training as a plain ``FedJob`` (every release; no NVFlare metrics writer in it): a FedAvg controller,
    NumPy persistor, a model selector on ``accuracy`` (whose log lines are the metrics' fallback) and the script."""
    from nvflare.app_common.np.np_model_persistor import NPModelPersistor
    from nvflare.app_common.widgets.intime_model_selector import IntimeModelSelector
    from nvflare.app_common.workflows.fedavg import FedAvg
    from nvflare.job_config.api import FedJob
    from nvflare.job_config.script_runner import FrameworkType, ScriptRunner

    job = FedJob(name=name, min_clients=2)
    job.to_server(FedAvg(num_clients=2, num_rounds=rounds), id="controller")
    job.to_server(NPModelPersistor(), id="persistor")
    job.to_server(IntimeModelSelector(key_metric="accuracy"), id="model_selector")
    job.to_clients(ScriptRunner(script=CLIENT_NAME, script_args=client_args(**client), framework=FrameworkType.NUMPY))
    return job


def any_job(name: str, rounds: int = 3, **client):
    """A recipe where the release has them (2.7+), else a FedJob."""
    return recipe(name, rounds, **client) if compat.NumpyFedAvgRecipe is not None else fed_job(name, rounds, **client)
