"""Execute a notebook headless (as the tests and the quickstart command do) and save the executed copy.

python scripts/run_notebook.py notebooks/01_quickstart.ipynb [--out notebooks/executed]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path: Path, out_dir: Path | None, timeout: int = 600) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    finally:
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out_dir / path.name)
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, default=Path("notebooks/executed"))
    args = parser.parse_args()
    t0 = time.monotonic()
    try:
        run(args.notebook, args.out)
    except CellExecutionError as e:
        print(f"{args.notebook} failed:\n{e}", file=sys.stderr)
        return 1
    print(f"{args.notebook} ran in {time.monotonic() - t0:.1f} s; executed copy: {args.out / args.notebook.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
