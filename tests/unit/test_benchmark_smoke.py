"""The short versions of the benchmarks that CI runs: they check shapes and growth, never seconds.

benchmarks/conversion.py times our conversions against ``pandas.DataFrame(records)``; here its smoke run must
show the time per record not growing with size (linear, within noise on a busy 2-core machine). The poller's
status calls (one per watched job, or one listing) are checked on recorded answers in test_poller.py; the short run
of benchmarks/history.py needs a real server and runs in tests/integration/test_scale_live.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import conversion  # noqa: E402


def test_conversion_grows_linearly_with_the_number_of_records():
    results = conversion.smoke()
    for name, r in results.items():
        first, last = r["rows"][0], r["rows"][-1]
        assert last["size"] == 10 * first["size"]
        # linear growth is 1.0; quadratic would be 10. A generous bound absorbs timer noise on a busy machine.
        assert r["growth_vs_linear"] < 3.0, f"{name}: {r['growth_vs_linear']:.2f}x linear"


def test_the_benchmark_inputs_are_shaped_like_real_answers():
    metas = conversion.job_metas(3)
    assert len({m["job_id"] for m in metas}) == 3
    real = conversion.recorded("list_jobs", detailed=True)[0]
    assert set(metas[0]) == set(real)
    frame = conversion.frames.jobs_frame(metas)
    assert frame["submit_time"].notna().all() and frame["duration"].notna().all()
