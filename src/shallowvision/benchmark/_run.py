"""Running a benchmark grid, resumable from the JSON-lines file its rows go to.

Xiao, Rasul and Vollgraf (2017) benchmarked scikit-learn classifiers on Fashion-MNIST
with a fixed grid: every configuration is fitted on the whole training set, its
pixels standardised (a ``StandardScaler`` fitted on train, applied to both splits),
and scored by accuracy on the test set, repeated over shuffles of the training order.
:func:`run_benchmark` reproduces that protocol on any dataset. Each finished
configuration is appended to a JSON-lines file as one line, so a run that is
interrupted (Ctrl-C, a killed process, a lost machine) continues where it stopped.

Seeds are explicit: repeat ``r`` of a run with seed ``s`` shuffles the training order
with seed ``s + r`` and gives that seed to the classifier's ``random_state``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision._dispatch import Job, dispatch
from shallowvision._jsonl import RowFile
from shallowvision.benchmark._grid import (
    BenchmarkConfig,
    UnsupportedConfigError,
    build_classifier,
    get_benchmark_configs,
)
from shallowvision.benchmark._rows import (
    _IDENTITY,
    DONE_STATUSES,
    BenchmarkResult,
    BenchmarkRow,
    read_benchmark_rows,
)
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError

__all__ = ["fit_config", "run_benchmark", "standardise"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def fit_config(
    config: BenchmarkConfig,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_classes: int,
    repeats: int = 1,
    seed: int = 0,
    n_jobs: int | None = None,
) -> BenchmarkRow:
    """Fit one configuration ``repeats`` times on shuffled training orders and score it on test.

    A pure function of its arguments (it runs in a worker process or on a cluster).
    Never raises for a failing classifier: the row says ``"failed"`` and why.
    """
    scores, fit_times, predict_times = [], [], []
    seen: dict[str, None] = {}
    try:
        for r in range(repeats):
            order = np.random.default_rng(seed + r).permutation(len(y_train))
            estimator = build_classifier(
                config, n_classes=n_classes, random_state=seed + r, n_jobs=n_jobs
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                X, y = X_train[order], y_train[order]
                start = time.perf_counter()
                estimator.fit(X, y)
                fit_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                predicted = estimator.predict(X_test)
                predict_times.append(time.perf_counter() - start)
            for w in caught:
                seen.setdefault(f"{w.category.__name__}: {_one_line(str(w.message))}"[:300])
            scores.append(float(np.mean(predicted == y_test)))
    except UnsupportedConfigError as exc:
        return BenchmarkRow(
            classifier=config.classifier,
            params=dict(config.params),
            status="skipped",
            error=str(exc),
        )
    except Exception as exc:  # one failing configuration must not stop the benchmark
        return BenchmarkRow(
            classifier=config.classifier,
            params=dict(config.params),
            status="failed",
            error=_one_line(f"{type(exc).__name__}: {exc}"),
            warnings=tuple(seen),
        )
    return BenchmarkRow(
        classifier=config.classifier,
        params=dict(config.params),
        accuracy=float(np.mean(scores)),
        accuracy_std=float(np.std(scores)),
        scores=tuple(scores),
        fit_seconds=float(np.mean(fit_times)),
        predict_seconds=float(np.mean(predict_times)),
        warnings=tuple(seen),
    )


def standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels as float64, centred and scaled by a StandardScaler fitted on train only."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.asarray(X_train, dtype=np.float64))
    return (
        scaler.transform(np.asarray(X_train, dtype=np.float64)),
        scaler.transform(np.asarray(X_test, dtype=np.float64)),
    )


def run_benchmark(
    train: ImageSet,
    test: ImageSet,
    *,
    grid: str = "paper",
    only: Sequence[str] | None = None,
    repeats: int = 1,
    random_state: int = 0,
    n_jobs: int | None = None,
    out: str | os.PathLike[str] | None = None,
    time_limit: float | None = None,
    on_row: Callable[[BenchmarkRow], None] | None = None,
) -> BenchmarkResult:
    """Run a benchmark grid: each configuration fitted on all of ``train``, scored on ``test``.

    Parameters
    ----------
    train, test : ImageSet
        Same classes and image shape. The pixels are standardised with a scaler
        fitted on ``train``; nothing else is learnt from ``test``.
    grid : str
        A name from :func:`get_benchmark_grid_names`.
    only : sequence of str, optional
        Run only these classifiers (see :func:`get_benchmark_configs`).
    repeats : int
        Fits per configuration, each on another seeded shuffle of the training
        order; the row holds the mean (and standard deviation) of their accuracies.
    random_state : int
        Seed of the shuffles and of every classifier's ``random_state``.
    n_jobs : int, optional
        Passed to the classifiers that take it (forests, k-NN, linear models).
    out : path, optional
        JSON-lines file: each finished row is appended at once. Rows already in
        the file (same dataset, training images, repeats and seed) are not fitted
        again; ``"failed"`` rows are retried. A file holding another benchmark's
        rows is refused.
    time_limit : float, optional
        Seconds per configuration (all its repeats); an overrunning fit runs in a
        worker process that is stopped, and the row is marked ``"timed out"``.
    on_row : callable, optional
        Called with each row as it finishes (rows read back from ``out`` included,
        first).

    Returns
    -------
    BenchmarkResult

    Notes
    -----
    Inside :func:`shallowvision._dask.dask_backend` the configurations run in
    parallel on the Dask cluster (the arrays are copied once to every worker); rows
    are written in the order they finish.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    configs = get_benchmark_configs(grid, only)
    train.check_trainable()
    if train.class_names != test.class_names or train.image_shape != test.image_shape:
        raise ConfigError(
            f"train and {test.split} differ in classes or image shape; load them from one dataset"
        )
    identity = {
        "dataset": train.name,
        "train_fingerprint": train.fingerprint(),
        "n_train": len(train),
        "n_test": len(test),
        "repeats": repeats,
        "seed": random_state,
        "n_jobs": n_jobs,
    }
    path = Path(out) if out is not None else None
    done = _done_rows(path, identity) if path is not None else {}
    wanted = {c.key for c in configs}
    finished = {k: r for k, r in done.items() if k in wanted}
    for row in finished.values():
        if on_row:
            on_row(row)
    todo = [c for c in configs if c.key not in finished]
    writer = RowFile(path) if path is not None else None
    for row in _run(todo, train, test, identity, repeats, random_state, n_jobs, time_limit):
        if writer is not None:
            writer.append(row.to_dict())
        finished[row.key] = row
        if on_row:
            on_row(row)
    return BenchmarkResult(
        grid=grid,
        dataset=train.name,
        n_train=len(train),
        n_test=len(test),
        repeats=repeats,
        seed=random_state,
        rows=tuple(finished[c.key] for c in configs),
        n_resumed=len(configs) - len(todo),
        path=None if path is None else str(path),
    )


def _done_rows(path: Path, identity: Mapping[str, Any]) -> dict[str, BenchmarkRow]:
    rows = read_benchmark_rows(path)
    for row in rows:
        for name in _IDENTITY:
            if getattr(row, name) != identity[name]:
                raise ConfigError(
                    f"{path} holds another benchmark's results ({name} {getattr(row, name)!r}, "
                    f"this run {identity[name]!r}); write to another out= file, or delete it to start over"
                )
    return {r.key: r for r in rows if r.status in DONE_STATUSES}


def _run(
    todo: list[BenchmarkConfig],
    train: ImageSet,
    test: ImageSet,
    identity: Mapping[str, Any],
    repeats: int,
    seed: int,
    n_jobs: int | None,
    time_limit: float | None,
) -> Iterator[BenchmarkRow]:
    """Rows of ``todo``, each stamped with the run's identity, as they finish."""
    if not todo:
        return
    X_train, X_test = standardise(train.X, test.X)
    y_train, y_test = np.asarray(train.y), np.asarray(test.y)
    kwargs = {"n_classes": train.n_classes, "repeats": repeats, "seed": seed, "n_jobs": n_jobs}
    for row in _fit_configs(todo, X_train, y_train, X_test, y_test, time_limit, kwargs):
        yield replace(row, **identity)


def _fit_configs(
    configs: list[BenchmarkConfig],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    time_limit: float | None,
    kwargs: dict[str, Any],
) -> Iterator[BenchmarkRow]:
    """A row per configuration as it finishes, on the cluster or here under ``time_limit``."""
    jobs = [
        Job(c, (c, X_train, y_train, X_test, y_test), kwargs, warmup=_import_sklearn)
        for c in configs
    ]
    shared = (X_train, y_train, X_test, y_test)
    for job, outcome in dispatch(fit_config, jobs, shared=shared, time_limit=time_limit):
        if outcome.status == "ok":
            yield outcome.value
        else:
            yield BenchmarkRow(
                classifier=job.key.classifier,
                params=dict(job.key.params),
                status=outcome.status,
                error=_one_line(outcome.error),
            )


def _import_sklearn() -> None:
    # Imported before the clock starts, so the time limit measures the fits.
    import importlib

    for module in ("sklearn.ensemble", "sklearn.linear_model", "sklearn.svm", "sklearn.tree"):
        importlib.import_module(module)
