"""The Fashion-MNIST paper's benchmark protocol, resumable from a JSON-lines file.

Xiao, Rasul and Vollgraf (2017) benchmarked scikit-learn classifiers on Fashion-MNIST
with a fixed grid: every configuration is fitted on the whole training set, its
pixels standardised (a ``StandardScaler`` fitted on train, applied to both splits),
and scored by accuracy on the test set, repeated over shuffles of the training order.
:func:`run_benchmark` reproduces that protocol on any dataset. Each finished
configuration is appended to a JSON-lines file as one line, so a run that is
interrupted (Ctrl-C, a killed process, a lost machine) continues where it stopped.

The grid names parameters as the paper did; :func:`build_classifier` maps them to the
installed scikit-learn, whose API moved since 2017:

- ``LogisticRegression`` ``penalty`` becomes ``l1_ratio`` (1 for L1, 0 for L2) where
  ``penalty`` is deprecated; the ``saga`` solver handles both penalties and many
  classes (``liblinear``, the paper's default then, is binary-only today).
- ``PassiveAggressiveClassifier`` is ``SGDClassifier(loss="hinge", penalty=None,
  learning_rate="pa1", eta0=C)`` where the class is deprecated (its documented
  replacement, the same algorithm).
- ``LinearSVC`` ``multi_class="crammer_singer"`` runs liblinear's Crammer-Singer solver
  where LinearSVC still offers it; where it does not, those rows are recorded as
  ``"skipped"`` with the reason, never silently replaced by one-vs-rest.
- ``LinearSVC`` loss/penalty pairs liblinear cannot solve (hinge with L1) are left out
  of the grid; Crammer-Singer ignores loss and penalty, so it has one row per ``C``.

Other parameters keep the installed scikit-learn's defaults (SVC's ``gamma="scale"``,
for one, was ``"auto"`` in 2017). Seeds are explicit: repeat ``r`` of a run with seed
``s`` shuffles the training order with seed ``s + r`` and gives that seed to the
classifier's ``random_state``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision._dask import on_dask, shared_on_cluster
from shallowvision._records import Record
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError, DataError, ShallowVisionError

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResult",
    "BenchmarkRow",
    "UnsupportedConfigError",
    "build_classifier",
    "fit_config",
    "get_benchmark_configs",
    "get_benchmark_grid_names",
    "read_benchmark_rows",
    "run_benchmark",
]

#: Row statuses that count as done when a benchmark resumes; failed rows are retried.
DONE_STATUSES = ("ok", "skipped", "timed out")

_PAPER: dict[str, list[dict[str, list[Any]]]] = {
    "DecisionTreeClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "splitter": ["best", "random"],
            "max_depth": [10, 50, 100],
        }
    ],
    "ExtraTreeClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "splitter": ["best", "random"],
            "max_depth": [10, 50, 100],
        }
    ],
    "RandomForestClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "max_depth": [10, 50, 100],
            "n_estimators": [10, 50, 100],
        }
    ],
    "GradientBoostingClassifier": [{"n_estimators": [10, 50, 100], "max_depth": [3, 10]}],
    "KNeighborsClassifier": [
        {"n_neighbors": [1, 5, 9], "weights": ["uniform", "distance"], "p": [1, 2]}
    ],
    "LogisticRegression": [{"C": [1.0, 10.0, 100.0], "penalty": ["l1", "l2"]}],
    "LinearSVC": [
        # liblinear solves hinge only with L2, squared hinge with L1 or L2.
        {"multi_class": ["ovr"], "loss": ["hinge"], "penalty": ["l2"], "C": [1.0, 10.0, 100.0]},
        {
            "multi_class": ["ovr"],
            "loss": ["squared_hinge"],
            "penalty": ["l1", "l2"],
            "C": [1.0, 10.0, 100.0],
        },
        # Crammer-Singer ignores loss and penalty: one configuration per C.
        {"multi_class": ["crammer_singer"], "C": [1.0, 10.0, 100.0]},
    ],
    "SGDClassifier": [
        {
            "loss": ["hinge", "squared_hinge", "perceptron", "log_loss", "modified_huber"],
            "penalty": ["l1", "l2", "elasticnet"],
        }
    ],
    "Perceptron": [{"penalty": ["l1", "l2", "elasticnet"]}],
    "PassiveAggressiveClassifier": [{"C": [1.0, 10.0, 100.0]}],
    "SVC": [{"C": [1.0, 10.0, 100.0], "kernel": ["linear", "rbf", "poly", "sigmoid"]}],
    "GaussianNB": [{"priors": ["uniform"]}],
}

_GRIDS: dict[str, dict[str, list[dict[str, list[Any]]]]] = {"paper": _PAPER}


class UnsupportedConfigError(ShallowVisionError):
    """The installed scikit-learn cannot build a configuration faithfully; its row is skipped."""


@dataclass(frozen=True)
class BenchmarkConfig:
    """One configuration of a benchmark grid: a classifier and its parameters, as the grid names them."""

    classifier: str
    params: Mapping[str, Any]

    @property
    def key(self) -> str:
        """A stable identifier (classifier and sorted parameters) for resuming."""
        return config_key(self.classifier, self.params)


def config_key(classifier: str, params: Mapping[str, Any]) -> str:
    """``'SVC {"C": 1.0, "kernel": "rbf"}'``: the same for a configuration and its row read back."""
    return f"{classifier} {json.dumps(dict(params), sort_keys=True)}"


def get_benchmark_grid_names() -> list[str]:
    """Names of the benchmark grids (``"paper"``: the Fashion-MNIST paper's)."""
    return sorted(_GRIDS)


def _grid(name: str) -> dict[str, list[dict[str, list[Any]]]]:
    if name not in _GRIDS:
        raise ConfigError(
            f"unknown benchmark grid {name!r}; grids are: {', '.join(get_benchmark_grid_names())}"
        )
    return _GRIDS[name]


def _classifier_name(text: str, known: Sequence[str]) -> str:
    """Resolve ``--only`` names case-insensitively; ``Classifier`` may be left off."""
    import difflib

    wanted = text.strip().lower()
    for name in known:
        if wanted in (name.lower(), name.lower().removesuffix("classifier")):
            return name
    close = difflib.get_close_matches(text.strip(), known, n=2, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ConfigError(f"unknown classifier {text!r}: {hint}classifiers are {', '.join(known)}")


def get_benchmark_configs(
    grid: str = "paper", only: Sequence[str] | None = None
) -> list[BenchmarkConfig]:
    """Every configuration of a grid, in a fixed order.

    Parameters
    ----------
    grid : str
        A name from :func:`get_benchmark_grid_names`.
    only : sequence of str, optional
        Classifier names to keep (case-insensitive; ``"KNeighbors"`` for
        ``"KNeighborsClassifier"``); unknown names raise, listing the valid ones.
    """
    from sklearn.model_selection import ParameterGrid

    spec = _grid(grid)
    names = list(spec)
    chosen = names if not only else list(dict.fromkeys(_classifier_name(n, names) for n in only))
    return [
        BenchmarkConfig(name, params)
        for name in names
        if name in chosen
        for params in ParameterGrid(spec[name])
    ]


# -- building the classifiers on the installed scikit-learn ------------------------------------
def _sklearn_at_least(major: int, minor: int) -> bool:
    import sklearn

    parts = sklearn.__version__.split(".")
    return (int(parts[0]), int(parts[1])) >= (major, minor)


def _logistic(params: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    penalty = params.pop("penalty", "l2")
    if LogisticRegression().get_params()["penalty"] == "deprecated":
        params["l1_ratio"] = {"l1": 1.0, "l2": 0.0}[penalty]
    else:
        params["penalty"] = penalty
    return LogisticRegression(solver="saga", **params)


def _linear_svc(params: dict[str, Any]) -> Any:
    import sklearn
    from sklearn.svm import LinearSVC

    multi_class = params.pop("multi_class", "ovr")
    if multi_class == "crammer_singer":
        if "multi_class" not in LinearSVC().get_params():
            raise UnsupportedConfigError(
                f"scikit-learn {sklearn.__version__}'s LinearSVC has no Crammer-Singer solver "
                "(multi_class was removed); one-vs-rest is not a substitute, so the row is skipped"
            )
        return LinearSVC(multi_class="crammer_singer", **params)
    return LinearSVC(dual="auto", **params)


def _passive_aggressive(params: dict[str, Any]) -> Any:
    if _sklearn_at_least(1, 8):
        from sklearn.linear_model import SGDClassifier

        # The documented replacement of the deprecated class: the same PA-I updates.
        return SGDClassifier(
            loss="hinge", penalty=None, learning_rate="pa1", eta0=params.pop("C"), **params
        )
    from sklearn.linear_model import PassiveAggressiveClassifier

    return PassiveAggressiveClassifier(**params)


def _plain(module: str, cls: str) -> Callable[[dict[str, Any]], Any]:
    def build(params: dict[str, Any]) -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)(**params)

    return build


_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "DecisionTreeClassifier": _plain("sklearn.tree", "DecisionTreeClassifier"),
    "ExtraTreeClassifier": _plain("sklearn.tree", "ExtraTreeClassifier"),
    "RandomForestClassifier": _plain("sklearn.ensemble", "RandomForestClassifier"),
    "GradientBoostingClassifier": _plain("sklearn.ensemble", "GradientBoostingClassifier"),
    "KNeighborsClassifier": _plain("sklearn.neighbors", "KNeighborsClassifier"),
    "LogisticRegression": _logistic,
    "LinearSVC": _linear_svc,
    "SGDClassifier": _plain("sklearn.linear_model", "SGDClassifier"),
    "Perceptron": _plain("sklearn.linear_model", "Perceptron"),
    "PassiveAggressiveClassifier": _passive_aggressive,
    "SVC": _plain("sklearn.svm", "SVC"),
    "GaussianNB": _plain("sklearn.naive_bayes", "GaussianNB"),
}


def build_classifier(
    config: BenchmarkConfig,
    *,
    n_classes: int,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> Any:
    """An unfitted scikit-learn classifier for ``config`` on the installed scikit-learn.

    ``priors="uniform"`` becomes equal priors over ``n_classes``; ``random_state`` and
    ``n_jobs`` are set where the classifier has them. Raises :class:`UnsupportedConfigError` when
    the installed scikit-learn cannot build the configuration faithfully.
    """
    params = dict(config.params)
    if params.get("priors") == "uniform":
        params["priors"] = np.full(n_classes, 1.0 / n_classes)
    estimator = _BUILDERS[config.classifier](params)
    own = estimator.get_params()
    extra = {"random_state": random_state, "n_jobs": n_jobs}
    return estimator.set_params(**{k: v for k, v in extra.items() if k in own and v is not None})


# -- rows and the JSON-lines file --------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BenchmarkRow(Record):
    """One configuration's result: mean test accuracy over the repeats and seconds per fit.

    ``status`` is ``"ok"``, ``"failed"`` (``error`` says why), ``"skipped"`` (the
    installed scikit-learn cannot run it; ``error`` says why) or ``"timed out"``.
    ``warnings`` holds the distinct warnings the fits raised (e.g. non-convergence).
    The run's identity (dataset, fingerprint of the training images, repeats, seed)
    is stored on every row, so each line of the file stands alone.
    """

    classifier: str
    params: dict[str, Any]
    status: str = "ok"
    accuracy: float | None = None
    accuracy_std: float | None = None
    scores: tuple[float, ...] = ()
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    warnings: tuple[str, ...] = ()
    error: str = ""
    dataset: str = ""
    train_fingerprint: str = ""
    n_train: int = 0
    n_test: int = 0
    repeats: int = 1
    seed: int = 0
    n_jobs: int | None = None

    @property
    def key(self) -> str:
        return config_key(self.classifier, self.params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkRow:
        """A row from its :meth:`to_dict` (a line of the JSON-lines file)."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("scores", "warnings"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


#: Row fields that must match for rows of a file to belong to the same benchmark.
_IDENTITY = ("dataset", "train_fingerprint", "n_test", "repeats", "seed")


def read_benchmark_rows(path: str | os.PathLike[str]) -> list[BenchmarkRow]:
    """The rows of a benchmark file, in the order written (a later row of a key wins).

    A last line cut short (the process was killed while writing it) is ignored; any
    other unreadable line is an error naming the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    complete = lines[:-1]  # the text after the last newline, if any, is unfinished
    rows: dict[str, BenchmarkRow] = {}
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            row = BenchmarkRow.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}, line {number}: not a benchmark row ({exc})") from None
        rows.pop(row.key, None)
        rows[row.key] = row
    return list(rows.values())


class _RowFile:
    """Appends rows to a JSON-lines file, one complete line per write, flushed to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            text = path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                # Drop the line a killed run left unfinished, so appends start on a fresh line.
                from shallowvision._io import write_text

                write_text(path, text[: text.rfind("\n") + 1])

    def append(self, row: BenchmarkRow) -> None:
        line = json.dumps(row.to_dict(), sort_keys=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())


# -- running -----------------------------------------------------------------------------------
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


@dataclass(frozen=True, kw_only=True)
class BenchmarkResult(Record):
    """Every row of a benchmark run, in grid order, and where they are stored.

    ``n_resumed`` rows were read back from ``path`` instead of being fitted again.
    """

    grid: str
    dataset: str
    n_train: int
    n_test: int
    repeats: int
    seed: int
    rows: tuple[BenchmarkRow, ...]
    n_resumed: int = 0
    path: str | None = None

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows])

    def best(self) -> dict[str, BenchmarkRow]:
        """The most accurate finished row of each classifier."""
        out: dict[str, BenchmarkRow] = {}
        for row in self.rows:
            if row.status != "ok":
                continue
            current = out.get(row.classifier)
            if current is None or (row.accuracy or 0.0) > (current.accuracy or 0.0):
                out[row.classifier] = row
        return out


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
    writer = _RowFile(path) if path is not None else None
    for row in _run(todo, train, test, identity, repeats, random_state, n_jobs, time_limit):
        if writer is not None:
            writer.append(row)
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
    stamp = dict(identity)
    if on_dask():
        if time_limit is not None:
            raise ConfigError(
                "time_limit= stops fits in local worker processes; it cannot run on a Dask cluster"
            )
        from joblib import Parallel, delayed

        with shared_on_cluster(X_train, y_train, X_test, y_test):
            results = Parallel(n_jobs=-1, return_as="generator_unordered")(
                delayed(fit_config)(c, X_train, y_train, X_test, y_test, **kwargs) for c in todo
            )
            for row in results:
                yield replace(row, **stamp)
        return
    for config in todo:
        if time_limit is None:
            row = fit_config(config, X_train, y_train, X_test, y_test, **kwargs)  # type: ignore[arg-type]
        else:
            row = _fit_config_limited(config, X_train, y_train, X_test, y_test, time_limit, kwargs)
        yield replace(row, **stamp)


def _fit_config_limited(
    config: BenchmarkConfig,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    seconds: float,
    kwargs: dict[str, Any],
) -> BenchmarkRow:
    from shallowvision._workers import run_with_time_limit

    outcome = run_with_time_limit(
        fit_config,
        config,
        X_train,
        y_train,
        X_test,
        y_test,
        seconds=seconds,
        warmup=_import_sklearn,
        **kwargs,
    )
    if outcome.status == "ok":
        return outcome.value
    return BenchmarkRow(
        classifier=config.classifier,
        params=dict(config.params),
        status=outcome.status,
        error=_one_line(outcome.error),
    )


def _import_sklearn() -> None:
    # Imported before the clock starts, so the time limit measures the fits.
    import importlib

    for module in ("sklearn.ensemble", "sklearn.linear_model", "sklearn.svm", "sklearn.tree"):
        importlib.import_module(module)
