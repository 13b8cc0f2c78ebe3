"""Speed-up of a tuning search on a Dask LocalCluster with 1 and 2 worker processes.

The baseline is the same search run locally with n_jobs=1, measured in the same
invocation; results must be identical on every backend.

With --boost (the default), also: fitting the same few XGBoost candidates through
joblib's Dask backend (each fit whole on one worker, as the searches do) against
XGBoost's own Dask interface (each fit spread over all workers), and locally.
XGBoost's Dask interface needs dask's dataframe extra: pip install 'dask[dataframe]'.

Run:  python benchmarks/bench_dask.py [--n-per-class 300 --repeats 2] [--no-boost] [--no-search]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, table
from threadpoolctl import threadpool_limits

from shallowvision._dask import dask_backend
from shallowvision.datasets import load_splits
from shallowvision.models import tune_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-per-class", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2, help="turns of every backend")
    parser.add_argument("--model", default="knn")
    parser.add_argument("--boost", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--search", action=argparse.BooleanOptionalAction, default=True, help="the tuning search"
    )
    args = parser.parse_args()
    splits = load_splits(
        "fashion-mnist", validation_size=0.1, n_per_class=args.n_per_class, random_state=0
    )

    print(f"machine: {machine()}")
    if args.search:
        search_speedups(splits, args)
    if args.boost:
        print()
        boost_candidates(splits)


def search_speedups(splits, args) -> None:
    """The same halving search locally and on 1 and 2 Dask workers, best of the turns."""

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

    # The machine is shared: the backends take turns, and each keeps its best time.
    backends = [None, "local:1", "local:2"]
    best: dict[str | None, float] = {}
    results = {}
    for _ in range(args.repeats):
        for spec in backends:
            # Dask's workers run one BLAS thread each (its nannies set OMP_NUM_THREADS=1 and
            # the like); the local baseline gets the same, or it competes with itself.
            with dask_backend(spec), threadpool_limits(1):
                seconds, results[spec] = search()
            best[spec] = min(best.get(spec, float("inf")), seconds)
    local = results[None]
    rows = []
    for spec in backends:
        result = results[spec]
        assert (
            result.best_params == local.best_params and result.best_cv_score == local.best_cv_score
        )
        rows.append(
            {
                "backend": "local, n_jobs=1, 1 BLAS thread (baseline)"
                if spec is None
                else f"Dask LocalCluster, {spec.split(':')[1]} worker(s)",
                "seconds": best[spec],
                "speed-up": best[None] / best[spec],
                "fits": result.n_fits,
                "best": str(result.best_params),
            }
        )
    print(
        f"search: halving-grid over {args.model}'s grid, 3-fold CV on {len(splits.train):,} "
        f"Fashion-MNIST images; best of {args.repeats} turns"
    )
    print(table(rows, ["backend", "seconds", "speed-up", "fits", "best"]))


#: Candidates of the XGBoost comparison (the zoo's xgb with these changes).
_XGB_CANDIDATES = [{"max_depth": d, "learning_rate": lr} for d in (4, 6) for lr in (0.1, 0.3)]


def boost_candidates(splits) -> None:
    """Fit the same XGBoost candidates: locally, through joblib's Dask backend, and
    with xgboost.dask (one distributed fit after the other); same accuracy expected."""
    import dask.array as da
    import joblib
    import xgboost
    import xgboost.dask
    from distributed import wait

    from shallowvision._dask import dask_client

    X = splits.train.X.astype("float32") / 255
    y = splits.train.labels
    Xv = splits.validation.X.astype("float32") / 255
    yv = splits.validation.labels
    common = dict(n_estimators=100, subsample=0.8, colsample_bytree=0.5, tree_method="hist")

    def fit_one(params, n_jobs):
        model = xgboost.XGBClassifier(**common, **params, n_jobs=n_jobs, random_state=0)
        return float((model.fit(X, y).predict(Xv) == yv).mean())

    def timed(way, run):
        start = time.perf_counter()
        accuracies = run()
        rows.append({"way": way, "seconds": time.perf_counter() - start, "accuracies": accuracies})
        print(f"  {way}: {rows[-1]['seconds']:.1f} s", flush=True)

    def native(client):
        dX = da.from_array(X, chunks=(len(X) // 2 + 1, X.shape[1])).persist()
        dy = da.from_array(y, chunks=(len(y) // 2 + 1,)).persist()
        wait([dX, dy])
        accuracies = []
        for p in _XGB_CANDIDATES:
            model = xgboost.dask.DaskXGBClassifier(**common, **p, n_jobs=1, random_state=0)
            model.client = client
            model.fit(dX, dy)
            accuracies.append(float((model.predict(da.from_array(Xv)).compute() == yv).mean()))
        return accuracies

    rows: list[dict] = []
    timed(
        "local, one after the other, n_jobs=1 (baseline)",
        lambda: [fit_one(p, 1) for p in _XGB_CANDIDATES],
    )
    timed("local, one after the other, n_jobs=2", lambda: [fit_one(p, 2) for p in _XGB_CANDIDATES])
    with dask_backend("local:2"):
        parallel = joblib.Parallel()
        timed(
            "joblib Dask backend, 2 workers (whole fits)",
            lambda: parallel(joblib.delayed(fit_one)(p, 1) for p in _XGB_CANDIDATES),
        )
    with dask_client("local:2") as client:
        # Timed with the copy of the data to the workers, as the joblib way is.
        timed("xgboost.dask, 2 workers (each fit spread)", lambda: native(client))
    for row in rows:
        row["speed-up"] = rows[0]["seconds"] / row["seconds"]
    print(
        f"XGBoost: {len(_XGB_CANDIDATES)} candidates ({common['n_estimators']} trees) on {len(X):,} images, accuracy on {len(Xv):,}"
    )
    print(table(rows, ["way", "seconds", "speed-up", "accuracies"]))


if __name__ == "__main__":
    main()
