"""Honest comparison: fit every model on train, score it on held-out images."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from shallowvision._dask import on_dask
from shallowvision._dispatch import Job, dispatch
from shallowvision._metrics import summary_metrics
from shallowvision._records import StoredRecord
from shallowvision._scores import predict_scores
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError
from shallowvision.models._memory import MemoryBudgetError
from shallowvision.models._registry import get_model_spec
from shallowvision.models._scores import has_scores

__all__ = [
    "Comparison",
    "ModelScore",
    "compare_models",
    "fit_and_score",
    "score_fitted",
]

_log = logging.getLogger(__name__)

#: Columns of the comparison table, in order, with their display names.
COLUMNS = {
    "model": "model",
    "status": "status",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "precision_macro": "precision",
    "recall_macro": "recall",
    "f1_macro": "macro F1",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "fit_seconds": "fit s",
    "predict_seconds_per_1000": "predict s/1k",
    "size_bytes": "size",
}


@dataclass(frozen=True, kw_only=True)
class ModelScore(StoredRecord):
    """One model's row: metrics on the evaluation images, costs, and status.

    Stored as it is in a run's stage files, which the report reads back into it.
    """

    model: str
    status: str = "ok"
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None
    roc_auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    fit_seconds: float | None = None
    predict_seconds_per_1000: float | None = None
    size_bytes: int | None = None
    scores_kind: str | None = None
    error: str = ""
    #: What the model chose from the size of its data (landmarks, fitting sample).
    notes: str = ""
    #: The peak memory estimated before the fit (zoo models), in bytes.
    memory_estimate_bytes: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def measured(self) -> dict[str, Any]:
        """The row as a model file's manifest and a run's candidates keep it: all but the
        parameters (recorded on their own) and the error text (a saved model has none)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("params", "error")}


def _is_landmark_ridge(step: Any) -> bool:
    return hasattr(step, "landmarks_") or bool(getattr(step, "cells_", None))


def _landmarks_note(ridge: Any) -> str:
    """A fitted kernel ridge's landmarks (and cells) and how its systems were solved."""
    cells = getattr(ridge, "cells_", None)
    most = "at most " if cells else ""
    how = {
        "direct": "solved directly",
        "cg-float64": f"conjugate gradients in float64, {most}{ridge.n_iter_} iterations",
    }.get(ridge.solver_, f"conjugate gradients, {most}{ridge.n_iter_} iterations")
    where = f" in {len(cells)} k-means cells" if cells else ""
    return f"{ridge.n_components_:,} landmarks{where} ({how})"


def capacity_notes(estimator: Any) -> str:
    """What a fitted model chose from the size of its data, in a few words (or "")."""
    notes = []
    steps = [step for _, step in getattr(estimator, "steps", [("", estimator)])]
    for step in steps:
        if _is_landmark_ridge(step):
            notes.append(_landmarks_note(step))
        if getattr(step, "max_train", None) and hasattr(step, "n_train_"):
            n_seen = getattr(estimator, "n_fit_rows_", None)
            if n_seen and step.n_train_ < n_seen:
                notes.append(f"SVM fitted on a sample of {step.n_train_:,} of {n_seen:,} images")
        blended = getattr(step, "blended_", None)
        if blended is not None:
            what = (
                f"kernel ridge on {_landmarks_note(blended)}"
                if _is_landmark_ridge(blended)
                else type(blended).__name__
            )
            notes.append(f"blended with {what} fitted on every image, weight {step.blend_weight:g}")
    sample, rows = (
        getattr(estimator, "n_fit_sample_", None),
        getattr(estimator, "n_fit_rows_", None),
    )
    if sample and rows and sample < rows:
        notes.append(f"features learnt on a sample of {sample:,} of {rows:,} images")
    return "; ".join(notes)


@contextmanager
def thread_limit(n_jobs: int | None) -> Iterator[None]:
    """Cap the BLAS and OpenMP threads of the enclosed work at ``n_jobs`` (None: no cap).

    Models like HistGradientBoosting and the linear algebra under the kernel methods
    use threads that no ``n_jobs`` parameter reaches; without the cap, ``n_jobs=1``
    would still start one thread per core.
    """
    if n_jobs is None or n_jobs < 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_jobs):
        yield


def score_fitted(
    name: str,
    estimator: Any,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    n_classes: int,
    *,
    fit_seconds: float | None = None,
    params: dict[str, Any] | None = None,
    features: Literal["fresh", "on"] = "fresh",
) -> ModelScore:
    """The comparison row of an already-fitted model: metrics, predict time and size on disk.

    The prediction time is that of one call: the scores when the model has them, else
    the labels, with every feature computed anew (``features="fresh"``), or with features
    remembered from an earlier prediction of the same images where the pipelines have
    them (``"on"``: the time of what the model adds to them). The labels then reuse the
    scores' features.
    """
    from shallowvision._io import skops_size

    # Imported here: the feature steps load scikit-learn, which the records of this
    # module (read by the report and by commands refusing their arguments) do not need.
    from shallowvision.features._chunked import remembered_inputs

    scores, kind = None, "labels"
    with remembered_inputs(features):
        start = time.perf_counter()
        if has_scores(estimator):
            scores, kind = predict_scores(estimator, X_eval)
        else:
            labels = np.asarray(estimator.predict(X_eval))
        predict_seconds = time.perf_counter() - start
    if scores is not None:
        with remembered_inputs():
            labels = np.asarray(estimator.predict(X_eval))
    return ModelScore(
        model=name,
        fit_seconds=fit_seconds,
        predict_seconds_per_1000=predict_seconds / max(len(X_eval), 1) * 1000,
        size_bytes=skops_size(estimator),
        scores_kind=kind,
        notes=capacity_notes(estimator),
        params=dict(params or {}),
        **summary_metrics(y_eval, labels, scores, kind, n_classes),  # type: ignore[arg-type]
    )


def fit_and_score(
    model: str | tuple[str, Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    n_classes: int,
    *,
    random_state: int = 0,
    n_jobs: int | None = None,
    params: dict[str, Any] | None = None,
    keep_model: bool = False,
    image_shape: tuple[int, ...] | None = None,
) -> tuple[ModelScore, Any]:
    """Fit one model and score it: the unit of work of :func:`compare_models`.

    A pure function of its arguments (so it can run in a worker process or on a
    cluster). Returns the row and, with ``keep_model``, the fitted pipeline.
    ``image_shape`` is that of the images the rows were flattened from
    (``ImageSet.image_shape``), for a zoo model named by ``model``.
    ``n_jobs`` also caps the BLAS and OpenMP threads of the fit and the predictions
    (see :func:`thread_limit`).
    """
    if isinstance(model, str):
        name = model
        estimator = get_model_spec(name).make(
            random_state=random_state, n_jobs=n_jobs, image_shape=image_shape, **(params or {})
        )
    else:
        name, estimator = model
    with thread_limit(n_jobs):
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        row = score_fitted(
            name, estimator, X_eval, y_eval, n_classes, fit_seconds=fit_seconds, params=params
        )
    return row, (estimator if keep_model else None)


@dataclass
class Comparison:
    """The rows of a comparison and what they were measured on."""

    rows: list[ModelScore]
    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    class_names: list[str]
    random_state: int
    models: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "evaluated_on": self.evaluated_on,
            "n_train": self.n_train,
            "n_eval": self.n_eval,
            "class_names": self.class_names,
            "random_state": self.random_state,
            "rows": [r.to_dict() for r in self.rows],
        }

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame (one row per model)."""
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows]).drop(columns=["params"])

    def best(self, metric: str = "f1_macro") -> ModelScore:
        """The finished row with the highest ``metric``."""
        done = [r for r in self.rows if r.status == "ok" and getattr(r, metric) is not None]
        if not done:
            raise ConfigError("no model finished, so there is no best one")
        return max(done, key=lambda r: getattr(r, metric))


def _check_models(models: Sequence[str | tuple[str, Any]]) -> list[str | tuple[str, Any]]:
    if not models:
        raise ConfigError("no models to compare")
    checked: list[str | tuple[str, Any]] = []
    for m in models:
        if isinstance(m, str):
            get_model_spec(m)  # fail early, listing the valid names
        checked.append(m)
    return checked


def compare_models(
    models: Sequence[str | tuple[str, Any]],
    train: ImageSet,
    evaluate_on: ImageSet,
    *,
    random_state: int = 0,
    n_jobs: int | None = None,
    time_limit: float | None = None,
    time_budget: float | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    keep_models: bool = False,
    on_progress: Callable[[str, str], None] | None = None,
) -> Comparison:
    """Fit each model on ``train`` and score it on ``evaluate_on`` (validation, unless you pass test).

    Parameters
    ----------
    models : sequence of str or (name, estimator)
        Zoo names or unfitted estimators.
    train, evaluate_on : ImageSet
        Same class names and image shape.
    random_state, n_jobs : optional
        Passed to every zoo model.
    time_limit : float, optional
        Seconds per model; a model that overruns is stopped (it fits in a separate
        process) and its row is marked ``"timed out"``.
    time_budget : float, optional
        Seconds for the whole comparison. The models then run cheapest first, by their
        expected fit time (:meth:`~shallowvision.models.ModelSpec.expected_fit_seconds`,
        corrected by how the models fitted so far compared with theirs; estimators of
        your own last), each in a worker process stopped when the budget runs out
        (``"timed out"``), and a model expected to need more than what is left is not
        started: its row reads ``"over budget"``, with the numbers. The rows come in
        the order the models ran. Local processes only, like ``time_limit``.
    params : dict, optional
        Per-model parameters, ``{"rf": {"n_estimators": 50}}``.
    keep_models : bool
        Keep the fitted pipelines in ``Comparison.models``.
    on_progress : callable, optional
        Called with ``(model_name, stage)`` as each model starts and ends.
    """
    models = _check_models(models)
    if time_budget is not None:
        _check_budget(time_budget)
    train.check_trainable()
    if train.class_names != evaluate_on.class_names or train.image_shape != evaluate_on.image_shape:
        raise ConfigError(
            f"train and {evaluate_on.split} differ in classes or image shape; load them with one load_splits call"
        )
    X_train, y_train = np.ascontiguousarray(train.X), train.y
    X_eval, y_eval = np.ascontiguousarray(evaluate_on.X), evaluate_on.y
    names = [m if isinstance(m, str) else m[0] for m in models]
    rows: list[ModelScore | None] = [None] * len(models)
    estimates: dict[int, int | None] = {}
    # A cluster's workers have memory of their own: this machine's says nothing of it.
    check_memory = not on_dask()
    budget = None if time_budget is None else _Budget(time_budget, train)
    order = list(range(len(models))) if budget is None else budget.order(models)

    def jobs() -> Iterator[Job]:
        for i in order:
            model, name = models[i], names[i]
            if on_progress:
                on_progress(name, "start")
            estimate = _memory_estimate(model, train) if check_memory else None
            if isinstance(estimate, ModelScore):
                rows[i] = estimate
                if on_progress:
                    on_progress(name, estimate.status)
                continue
            refusal = None if budget is None else budget.refusal(model)
            if refusal is not None:
                rows[i] = ModelScore(model=name, status="over budget", error=refusal)
                if on_progress:
                    on_progress(name, "over budget")
                continue
            estimates[i] = estimate
            kwargs = {
                "random_state": random_state,
                "n_jobs": n_jobs,
                "params": (params or {}).get(name),
                "keep_model": keep_models,
                "image_shape": train.image_shape,
            }
            args = (model, X_train, y_train, X_eval, y_eval, train.n_classes)
            deadline = None if budget is None else budget.deadline
            warmup = functools.partial(_warm_up, model)
            yield Job(i, args, kwargs, warmup=warmup, deadline=deadline)

    fitted: dict[int, Any] = {}
    shared = (X_train, y_train, X_eval, y_eval)
    for job, outcome in dispatch(fit_and_score, jobs(), shared=shared, time_limit=time_limit):
        name = names[job.key]
        if outcome.status == "ok":
            row, estimator = outcome.value
            if budget is not None:
                budget.measured(models[job.key], row.fit_seconds)
        else:
            if outcome.value:
                _log.debug("%s %s:\n%s", name, outcome.status, outcome.value)
            row, estimator = (
                ModelScore(model=name, status=outcome.status, error=outcome.error),
                None,
            )
        rows[job.key] = replace(row, memory_estimate_bytes=estimates[job.key])
        if estimator is not None:
            fitted[job.key] = estimator
        if on_progress:
            on_progress(name, row.status)
    return Comparison(
        rows=[row for row in (rows[i] for i in order) if row is not None],
        dataset=train.name,
        evaluated_on=evaluate_on.split,
        n_train=len(train),
        n_eval=len(evaluate_on),
        class_names=list(train.class_names),
        random_state=random_state,
        models={names[i]: fitted[i] for i in order if i in fitted},
    )


def _check_budget(time_budget: float) -> None:
    if isinstance(time_budget, bool) or not isinstance(time_budget, int | float):
        raise ConfigError(f"time_budget={time_budget!r}: give the seconds as a number")
    if not time_budget > 0 or time_budget == float("inf"):
        raise ConfigError(f"time_budget={time_budget!r}: give a positive, finite number of seconds")
    if on_dask():
        raise ConfigError(
            "time_budget= stops fits in local worker processes; it cannot run on a Dask cluster"
        )


#: Fits expected to take less than this say too little of the machine's speed to correct
#: the others' expected times (start-up costs dominate them).
_MEASURABLE_SECONDS = 1.0
#: Bounds of that correction: one odd fit must not swing every later estimate.
_CORRECTION = (0.25, 4.0)


class _Budget:
    """The time budget of one comparison: its deadline, the models' expected fit times,
    and their correction from the fits measured so far."""

    def __init__(self, seconds: float, train: ImageSet) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.train = train
        self.priors: list[tuple[float, float]] = []  # (expected, measured) of finished fits

    def prior(self, model: str | tuple[str, Any]) -> float | None:
        """The model's expected fit seconds from its reference time (None: not known)."""
        if not isinstance(model, str):
            return None
        return get_model_spec(model).expected_fit_seconds(len(self.train), self.train.image_shape)

    def order(self, models: Sequence[str | tuple[str, Any]]) -> list[int]:
        """Positions of ``models``, cheapest expected first (stable; unknown ones last)."""
        priors = [self.prior(m) for m in models]
        return sorted(range(len(models)), key=lambda i: (priors[i] is None, priors[i] or 0.0))

    def correction(self) -> float:
        """Measured over expected fit seconds of the finished fits long enough to tell."""
        telling = [(e, m) for e, m in self.priors if e >= _MEASURABLE_SECONDS]
        if not telling:
            return 1.0
        ratio = sum(m for _, m in telling) / sum(e for e, _ in telling)
        return min(max(ratio, _CORRECTION[0]), _CORRECTION[1])

    def measured(self, model: str | tuple[str, Any], seconds: float | None) -> None:
        prior = self.prior(model)
        if prior is not None and seconds is not None:
            self.priors.append((prior, seconds))

    def refusal(self, model: str | tuple[str, Any]) -> str | None:
        """Why ``model`` is not started (one line with the numbers), or None."""
        left = self.deadline - time.monotonic()
        prior = self.prior(model)
        if prior is None:
            if left > 0:
                return None
            return f"not started: the comparison's time budget of {_seconds(self.seconds)} is spent"
        correction = self.correction()
        expected = prior * correction
        if expected <= left:
            return None
        shape = "x".join(str(s) for s in self.train.image_shape)
        corrected = (
            f" (the fits so far took {correction:.2f} times their expected time)"
            if correction != 1.0
            else ""
        )
        return (
            f"not started: expected to take {_seconds(expected)} on {len(self.train):,} images "
            f"of {shape}{corrected}, and {_seconds(max(left, 0.0))} of the comparison's "
            f"{_seconds(self.seconds)} time budget is left"
        )


def _seconds(value: float) -> str:
    """Seconds in a few digits: 0.42 s, 12.3 s, 1,234 s."""
    if value < 10:
        return f"{value:.2g} s" if value < 1 else f"{value:.1f} s"
    return f"{value:,.0f} s" if value >= 100 else f"{value:.1f} s"


def _memory_estimate(model: str | tuple[str, Any], train: ImageSet) -> int | ModelScore | None:
    """A zoo model's estimated peak bytes, or a "refused" row when that exceeds what is free."""
    if not isinstance(model, str):
        return None  # an estimator of the caller's: its memory is not known
    try:
        return get_model_spec(model).check_memory(len(train), train.image_shape, train.n_classes)
    except MemoryBudgetError as exc:
        return ModelScore(model=model, status="refused", error=str(exc))


def _warm_up(model: str | tuple[str, Any]) -> None:
    """Import what :func:`fit_and_score` needs, so a time limit measures the work, not imports."""
    import sklearn.metrics  # noqa: F401
    import skops.io  # noqa: F401

    if isinstance(model, str):
        get_model_spec(model).make()  # imports the model's own library (xgboost, lightgbm ...)
