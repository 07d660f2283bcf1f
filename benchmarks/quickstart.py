"""The quickstart notebook end to end, headless, with where the time goes.

    .venv/bin/python benchmarks/quickstart.py [--json out.json]

Executes notebooks/01_quickstart.ipynb in a real kernel (nbclient, as the tests and scripts/quickstart.sh do) and
reports the total time (target <= 60 s on 2 cores) and each cell's share, from nbclient's own execution timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebook import run  # noqa: E402


def cell_seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "01_quickstart.ipynb")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # the embedded system's workspace goes here
        t0 = time.perf_counter()
        nb = run(args.notebook, out_dir=None)
        total = time.perf_counter() - t0
    cells = [
        {"cell": i, "source": c.source.splitlines()[0][:60], "seconds": cell_seconds(c)}
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    ]
    in_cells = sum(c["seconds"] for c in cells)
    print(
        f"{args.notebook.name}: {total:.1f} s end to end ({in_cells:.1f} s in cells, "
        f"{total - in_cells:.1f} s kernel start/stop)"
    )
    for c in sorted(cells, key=lambda c: -c["seconds"]):
        print(f"  {c['seconds']:6.1f} s  {c['seconds'] / total:5.1%}  {c['source']}")
    save(args.json, {"total_s": total, "cells": cells})
    return 0


if __name__ == "__main__":
    sys.exit(main())
