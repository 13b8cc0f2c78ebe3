"""Speed-up of a tuning search on a Dask LocalCluster with 1 and 2 worker processes.

The baseline is the same search run locally with n_jobs=1, measured in the same
invocation; results must be identical on every backend.

Run:  python benchmarks/bench_dask.py [--n-per-class 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, table

from shallowvision._dask import dask_backend
from shallowvision.datasets import load_splits
from shallowvision.models import tune_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-per-class", type=int, default=600)
    parser.add_argument("--model", default="knn")
    args = parser.parse_args()
    splits = load_splits(
        "fashion-mnist", validation_size=0.1, n_per_class=args.n_per_class, random_state=0
    )

    def search():
        start = time.perf_counter()
        result = tune_model(
            args.model,
            splits.train,
            splits.validation,
            search="halving-grid",
            random_state=0,
            n_jobs=1,
        )
        return time.perf_counter() - start, result

    rows = []
    local_seconds, local = search()
    rows.append(
        {
            "backend": "local, n_jobs=1 (baseline)",
            "seconds": local_seconds,
            "speed-up": 1.0,
            "fits": local.n_fits,
            "best": str(local.best_params),
        }
    )
    for workers in (1, 2):
        with dask_backend(f"local:{workers}"):
            seconds, result = search()
        assert (
            result.best_params == local.best_params and result.best_cv_score == local.best_cv_score
        )
        rows.append(
            {
                "backend": f"Dask LocalCluster, {workers} worker(s)",
                "seconds": seconds,
                "speed-up": local_seconds / seconds,
                "fits": result.n_fits,
                "best": str(result.best_params),
            }
        )
    print(f"machine: {machine()}")
    print(
        f"search: halving-grid over {args.model}'s grid, 3-fold CV on {len(splits.train):,} Fashion-MNIST images"
    )
    print(table(rows, ["backend", "seconds", "speed-up", "fits", "best"]))


if __name__ == "__main__":
    main()
