"""What live monitors cost: admin calls per poller tick, and a trivial cell's latency in a real kernel.

    .venv/bin/python benchmarks/widgets_cost.py [--monitors 10] [--cells 40] [--json out.json]

Starts a real Jupyter kernel (jupyter_client), which starts the embedded FLARE system and submits long-running
jobs. Then, in the same run:

* calls per tick: the kernel's shared poller counts the NVFlare calls it makes; we read the count over a number of
  ticks with 1 monitor and with N monitors (all on running jobs) and report calls per tick;
* cell latency: the round trip of ``1 + 1`` executed through the kernel's shell channel, median of ``--cells`` runs,
  with no monitor (the baseline) and with N live monitors; the ratio is the figure (target <= 1.1x).

The figures are printed and written as JSON. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _results import save
from jupyter_client.manager import start_new_kernel

SETUP = """
import flare_jupyter as fj, json, time
from flare_jupyter import commands
from flare_jupyter.poller import Poller
commands.settings.poll_interval = {interval}
system = fj.poc.start(workspace={workspace!r}, progress=None)
s = fj.session()
jobs = [s.submit_job(fj.examples.hello_numpy({jobs!r} + f"/j{{i}}", num_rounds=200, name=f"long{{i}}"))
        for i in range({n_jobs})]
deadline = time.monotonic() + 180
while not all(j["status"] == "RUNNING" for j in s.list_jobs()) and time.monotonic() < deadline:
    time.sleep(0.5)
print(json.dumps([j["status"] for j in s.list_jobs()]))
"""


def execute(kc, code: str, timeout: float = 300) -> tuple[float, str]:
    """Run ``code`` in the kernel; (seconds until its execute_reply, its stdout)."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    elapsed = time.perf_counter() - t0
    out = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except Exception:
            break
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    return elapsed, "".join(out)


def latency(kc, cells: int) -> float:
    execute(kc, "1 + 1")
    return statistics.median(execute(kc, "1 + 1")[0] for _ in range(cells))


def calls_per_tick(kc, ticks: int) -> dict:
    """NVFlare calls per poller tick over ``ticks`` ticks: in all, status (list_jobs) and detail calls."""
    code = textwrap.dedent(f"""
        p = Poller.shared(); t0, c0, by0 = p.ticks, p.calls, dict(p.calls_by_name)
        deadline = time.monotonic() + 120
        while p.ticks < t0 + {ticks} and time.monotonic() < deadline:
            time.sleep(0.05)
        by = {{k: v - by0.get(k, 0) for k, v in p.calls_by_name.items()}}
        print(json.dumps([p.ticks - t0, p.calls - c0, by]))
    """)
    _, out = execute(kc, code)
    n_ticks, n_calls, by = json.loads(out.strip().splitlines()[-1])
    n_ticks = max(1, n_ticks)
    status = by.get("list_jobs", 0)
    return {"all": n_calls / n_ticks, "status": status / n_ticks, "detail": (n_calls - status) / n_ticks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=10)
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--ticks", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = {"monitors": args.monitors, "poll_interval": args.interval}
    with tempfile.TemporaryDirectory() as tmp:
        km, kc = start_new_kernel(kernel_name="python3")
        try:
            setup = SETUP.format(interval=args.interval, workspace=f"{tmp}/poc", jobs=f"{tmp}/jobs", n_jobs=2)
            _, out = execute(kc, setup)
            print("jobs:", out.strip())
            results["cell_idle_ms"] = latency(kc, args.cells) * 1000
            execute(kc, "m1 = [fj.monitor(jobs[0])]")
            for k, v in calls_per_tick(kc, args.ticks).items():
                results[f"{k}_calls_per_tick_1_monitor"] = v
            execute(kc, f"mN = m1 + [fj.monitor(jobs[i % 2]) for i in range({args.monitors - 1})]")
            for k, v in calls_per_tick(kc, args.ticks).items():
                results[f"{k}_calls_per_tick_{args.monitors}_monitors"] = v
            results[f"cell_with_{args.monitors}_monitors_ms"] = latency(kc, args.cells) * 1000
            results["latency_ratio"] = results[f"cell_with_{args.monitors}_monitors_ms"] / results["cell_idle_ms"]
            execute(kc, "[s.abort_job(j) for j in jobs]; fj.poc.stop()")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for k, v in results.items():
        print(f"{k:>32}: {v:.3g}" if isinstance(v, float) else f"{k:>32}: {v}")
    save(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
