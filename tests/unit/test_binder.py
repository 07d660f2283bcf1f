"""binder/ gives a Binder user the package, JupyterLab with widgets, and the quickstart notebook opened."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def test_postbuild_installs_the_package_with_jupyterlab():
    post = (BINDER / "postBuild").read_text()
    assert post.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in post
    assert 'pip install --no-cache-dir -e ".[lab]"' in post
    pyproject = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python 3.11+; the package supports 3.10)
    assert re.search(r'^lab = \["jupyterlab>=4', pyproject, re.M), "the lab extra installs JupyterLab 4"
    assert '"ipywidgets>=8' in pyproject, "widgets render in JupyterLab 4 from ipywidgets 8 on (prebuilt extension)"


def test_binder_opens_the_quickstart_notebook():
    url = re.search(r'default_url = "(/lab/tree/[^"]+)"', (BINDER / "postBuild").read_text()).group(1)
    assert (ROOT / url.removeprefix("/lab/tree/")).is_file()
    assert url.endswith("notebooks/01_quickstart.ipynb")


def test_binder_python_is_one_the_package_supports():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-9])", runtime), runtime
