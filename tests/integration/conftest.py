"""The real embedded FLARE system, started once for the whole test session and always stopped.

It runs on free ports in a temporary workspace; after it stops, the fixture checks that none of its processes
(server, clients, job processes) is left. After every test the system is made whole again before the next one
starts (``system_restored``): fully checked after the modules marked ``disruptive`` (they restart, kill, hold or
shut down parts of it), quickly after the others.
"""

from __future__ import annotations

import pytest
from health import restore

import flare_jupyter as fj
from flare_jupyter import compat
from polling import wait_for


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
        # fed stats jobs are built on NVFlare's DataFrame statistics, which 2.5 lacks (scripts/test-nvflare25.sh)
        if "stats_job" in getattr(item, "fixturenames", ()) and not compat.HAS_DF_STATISTICS:
            item.add_marker(pytest.mark.skip(reason=f"nvflare {compat.NVFLARE_VERSION} has no DFStatisticsCore"))


@pytest.fixture(scope="session")
def poc_system(tmp_path_factory):
    system = fj.poc.start(n_clients=2, workspace=tmp_path_factory.mktemp("poc"), progress=None)
    try:
        yield system
    finally:
        system.stop()
        left = system.processes()
        assert not left, f"processes left after stop: {[p.pid for p in left]}"


@pytest.fixture(autouse=True)
def system_restored(request):
    """After the test, however it ended: the shared system whole again (see health.py), or the teardown fails
    saying what is still wrong; the next test never starts on a half-restarted system."""
    yield
    system = request.node.funcargs.get("poc_system")
    if system is not None and not system._stopped:
        restore(system, full=request.node.get_closest_marker("disruptive") is not None)


@pytest.fixture
def live(poc_system):
    """The kernel session connected to the embedded system (reconnected if a test closed it)."""
    s = fj.current()
    if s is None or s.kit != poc_system.kit:
        s = fj.connect(poc_system.kit)
    return s


@pytest.fixture(scope="session")
def jobs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="session")
def finished_job(poc_system, jobs_dir):
    """The id of a hello-numpy job (3 rounds) that ran to FINISHED:COMPLETED on the embedded system."""
    s = fj.connect(poc_system.kit)
    job = fj.examples.hello_numpy(jobs_dir / "finished", num_rounds=3)
    job_id = s.submit_job(job)
    wait_for(lambda: s.get_job_meta(job_id)["status"].startswith("FINISHED"), timeout=180)
    return job_id
