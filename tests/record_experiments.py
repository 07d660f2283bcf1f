"""Record what NVFlare writes for experiments, for the unit tests of the metric, comparison and triage parsers.

    .venv/bin/python tests/record_experiments.py     # writes tests/recordings/experiments-<version>/

Starts the embedded FLARE system and runs three jobs of tests/experiment_jobs.py (a recipe where the release has
them, else a FedJob), each submitted with ``fj.submit``:

* ``a``: 3 rounds, ``--lr 0.1``, held at round 2 until a file exists. While it is held, the readable copy of its
  round records is read from the server chunk by chunk (``job_file_since``, as ``fj.metrics`` does) and the
  server's own ``round_metrics.jsonl`` is copied off its disk; then it is let go and, once finished, its result
  files are kept (round records, summary, configs), with its meta and server log.
* ``b``: 4 rounds, ``--lr 0.2``: the same (the second run of a comparison).
* ``failed``: site-2 raises in round 1: the same, with the job logs of both sites too.
* ``failed-asked-early``: ``failed`` again, with the server's ``show_stats`` asked from the moment it is submitted
  until it answers (as a monitor opened at once does): the server job process logs an error for the commands that
  reach it before its engine is ready, an error the run outlives (``fj.triage`` must not call it the origin).

``--only failed-asked-early`` records that one alone.

Nothing is invented: re-run this script to refresh them (it takes about two minutes).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from experiment_jobs import any_job, inside, write_client

import flare_jupyter as fj
from flare_jupyter import analysis, compat
from flare_jupyter.metrics import METRICS_SUMMARY, ROUND_METRICS, ROUND_METRICS_READABLE

OUT = Path(__file__).parent / "recordings" / f"experiments-{compat.NVFLARE_VERSION}"
FILES = (ROUND_METRICS, METRICS_SUMMARY, analysis.SERVER_CONFIG, analysis.CLIENT_CONFIG)


def wait(condition, timeout=180.0, what="the job"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not get there in {timeout} s")
        time.sleep(0.3)


def save(folder: Path, name: str, text) -> None:
    if text is None:
        return
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if isinstance(text, str) else json.dumps(text, indent=1, sort_keys=True) + "\n")


def finished(s, run) -> dict:
    wait(lambda: s.get_job_meta(run)["status"].startswith("FINISHED"))
    return s.get_job_meta(run)


def keep_result(s, run, folder: Path, targets=("server",)) -> None:
    """Once the job finished: its meta, its result's files and the job logs of ``targets``."""
    save(folder, "meta.json", finished(s, run))
    for path, text in s.finished_job_files(run, *FILES).items():
        save(folder, "result/" + path, text)
    for target in targets:
        save(folder, f"logs/{target}.txt", s.job_log(run, target))


def record_held_run(s, system, work: Path) -> None:
    """Run ``a``: the readable records read chunk by chunk while round 2 is held, then its result."""
    hold = work / "let-a-go"
    with inside(work):
        run = fj.submit(any_job("exp-a", rounds=3, lr=0.1, hold_file=str(hold)))
    folder = OUT / "a"
    on_disk = system.prod_dir / "server" / run / ROUND_METRICS
    chunks, offset = [], 0
    try:
        if compat.HAS_METRICS_ARTIFACT:

            def two_rounds_read():
                nonlocal offset
                text = s.job_file_since(run, ROUND_METRICS_READABLE, offset)
                if text:
                    chunks.append({"offset": offset, "text": text})
                    offset += len(text.encode("utf-8"))
                return sum(c["text"].count("\n") for c in chunks) >= 2

            wait(two_rounds_read, what="round 1's records")
            save(folder, "while_running/chunks.json", chunks)
            save(folder, "while_running/round_metrics.jsonl", on_disk.read_text())
        else:
            wait(lambda: "Round 2 started" in s.job_progress_lines(run), what="round 2")
            save(folder, "while_running/progress_lines.txt", s.job_progress_lines(run))
    finally:
        hold.write_text("go")
    keep_result(s, run, folder)


def record_asked_early(s, work: Path) -> None:
    """Run ``failed-asked-early`` (the module docstring); fails unless the server's job log holds such an error."""
    with inside(work):
        run = fj.submit(any_job("exp-failed", rounds=3, lr=0.1, fail_site="site-2", fail_round=1))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if isinstance(s.show_stats(run, "server"), dict):
                break
        except Exception:  # "not running" before the job process is up, or its error answer
            pass
    folder = OUT / "failed-asked-early"
    keep_result(s, run, folder, targets=("server", "site-1", "site-2"))
    server_log = (folder / "logs/server.txt").read_text()
    if " - ERROR - " not in server_log.split("Round 0 started")[0]:
        raise SystemExit("no error before round 0 in this try: run it again (the window is a fraction of a second)")


def main() -> int:
    only = sys.argv[2] if sys.argv[1:2] == ["--only"] else None
    with tempfile.TemporaryDirectory() as tmp:
        system = fj.poc.start(workspace=Path(tmp) / "poc", progress=None)
        try:
            s = fj.session()
            work = Path(tmp) / "work"
            write_client(work)
            if only == "failed-asked-early":
                record_asked_early(s, work)
                return 0
            record_held_run(s, system, work)
            with inside(work):
                b = fj.submit(any_job("exp-b", rounds=4, lr=0.2))
                failed = fj.submit(any_job("exp-failed", rounds=3, lr=0.1, fail_site="site-2", fail_round=1))
            keep_result(s, b, OUT / "b")
            keep_result(s, failed, OUT / "failed", targets=("server", "site-1", "site-2"))
            record_asked_early(s, work)
        finally:
            fj.disconnect()
            system.stop()
    print(f"recorded into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
