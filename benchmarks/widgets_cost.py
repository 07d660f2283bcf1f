"""What live monitors cost: admin calls per poller tick, and a trivial cell's latency in a real kernel.

    .venv/bin/python benchmarks/widgets_cost.py [--monitors 10 50] [--samples 9] [--cells 30] [--json out.json]

Starts a real Jupyter kernel (jupyter_client), which starts the embedded FLARE system and submits two long-running
jobs. Then, for each number of monitors (displayed in the kernel, as a notebook shows them), in the same run:

* calls per tick: the kernel's shared poller counts the NVFlare calls it makes; we read the count over a number of
  ticks and report calls per tick (status calls and detail calls);
* cell latency: the round trip of ``1 + 1`` through the kernel's shell channel, median of ``--cells`` runs, in
  alternating samples: the poller paused (``Poller.pause``: the monitors stay, nothing polls; the baseline), then
  running, ``--samples`` times. Each pair gives a ratio; the figure is the median ratio, with its spread (the lowest
  and highest, and the quartiles). Alternating keeps a machine that drifts from weighing on one side only.

Target: a median ratio <= 1.1 with 10 monitors. The figures are printed and written as JSON. Nothing here asserts
a time.
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
from IPython.display import display
from flare_jupyter import settings
from flare_jupyter.poller import Poller
settings.poll_interval = {interval}
system = fj.poc.start(workspace={workspace!r}, progress=None)
s = fj.session()
jobs = [s.submit_job(fj.examples.hello_numpy({jobs!r} + f"/j{{i}}", num_rounds=100000, name=f"long{{i}}"))
        for i in range({n_jobs})]
deadline = time.monotonic() + 180
while not all(s.get_job_meta(j)["status"] == "RUNNING" for j in jobs) and time.monotonic() < deadline:
    time.sleep(0.5)
monitors = []
print(json.dumps([s.get_job_meta(j)["status"] for j in jobs]))
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
    """NVFlare calls per poller tick over ``ticks`` ticks: in all, status calls and detail calls."""
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
    status = by.get("list_jobs", 0) + by.get("get_job_meta", 0)
    return {"all": n_calls / n_ticks, "status": status / n_ticks, "detail": (n_calls - status) / n_ticks}


def alternating(kc, cells: int, samples: int) -> dict:
    """``samples`` pairs of (poller paused, poller running) latencies; the median ratio and its spread."""
    idle, loaded = [], []
    for _ in range(samples):
        execute(kc, "Poller.shared().pause()")
        idle.append(latency(kc, cells))
        execute(kc, "Poller.shared().resume()")
        loaded.append(latency(kc, cells))
    ratios = sorted(b / a for a, b in zip(idle, loaded, strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {
        "idle_ms": statistics.median(idle) * 1000,
        "loaded_ms": statistics.median(loaded) * 1000,
        "ratio": statistics.median(ratios),
        "ratio_min": ratios[0],
        "ratio_q1": quartiles[0],
        "ratio_q3": quartiles[2],
        "ratio_max": ratios[-1],
        "ratios": ratios,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--samples", type=int, default=9)
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--ticks", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict = {"poll_interval": args.interval, "by_monitors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        km, kc = start_new_kernel(kernel_name="python3")
        try:
            setup = SETUP.format(interval=args.interval, workspace=f"{tmp}/poc", jobs=f"{tmp}/jobs", n_jobs=2)
            _, out = execute(kc, setup)
            print("jobs:", out.strip())
            for n in sorted(args.monitors):
                execute(
                    kc,
                    f"new = [fj.monitor(jobs[i % 2]) for i in range(len(monitors), {n})]\n"
                    "for m in new: display(m)\nmonitors += new",
                )
                r = {f"{k}_calls_per_tick": v for k, v in calls_per_tick(kc, args.ticks).items()}
                r.update(alternating(kc, args.cells, args.samples))
                results["by_monitors"][str(n)] = r
            execute(kc, "[s.abort_job(j) for j in jobs]; fj.poc.stop()")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for n, r in results["by_monitors"].items():
        print(
            f"{n:>3} monitors: {r['all_calls_per_tick']:.1f} calls per tick ({r['status_calls_per_tick']:.1f} status); "
            f"a trivial cell {r['loaded_ms']:.2f} ms polling vs {r['idle_ms']:.2f} ms paused: median ratio "
            f"{r['ratio']:.3f} (quartiles {r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}, range {r['ratio_min']:.3f}-"
            f"{r['ratio_max']:.3f})"
        )
    save(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
