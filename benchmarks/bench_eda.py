"""EDA speed and memory: ``analyze`` on Fashion-MNIST against the same statistics computed
naively with numpy on a float64 copy.

1. The whole EDA of full Fashion-MNIST (60,000 training and 10,000 test images):
   ``analyze`` against a baseline that converts both splits to float64 and computes the
   same statistics the plain way (per-class masks for counts, mean and variance images,
   per-image intensity, non-zero share, centre of mass and spread with their quantiles,
   ``np.histogram`` per class, class-mean differences, ``np.cov`` + ``eigh`` for PCA,
   distances to the class means, ``np.unique`` rows for exact duplicates). The
   baseline has no near-duplicate search: done the plain way (every pair in pixel space)
   it is quadratic, so it is timed apart on 10,000 images (3.) instead.
2. The cost of ``analyze`` at 10,000, 35,000 and 70,000 images (the same share of each
   split), with its steps, to show how it grows.
3. Near duplicates on 10,000 training images: all pairwise pixel distances (scikit-learn's
   ``pairwise_distances_chunked``) against the k-d tree search on principal components;
   both must find the same pairs.
4. Writing the PNG figures and building the plotly figures (not part of the target).

Every measurement runs in a fresh process (peak memory is its own peak RSS above the
interpreter's after the imports and after loading the memory-mapped dataset); times are
the best of 2 runs. BLAS runs on one thread in every process (``analyze`` limits itself to
one; the baselines get the same).

Run:  python benchmarks/bench_eda.py
Target: the whole EDA of Fashion-MNIST (70,000 images) in under 20 s on 2 cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import in_child, machine, table

REPEATS = 2

SETUP = """
import numpy as np, warnings
warnings.simplefilter("ignore")
import scipy.spatial, sklearn.metrics, shallowvision.eda  # imports are not measured
from shallowvision.datasets import load
train, test = load("fashion-mnist"), load("fashion-mnist", "test")
share = {share}
if share < 1:
    train = train.subsample(fraction=share, random_state=0)
    test = test.subsample(fraction=share, random_state=0)
"""

_TIMED = """
best, steps = float("inf"), None
for _ in range({repeats}):
    start = time.perf_counter()
{body}
    elapsed = time.perf_counter() - start
    if elapsed < best:
        best, steps = elapsed, locals().get("steps_now")
extra = {{"best": best, "steps": steps}}
"""

OURS = """
    from shallowvision.eda import analyze
    result = analyze(train, test)
    steps_now = result.timings
"""

BASELINE = """
    k = train.n_classes
    X = train.images.astype(np.float64)
    T = test.images.astype(np.float64)
    y = train.labels
    n, h, w = X.shape
    rows, cols = np.mgrid[0:h, 0:w]
    counts = [int((y == c).sum()) for c in range(k)]
    test_counts = [int((test.labels == c).sum()) for c in range(k)]
    means, variances, hists, per_class = [], [], [], []
    for c in range(k):
        members = X[y == c]
        means.append(members.mean(axis=0))
        variances.append(members.var(axis=0))
        hists.append(np.histogram(members, bins=256, range=(0, 256))[0])
        ink = members.sum(axis=(1, 2))
        cx = (members * cols).sum(axis=(1, 2)) / ink
        cy = (members * rows).sum(axis=(1, 2)) / ink
        spread = np.sqrt((members * ((cols - cx[:, None, None]) ** 2 + (rows - cy[:, None, None]) ** 2)).sum(axis=(1, 2)) / ink)
        stats = [members.mean(axis=(1, 2)), (members > 0).mean(axis=(1, 2)), cx, cy, spread]
        per_class.append([(s.mean(), s.std(), np.quantile(s, [0.05, 0.25, 0.5, 0.75, 0.95])) for s in stats])
    means = np.array(means)
    differences = np.abs(means[:, None] - means[None, :]).mean(axis=(2, 3))
    flat = X.reshape(n, -1)
    eigenvalues, axes = np.linalg.eigh(np.cov(flat, rowvar=False))
    ratio = eigenvalues[::-1] / eigenvalues.sum()
    projection = (flat - flat.mean(axis=0)) @ axes[:, ::-1][:, :2]
    distances = np.sqrt(((flat - means.reshape(k, -1)[y]) ** 2).mean(axis=1))
    atypical = [np.argsort(-distances[y == c])[:6] for c in range(k)]
    _, dup_counts = np.unique(flat, axis=0, return_counts=True)
    both = np.concatenate([flat, T.reshape(len(T), -1)])
    _, cross_counts = np.unique(both, axis=0, return_counts=True)
"""

NEAR_SETUP = """
from shallowvision.eda._scan import principal_axes, project, scan_train
from shallowvision.eda._duplicates import near_pairs
sub = train.subsample(n_per_class=1000, random_state=0)
# Wider than the default 6 grey levels, so that the check compares some pairs.
THRESHOLD = 12.0
"""

NEAR_BRUTE = """
    from sklearn.metrics import pairwise_distances_chunked
    x = sub.X.astype(np.float64)
    limit = THRESHOLD * np.sqrt(x.shape[1])
    found = set()
    def keep(block, start):
        return [np.flatnonzero((row <= limit) & (row > 0)) for row in block]
    row0 = 0
    for part in pairwise_distances_chunked(x, reduce_func=keep, working_memory=64):
        for offset, near in enumerate(part):
            found.update((row0 + offset, int(b)) for b in near if row0 + offset < b)
        row0 += len(part)
    steps_now = {"pairs": sorted((int(a), int(b)) for a, b in found)}
"""

NEAR_OURS = """
    scan = scan_train(sub.images, sub.labels, sub.n_classes)
    _, axes = principal_axes(scan.covariance)
    coords = project(sub.images, scan.overall_mean(), axes[:, :32])[0]
    i, j, _ = near_pairs(coords, sub.X, THRESHOLD)
    steps_now = {"pairs": sorted(zip(i.tolist(), j.tolist()))}
"""

FIGURES = """
    import tempfile
    from shallowvision.eda import analyze, eda_figures, save_figures
    result = analyze(train, test)
    t0 = time.perf_counter()
    written = save_figures(result, tempfile.mkdtemp())
    t1 = time.perf_counter()
    figures = eda_figures(result)
    t2 = time.perf_counter()
    steps_now = {"png": t1 - t0, "n_png": len(written), "plotly": t2 - t1, "n_plotly": len(figures)}
"""


def _run(body: str, share: float = 1.0, setup: str = "", repeats: int = REPEATS) -> dict:
    out = in_child(
        _TIMED.format(repeats=repeats, body=body.rstrip()),
        setup="import time\n" + SETUP.format(share=share) + setup,
        # One BLAS thread for every step, ours and the baselines alike: on this shared
        # 2-core machine a second, spinning thread only slows the products down.
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    return {
        "seconds": out["extra"]["best"],
        "peak_mib": out["peak_mib"],
        "steps": out["extra"]["steps"],
    }


def main() -> None:
    load_before = os.getloadavg()[0]
    rows = []
    baseline = _run(BASELINE)
    ours = _run(OURS)
    rows.append(
        {
            "step": "naive float64 numpy (baseline, no near duplicates)",
            "images": 70_000,
            "seconds": baseline["seconds"],
            "peak_mib": baseline["peak_mib"],
        }
    )
    rows.append(
        {
            "step": "analyze (everything)",
            "images": 70_000,
            "seconds": ours["seconds"],
            "ratio": ours["seconds"] / baseline["seconds"],
            "peak_mib": ours["peak_mib"],
        }
    )
    scaling = []
    for n in (10_000, 35_000):
        r = _run(OURS, share=n / 70_000)
        scaling.append((n, r))
    scaling.append((70_000, ours))
    for n, r in scaling:
        steps = ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items())
        rows.append(
            {
                "step": f"analyze, {n:,} images",
                "images": n,
                "seconds": r["seconds"],
                "us_per_image": 1e6 * r["seconds"] / n,
                "peak_mib": r["peak_mib"],
                "steps (s)": steps,
            }
        )
    brute = _run(NEAR_BRUTE, setup=NEAR_SETUP, repeats=1)
    tree = _run(NEAR_OURS, setup=NEAR_SETUP)
    same = brute["steps"]["pairs"] == tree["steps"]["pairs"]
    rows.append(
        {
            "step": "near duplicates, 10,000 images: all pairwise distances (baseline)",
            "images": 10_000,
            "seconds": brute["seconds"],
            "peak_mib": brute["peak_mib"],
        }
    )
    rows.append(
        {
            "step": f"near duplicates, 10,000 images: PCA + k-d tree ({len(tree['steps']['pairs'])} pairs, same: {same})",
            "images": 10_000,
            "seconds": tree["seconds"],
            "ratio": tree["seconds"] / brute["seconds"],
            "peak_mib": tree["peak_mib"],
        }
    )
    figures = _run(FIGURES, repeats=1)
    f = figures["steps"]
    print(f"machine: {machine()}")
    print(
        f"best of {REPEATS} runs per step, each in a fresh process; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores shared)\n"
    )
    print(
        table(rows, ["step", "images", "seconds", "ratio", "us_per_image", "peak_mib", "steps (s)"])
    )
    print()
    print(
        f"figures at 70,000 images: {f['n_png']} PNGs in {f['png']:.1f} s, {f['n_plotly']} plotly figures in {f['plotly']:.2f} s"
    )
    print(
        f"\nwhole EDA of Fashion-MNIST: {ours['seconds']:.2f} s (target < 20 s), {ours['seconds'] / baseline['seconds']:.2f}x the naive baseline's {baseline['seconds']:.2f} s; peak {ours['peak_mib']:.0f} MiB against {baseline['peak_mib']:.0f} MiB"
    )
    per = [1e6 * r["seconds"] / n for n, r in scaling]
    print("cost per image at 10k, 35k, 70k: " + ", ".join(f"{p:.0f} us" for p in per))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
