"""What following a running job's metrics costs: ``fj.metrics`` (NVFlare's records read from where the last read
ended) against re-reading the whole records file at every poll, on the same job, in the same run.

    .venv/bin/python benchmarks/metrics_read.py [--rounds 60] [--every 1.0] [--json out.json]

Starts the embedded FLARE system, submits a hello-numpy job of ``--rounds`` rounds and, every ``--every`` seconds
while it runs, takes both readings back to back: ``fj.metrics(job)`` (the baseline's rows must equal its rows) and
the baseline, what it would do reading the whole file: the job's meta, then ``cat`` of the job's whole readable
records file, parsed again. Reported: the bytes each one asked the
server for, and the median time of each call over the first and the last third of the polls (where the file is
small, and where it has grown). Needs nvflare >= 2.9 (NVFlare's metrics records). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _results import save

import flare_jupyter as fj
from flare_jupyter import analysis, compat
from flare_jupyter.metrics import ROUND_METRICS_READABLE, round_metrics_rows


def poll_both(s, job: str) -> dict:
    """One poll: fj.metrics, then the whole file read and parsed; their times, rows and bytes."""
    before = analysis._RUNNING[job].offset if job in analysis._RUNNING else 0
    t0 = time.perf_counter()
    ours = fj.metrics(job)
    t1 = time.perf_counter()
    s.get_job_meta(job)  # as fj.metrics asks for the job's status first
    whole = s.cat_target("server", file=f"{job}/{ROUND_METRICS_READABLE}")
    whole = "" if whole.startswith("cat: ") else whole
    rows = round_metrics_rows(whole[: whole.rfind("\n") + 1])
    t2 = time.perf_counter()
    after = analysis._RUNNING[job].offset if job in analysis._RUNNING else 0
    return {
        "rounds": int(ours["round"].nunique()),
        "ours_s": t1 - t0,
        "whole_s": t2 - t1,
        "ours_bytes": after - before,
        "whole_bytes": len(whole.encode()),
        "same_rows": _prefix_of_each_other(list(ours.itertuples(index=False, name=None)), rows),
    }


def _prefix_of_each_other(a: list, b: list) -> bool:
    """The same rows, as far as both got (a round may be written between the two readings)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not compat.HAS_METRICS_ARTIFACT:
        print(f"nvflare {compat.NVFLARE_VERSION} writes no metrics records: nothing to measure")
        return 0
    polls = []
    with tempfile.TemporaryDirectory() as tmp:
        system = fj.poc.start(workspace=Path(tmp) / "poc", progress=None)
        try:
            s = fj.session()
            job = s.submit_job(fj.examples.hello_numpy(Path(tmp) / "jobs", num_rounds=args.rounds, name="long"))
            while not s.get_job_meta(job)["status"].startswith("FINISHED"):
                if s.get_job_meta(job)["status"] == "RUNNING":
                    polls.append(poll_both(s, job))
                time.sleep(args.every)
        finally:
            fj.disconnect()
            system.stop()
    polls = [p for p in polls if p["rounds"]]
    third = max(1, len(polls) // 3)

    def median(key, part):
        return statistics.median(p[key] for p in part)

    figures = {
        "nvflare": str(compat.NVFLARE_VERSION),
        "polls": len(polls),
        "rounds_seen": polls[-1]["rounds"] if polls else 0,
        "rows_equal_in_every_poll": all(p["same_rows"] for p in polls),
        "bytes_asked_ours": sum(p["ours_bytes"] for p in polls),
        "bytes_asked_whole_file_each_poll": sum(p["whole_bytes"] for p in polls),
        "first_third_ms": {k: 1e3 * median(f"{k}_s", polls[:third]) for k in ("ours", "whole")},
        "last_third_ms": {k: 1e3 * median(f"{k}_s", polls[-third:]) for k in ("ours", "whole")},
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    save(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
