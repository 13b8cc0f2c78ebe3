"""Speed-up of a tuning search on a Dask LocalCluster with 1 and 2 worker processes.

The baseline is the same search run locally with n_jobs=1, measured in the same
invocation; results must be identical on every backend.

With --boost (the default), also: fitting the same few XGBoost candidates through
joblib's Dask backend (each fit whole on one worker, as the searches do) against
XGBoost's own Dask interface (each fit spread over all workers), and locally.
XGBoost's Dask interface needs dask's dataframe extra: pip install 'dask[dataframe]'.

With --data-parallel: a model fitted data-parallel (the images read in chunks on the
workers of a LocalCluster whose workers' memory limit is below the training data as the
model needs it, float32) against the same model fitted on one machine, on a shifted-replica
set from _replicas.py (10% held out for validation; the real test images), each side in
its own process: wall time, peak RSS of every process, validation and test accuracy.

Run:  python benchmarks/bench_dask.py [--n-per-class 300 --repeats 2] [--no-boost] [--no-search]
      python benchmarks/bench_dask.py --no-search --no-boost --data-parallel \
          --dp-size 280000 --dp-workers 4 --dp-memory 750MB --dp-chunk 16MiB --dp-model lgbm \
          --dp-param n_estimators=50 --dp-param bin_construct_sample_cnt=20000

The memory limit must stay below the float32 training data (0.79 GB for 280,000 images):
each worker's process also holds Python and the libraries, its chunks, and what the
library builds from them (LightGBM a float32 copy of the worker's rows, and a sample of
bin_construct_sample_cnt rows, 200,000 by default, as float64, to find the bins), so more
workers of the same limit, each holding fewer rows, is what fits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
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
    parser.add_argument("--data-parallel", action="store_true", help="the data-parallel fit")
    parser.add_argument("--dp-size", type=int, default=280_000, help="shifted-replica images")
    parser.add_argument("--dp-workers", type=int, default=2)
    parser.add_argument("--dp-memory", default="1GB", help="each worker's memory limit")
    parser.add_argument("--dp-model", default="lgbm")
    parser.add_argument("--dp-chunk", default="32MiB", help="pixel bytes per chunk")
    parser.add_argument(
        "--dp-param", action="append", default=[], help="MODEL parameter NAME=VALUE (JSON value)"
    )
    args = parser.parse_args()

    print(f"machine: {machine()}")
    if args.search or args.boost:
        splits = load_splits(
            "fashion-mnist", validation_size=0.1, n_per_class=args.n_per_class, random_state=0
        )
    if args.search:
        search_speedups(splits, args)
    if args.boost:
        print()
        boost_candidates(splits)
    if args.data_parallel:
        print()
        data_parallel(args)


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


# -- data-parallel: partitioned images, a distributed fit, against one machine ----------------
_DISTRIBUTED = """
import json, os, resource, threading, time
import psutil
from shallowvision._dask import dask_client
from shallowvision.datasets import read_partitioned
from shallowvision.models import fit_data_parallel, score_data_parallel

source, spec, model, params, chunk = {source!r}, {spec!r}, {model!r}, {params!r}, {chunk!r}
peaks = {{}}

def sample(pids, stop):
    # Peak RSS of each worker process, sampled every 0.1 s (ru_maxrss of each is read too).
    while not stop.wait(0.1):
        for name, proc in pids.items():
            try:
                peaks[name] = max(peaks.get(name, 0), proc.memory_info().rss)
            except psutil.Error:
                pass

if __name__ == "__main__":
    start = time.perf_counter()
    with dask_client(spec) as client:
        pids = {{w: psutil.Process(p) for w, p in client.run(os.getpid).items()}}
        limits = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
        stop = threading.Event()
        threading.Thread(target=sample, args=(pids, stop), daemon=True).start()
        ready = time.perf_counter()
        options = dict(validation_size=0.1, random_state=0, chunk_bytes=chunk, cache=False)
        train = read_partitioned(source, "train", **options)
        validation = read_partitioned(source, "validation", **options)
        test = read_partitioned(source, "test", chunk_bytes=chunk, cache=False)
        read = time.perf_counter()
        fitted = fit_data_parallel(model, *train, params=params, client=client, on_retry=print)
        fit = time.perf_counter()
        rows = [score_data_parallel(model, fitted, *d, train.n_classes) for d in (validation, test)]
        scored = time.perf_counter()
        maxrss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        stop.set()
    print(json.dumps({{
        "n_train": len(train), "n_validation": len(validation), "n_test": len(test),
        "chunks": train.images.numblocks[0], "memory_limits": sorted(limits.values()),
        "cluster_s": ready - start, "plan_s": read - ready, "fit_s": fit - read,
        "score_s": scored - fit, "wall_s": scored - ready,
        "validation": rows[0].accuracy, "test": rows[1].accuracy,
        "worker_peak_sampled": sorted(peaks.values()), "worker_maxrss": sorted(maxrss.values()),
        "client_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }}))
"""

_LOCAL = """
import json, resource, time
from shallowvision.datasets import load
from shallowvision.models import get_model, score_fitted

source, model, params, n_jobs = {source!r}, {model!r}, {params!r}, {n_jobs!r}
start = time.perf_counter()
train = load(source, "train", validation_size=0.1, random_state=0)
validation = load(source, "validation", validation_size=0.1, random_state=0)
test = load(source, "test")
X = train.X  # uint8, as the data-parallel side reads it
read = time.perf_counter()
fitted = get_model(model, n_jobs=n_jobs, **params).fit(X, train.y)
fit = time.perf_counter()
rows = [score_fitted(model, fitted, d.X, d.y, train.n_classes) for d in (validation, test)]
scored = time.perf_counter()
print(json.dumps({{
    "n_train": len(train), "read_s": read - start, "fit_s": fit - read,
    "score_s": scored - fit, "wall_s": scored - start,
    "validation": rows[0].accuracy, "test": rows[1].accuracy,
    "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}}))
"""


def _child(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    if out.returncode != 0:
        # The cause is often well above the last lines (a cluster logs what followed it).
        with tempfile.NamedTemporaryFile(
            "w", prefix="bench-dask-child-", suffix=".log", delete=False
        ) as log:
            log.write(out.stderr)
        raise RuntimeError(
            f"benchmark child failed (whole stderr: {log.name}):\n{out.stderr[-4000:]}"
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def data_parallel(args) -> None:
    """The model fitted data-parallel on memory-limited workers against one machine."""
    from _replicas import build
    from dask.utils import format_bytes, parse_bytes

    params = {}
    for item in args.dp_param:
        key, _, value = item.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    folder = build("shifted", args.dp_size)
    source = str(folder / "train-images-idx3-ubyte")
    spec = f"local:{args.dp_workers}:{args.dp_memory}"
    # Its own cache, so that neither side finds the other's decoded copy (and the user's
    # cache is left alone); OpenMP threads sleep when idle, as the CLI sets on shared cores.
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as cache:
        env = {"SHALLOWVISION_CACHE": cache, "OMP_WAIT_POLICY": "passive"}
        print(
            f"data-parallel {args.dp_model} on {args.dp_size:,} images: cluster {spec}", flush=True
        )
        dist = _child(
            _DISTRIBUTED.format(
                source=source, spec=spec, model=args.dp_model, params=params, chunk=args.dp_chunk
            ),
            env,
        )
        print(f"  distributed: {dist}", flush=True)
        local = _child(
            _LOCAL.format(
                source=source, model=args.dp_model, params=params, n_jobs=args.dp_workers
            ),
            env,
        )
        print(f"  local: {local}", flush=True)
    float32 = dist["n_train"] * 28 * 28 * 4
    limit = parse_bytes(args.dp_memory)
    mib = 2**20
    rows = [
        {
            "side": f"one machine, n_jobs={args.dp_workers} (baseline)",
            "wall s": local["wall_s"],
            "fit s": local["fit_s"],
            "peak RSS MiB": f"{local['maxrss'] / mib:,.0f}",
            "validation": local["validation"],
            "test": local["test"],
        },
        {
            "side": f"{args.dp_workers} workers of {format_bytes(limit)}, 1 thread each",
            "wall s": dist["wall_s"],
            "fit s": dist["fit_s"],
            "peak RSS MiB": "workers "
            + " / ".join(f"{v / mib:,.0f}" for v in dist["worker_maxrss"])
            + f", client {dist['client_maxrss'] / mib:,.0f}",
            "validation": dist["validation"],
            "test": dist["test"],
        },
    ]
    print(
        f"{args.dp_model} {params or ''} on {dist['n_train']:,} training images "
        f"({format_bytes(float32)} as float32, {format_bytes(float32 // 4)} as uint8) in "
        f"{dist['chunks']} chunks; scored on {dist['n_validation']:,} validation and "
        f"{dist['n_test']:,} test images"
    )
    print(table(rows, ["side", "wall s", "fit s", "peak RSS MiB", "validation", "test"]))
    print(
        f"ratio distributed / local: wall {dist['wall_s'] / local['wall_s']:.2f}, "
        f"fit {dist['fit_s'] / local['fit_s']:.2f}; accuracy difference validation "
        f"{dist['validation'] - local['validation']:+.4f}, test {dist['test'] - local['test']:+.4f}; "
        f"largest worker peak / float32 data {max(dist['worker_maxrss']) / float32:.2f}, "
        f"memory limit / float32 data {limit / float32:.2f}"
    )
    print(
        f"  (worker peaks sampled every 0.1 s: {[round(v / mib) for v in dist['worker_peak_sampled']]} MiB; "
        f"cluster start {dist['cluster_s']:.1f} s, reading plan {dist['plan_s']:.1f} s, "
        f"scoring {dist['score_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
