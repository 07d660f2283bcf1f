"""Where a test run's time went, from the timeline tests/conftest.py writes (test-artifacts/timeline-*.jsonl).

    .venv/bin/python scripts/timeline.py [test-artifacts/timeline-nvflare-2.9.0.jsonl]

Prints, per worker, when it started and stopped and how busy it was, then the files (integration modules,
notebooks, ...) that took the most worker time: what to cut to make the run shorter.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(paths: list[str]) -> None:
    if not paths:
        paths = sorted(str(p) for p in Path("test-artifacts").glob("timeline-*.jsonl"))
    for path in paths:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        if not rows:
            continue
        t0 = min(r["start"] for r in rows)
        t1 = max(r["end"] for r in rows)
        print(f"{path}: {len(rows)} tests, {(t1 - t0) / 60:.1f} min from the first test's start to the last's end")
        workers = defaultdict(list)
        for r in rows:
            workers[r["worker"]].append(r)
        for name, rs in sorted(workers.items()):
            busy = sum(r["end"] - r["start"] for r in rs)
            last = max(r["end"] for r in rs)
            print(f"  {name}: {len(rs)} tests, busy {busy / 60:.1f} min, done at {(last - t0) / 60:.1f} min")
        files = defaultdict(float)
        for r in rows:
            key = r["test"].split("::")[0]
            if "notebooks/test_notebooks.py" in key:
                key = r["test"]
            files[key] += r["end"] - r["start"]
        print("  most worker time:")
        for key, seconds in sorted(files.items(), key=lambda kv: -kv[1])[:20]:
            print(f"    {seconds:7.1f} s  {key}")


if __name__ == "__main__":
    main(sys.argv[1:])
