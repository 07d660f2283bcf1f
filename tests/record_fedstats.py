"""Record a real federated statistics run for the fed-stats tests, and check it against pandas.

    .venv/bin/python tests/record_fedstats.py                # writes tests/recordings/fedstats-<version>/
    .venv/bin/python tests/record_fedstats.py --check [FILE] # re-checks the recording (or FILE) against pandas

Starts the embedded FLARE system (server + site-1 + site-2), writes the job with
``flare_jupyter.examples.fed_stats`` (breast_cancer, 2 sites, 10 bins), submits it, waits until it finishes,
downloads its result and copies the statistics JSON the server wrote into ``statistics.json``; ``layout.txt`` lists
every file of the downloaded result folder (relative paths), so tests know where the JSON sits. Then the recorded
numbers are checked against pandas on each site's slice (``site_slice``) and on the whole dataset. Nothing in the
recording is invented: re-run this script to refresh it. The embedded system is always stopped.

The stored recording was made this way on NVFlare 2.9.0 with ``fastdigest`` 0.12 (a dependency of flare-jupyter),
so its quantile entries carry the 0.25/0.5/0.75 values and a ``Global`` entry; without fastdigest they are empty.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.examples import fed_stats, load_frame, site_slice

DATASET = "breast_cancer"
N_SITES = 2
BINS = 10
QUANTILES = [0.25, 0.5, 0.75]
OUT = Path(__file__).parent / "recordings" / f"fedstats-{compat.NVFLARE_VERSION}"
# NVFlare's StatisticsController rounds every statistic to 4 decimal places (its ``precision``): a recorded value
# may differ from the exact one by half a unit in the 4th decimal.
ROUNDING = 0.5e-4 + 1e-9


def run_job(tmp: Path) -> tuple[dict, Path, list[str], float]:
    """Run the job on a fresh embedded system; return (job meta, stats file, result layout, seconds)."""
    fj.poc.start(n_clients=N_SITES, workspace=tmp / "poc")
    try:
        s = fj.session()
        job = s.submit_job(fed_stats(tmp / "jobs", dataset=DATASET, n_sites=N_SITES, bins=BINS))
        t0 = time.monotonic()
        deadline = t0 + 300
        while True:
            meta = s.get_job_meta(job)
            if str(meta.get("status", "")).startswith("FINISHED"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job} still {meta.get('status')} after 300 s")
            time.sleep(1.0)
        seconds = time.monotonic() - t0
        result = Path(s.download_job_result(job))
        layout = sorted(str(p.relative_to(result)) for p in result.rglob("*") if p.is_file())
        found = [p for p in result.rglob("*.json") if _is_stats(p)]
        if len(found) != 1:
            raise RuntimeError(f"expected one statistics JSON in {result}, found {found}; files: {layout}")
        keep = tmp / "statistics.json"
        shutil.copy(found[0], keep)
        print(f"job {job}: {meta['status']} in {seconds:.1f} s; statistics at {found[0].relative_to(result)}")
        return meta, keep, layout, seconds
    finally:
        fj.poc.stop()


def _is_stats(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and all(isinstance(v, dict) and "count" in v for v in doc.values()) and bool(doc)


def check(stats: dict) -> bool:
    """Compare the recorded statistics with pandas (expected values are pandas' unless the label says otherwise);
    print one line per check; True when all pass."""
    frame = load_frame(DATASET)
    sites = [f"site-{i}" for i in range(1, N_SITES + 1)]
    parts = {site: site_slice(frame, site, N_SITES) for site in sites}
    ok = True

    def verdict(label: str, got, want, tol: float = 0.0) -> None:
        nonlocal ok
        if isinstance(want, tuple):
            good, note = got == want, ""
        else:
            want = float(want)
            good = got == want if tol == 0 else abs(got - want) <= tol
            note = f" (relative error {abs(got - want) / abs(want) if want else 0.0:.1e})"
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {label}: recorded {got!r}, expected {want!r}{note}")

    for feature in frame.columns:
        print(f"{feature}:")
        verdict("Global count", stats[feature]["count"]["Global"][DATASET], len(frame))
        verdict("Global mean", stats[feature]["mean"]["Global"][DATASET], frame[feature].mean(), ROUNDING)
        for site, part in parts.items():
            verdict(f"{site} count", stats[feature]["count"][site][DATASET], len(part))
            verdict(f"{site} mean", stats[feature]["mean"][site][DATASET], part[feature].mean(), ROUNDING)
            verdict(f"{site} stddev", stats[feature]["stddev"][site][DATASET], part[feature].std(), ROUNDING)
            hist = stats[feature]["histogram"][site][DATASET]
            verdict(f"{site} histogram bins / total", (len(hist), sum(b[2] for b in hist)), (BINS, len(part)))
        g_std = stats[feature]["stddev"]["Global"][DATASET]
        verdict("Global stddev, NVFlare's 4-decimal steps replayed", g_std, replay_global_std(stats, feature, parts))
        verdict("Global stddev", g_std, frame[feature].std(), 0.01 * frame[feature].std())
        g_hist = stats[feature]["histogram"]["Global"][DATASET]
        verdict("Global histogram total", sum(b[2] for b in g_hist), len(frame))
        quantiles = stats[feature].get("quantile", {})
        if not any(quantiles.get(site, {}).get(DATASET) for site in [*sites, "Global"]):
            print(f"  --   quantiles: empty ({json.dumps(quantiles)}): fastdigest is not installed")
            continue
        for site, part in [*parts.items(), ("Global", frame)]:
            got = quantiles[site][DATASET]
            # a t-digest compressed to sqrt(rows) centroids: approximate, checked to 5% of the value range
            span = part[feature].max() - part[feature].min()
            for q in QUANTILES:
                verdict(f"{site} quantile {q}", got[str(q)], part[feature].quantile(q), 0.05 * span)
    return ok


def replay_global_std(stats: dict, feature: str, parts: dict) -> float:
    """The global stddev as NVFlare computes it: each site's sum of squares around the recorded global mean over
    (N - 1), rounded to 4 decimals, summed with rounding, then the square root rounded to 4 decimals."""
    mean = stats[feature]["mean"]["Global"][DATASET]
    count = stats[feature]["count"]["Global"][DATASET]
    variance = 0.0
    for part in parts.values():
        variance = round(variance + round(float(((part[feature] - mean) ** 2).sum()) / (count - 1), 4), 4)
    return round(variance**0.5, 4)


def main() -> int:
    if sys.argv[1:2] == ["--check"]:  # check a stored statistics JSON (default: the recording) without FLARE
        path = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT / "statistics.json"
        return 0 if check(json.loads(path.read_text())) else 1
    with tempfile.TemporaryDirectory() as tmp:
        meta, found, layout, seconds = run_job(Path(tmp))
        raw = found.read_bytes()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "statistics.json").write_bytes(raw)  # byte for byte as the server wrote it
    stats = json.loads(raw)
    (OUT / "layout.txt").write_text("\n".join(layout) + "\n")
    print(f"recorded into {OUT} (job ran {seconds:.1f} s, status {meta['status']})")
    sample = next(iter(stats.values()))
    print("quantile entries of the first feature:", json.dumps(sample.get("quantile")))
    return 0 if check(stats) else 1


if __name__ == "__main__":
    sys.exit(main())
