"""The test suite's parallel run relies on ``pytest -n N --dist loadgroup`` keeping each ``xdist_group`` on one
worker (tests/conftest.py: an integration module's fixtures made once, one JupyterLab for the browser tests). xdist
ignores the groups without a word when they are marked after its own collection hook ran (pytest-xdist#1241: hence
``tryfirst`` on ours) or when it meets a pytest whose node ids it cannot rewrite (pytest 9.2, pytest-xdist#1386):
every test then goes wherever a worker is free, each worker starting its own systems. This runs a small suite marked
the way tests/conftest.py marks ours, with the pytest and pytest-xdist installed here, and checks where each ran."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_each_group_runs_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.hookimpl(tryfirst=True)
            def pytest_collection_modifyitems(items):
                for item in items:
                    item.add_marker(pytest.mark.xdist_group(item.module.__name__))
            """
        )
    )
    for module in ("test_first", "test_second", "test_third"):
        (tmp_path / f"{module}.py").write_text(
            textwrap.dedent(
                f"""
                import json, os, pathlib, pytest

                @pytest.mark.parametrize("i", range(6))
                def test_where(i):
                    line = json.dumps(["{module}", os.environ["PYTEST_XDIST_WORKER"]])
                    with open(pathlib.Path(__file__).parent / "ran.jsonl", "a") as out:
                        out.write(line + "\\n")
                """
            )
        )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    ran = [json.loads(line) for line in (tmp_path / "ran.jsonl").read_text().splitlines()]
    assert len(ran) == 18
    workers = {module: sorted({w for m, w in ran if m == module}) for module, _ in ran}
    assert all(len(w) == 1 for w in workers.values()), f"groups split over workers: {workers}"
