"""Post-hoc calibration of an already-fitted classifier on a separate calibration split.

Three methods: ``temperature`` (:class:`TemperatureScaling`, one scalar for every
class), and scikit-learn's one-vs-rest ``sigmoid`` (Platt) and ``isotonic`` through
``CalibratedClassifierCV`` over a ``FrozenEstimator``, so the wrapped model is never refitted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from shallowvision import _metrics as core
from shallowvision._folds import fold_count
from shallowvision._scores import predict_scores
from shallowvision.datasets import ImageSet
from shallowvision.evaluation._calibration import (
    ReliabilityDiagram,
    classwise_reliability,
    reliability_diagram,
)
from shallowvision.evaluation._records import NOT_JSON, Record
from shallowvision.evaluation._validation import check_predictions
from shallowvision.exceptions import ConfigError, DataError

__all__ = [
    "CalibrationComparison",
    "TemperatureScaling",
    "calibrate",
    "compare_calibration",
    "get_calibration_method_names",
]

# Probabilities of exactly 0 would give infinite logits; this floor is scikit-learn's.
_EPS = 1e-12
# log T is searched in [-7, 7]: T from about 1e-3 (sharpen a lot) to 1e3 (flatten to uniform).
_LOG_T_BOUNDS = (-7.0, 7.0)


class TemperatureScaling(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Temperature scaling of an already-fitted classifier (Guo et al. 2017).

    The calibrated probabilities are ``softmax(logits / T)`` with one scalar ``T``
    fitted by minimising the negative log-likelihood on the calibration data given to
    :meth:`fit`. ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens
    under-confident ones; the predicted class never changes.

    Parameters
    ----------
    estimator : fitted classifier
        The model to calibrate. It is used as it is and never refitted; ``clone``
        keeps this same fitted model (as ``sklearn.frozen.FrozenEstimator`` does).
    response_method : {"auto", "predict_proba", "decision_function"}
        Where the logits come from: the log of ``predict_proba`` (floored at 1e-12),
        or ``decision_function`` (a binary one, ``d``, becomes the logits ``(-d, d)``).
        ``"auto"`` uses ``predict_proba`` when the model has it.

    Attributes
    ----------
    temperature_ : float
    classes_ : ndarray
        The wrapped model's classes.
    response_method_ : str
        The method the logits came from.
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        response_method: Literal["auto", "predict_proba", "decision_function"] = "auto",
    ) -> None:
        self.estimator = estimator
        self.response_method = response_method

    def __sklearn_clone__(self) -> TemperatureScaling:
        # The wrapped model is fitted data, not a hyper-parameter: a clone (as in
        # cross-validation or grid search) must keep it fitted, as FrozenEstimator does.
        return type(self)(self.estimator, response_method=self.response_method)

    def fit(self, X: ArrayLike, y: ArrayLike) -> TemperatureScaling:
        """Fit the temperature on calibration data (never the test split).

        Parameters
        ----------
        X : array-like
            Calibration samples, as the wrapped model expects them.
        y : array-like of shape (n_samples,)
            Their labels, from the wrapped model's ``classes_``.

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise ConfigError("TemperatureScaling needs the fitted classifier to calibrate")
        try:
            check_is_fitted(self.estimator)
        except NotFittedError as exc:
            raise NotFittedError(
                f"TemperatureScaling wraps an already-fitted classifier, but this "
                f"{type(self.estimator).__name__} is not fitted: fit it on the training split first"
            ) from exc
        if self.response_method not in ("auto", "predict_proba", "decision_function"):
            raise ConfigError(
                f"response_method must be 'auto', 'predict_proba' or 'decision_function', "
                f"got {self.response_method!r}"
            )
        check_classification_targets(y)
        self.classes_ = np.asarray(self.estimator.classes_)
        columns = _columns_of(np.asarray(y), self.classes_)
        self.response_method_ = (
            ("predict_proba" if hasattr(self.estimator, "predict_proba") else "decision_function")
            if self.response_method == "auto"
            else self.response_method
        )
        logits = self._logits(X)
        rows = np.arange(len(columns))

        def nll(log_t: float) -> float:
            return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, columns].mean())

        result = minimize_scalar(
            nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-8}
        )
        self.temperature_ = float(np.exp(result.x))
        if hasattr(self.estimator, "n_features_in_"):
            self.n_features_in_ = self.estimator.n_features_in_
        return self

    def _logits(self, X: ArrayLike) -> np.ndarray:
        scores = predict_scores(self.estimator, X, response_method=self.response_method_).values
        if self.response_method_ == "predict_proba":
            return np.log(np.clip(scores, _EPS, None))
        return scores

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Calibrated probabilities, shape ``(n_samples, n_classes)``."""
        check_is_fitted(self, "temperature_")
        return softmax(self._logits(X) / self.temperature_, axis=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The wrapped model's predicted classes (temperature does not change the ranking)."""
        proba = self.predict_proba(X)  # raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(axis=1)]


def _columns_of(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Column index of every label in ``classes`` (sorted, as scikit-learn keeps them)."""
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[idx] != y
    if unknown.any():
        raise DataError(
            f"label {y[unknown][0].item()!r} is not one of the model's classes {classes.tolist()}"
        )
    return idx


#: Folds of scikit-learn's sigmoid and isotonic calibration (its default), fewer on small data.
_CV_FOLDS = 5

_METHODS: dict[str, Callable[[Any, int], Any]] = {
    "temperature": lambda est, folds: TemperatureScaling(est),
    "sigmoid": lambda est, folds: CalibratedClassifierCV(
        FrozenEstimator(est), method="sigmoid", cv=folds
    ),
    "isotonic": lambda est, folds: CalibratedClassifierCV(
        FrozenEstimator(est), method="isotonic", cv=folds
    ),
}


def get_calibration_method_names() -> list[str]:
    """Names of the post-hoc calibration methods :func:`calibrate` accepts."""
    return sorted(_METHODS)


def calibrate(
    estimator: Any, X_cal: ArrayLike, y_cal: ArrayLike, *, method: str = "temperature"
) -> Any:
    """Calibrate an already-fitted classifier on a calibration split.

    Parameters
    ----------
    estimator : fitted classifier
        Left unchanged; it must not have seen ``X_cal`` while fitting.
    X_cal, y_cal : array-like
        The calibration split: never the test split.
    method : {"temperature", "sigmoid", "isotonic"}

    Returns
    -------
    fitted classifier
        With ``predict`` and ``predict_proba``.
    """
    if method not in _METHODS:
        raise ConfigError(
            f"unknown calibration method {method!r}; choose one of {', '.join(get_calibration_method_names())}"
        )
    # Sigmoid and isotonic calibrators are fitted on stratified folds of the split: as many
    # as its smallest class allows, up to scikit-learn's 5.
    folds = (
        _CV_FOLDS
        if method == "temperature"
        else fold_count(y_cal, _CV_FOLDS, what=f"{method} calibration")
    )
    return _METHODS[method](estimator, folds).fit(X_cal, y_cal)


@dataclass(frozen=True, eq=False, kw_only=True)
class CalibrationComparison(Record):
    """Calibration measures on the evaluation split before and after post-hoc calibration.

    ``table`` maps each measure (``ece``, ``mce``, ``classwise_ece``, ``brier``,
    ``log_loss``, ``accuracy``) to its ``before`` and ``after`` values. A model that
    gives decision scores, not probabilities, has only an accuracy before: its other
    ``before`` values and ``before`` diagram are None.
    """

    method: str
    temperature: float | None
    n_calibration: int
    n_evaluation: int
    table: dict[str, dict[str, float | None]]
    before: ReliabilityDiagram | None
    after: ReliabilityDiagram
    calibrator: Any = field(default=None, repr=False, metadata=NOT_JSON)

    def manifest_record(self, model_file: str | None = None) -> dict[str, Any]:
        """How the model was calibrated, as its model file's manifest records it
        (``calibration`` of :func:`~shallowvision.persistence.save_model`): the method,
        the temperature, the model file it was made from and the before/after table."""
        return {
            "method": self.method,
            "temperature": self.temperature,
            "model_file": model_file,
            "table": self.table,
        }


Split = ImageSet | tuple[ArrayLike, ArrayLike]


def _arrays(split: Split, role: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(split, ImageSet):
        if role == "calibration" and split.split == "test":
            raise DataError(
                f"{split.name}: the calibration split is the test split; calibrate on a split "
                "held out from the training data (e.g. load_splits(...).validation)"
            )
        return split.X, split.labels
    if not isinstance(split, tuple) or len(split) != 2:
        raise DataError(f"the {role} split must be an ImageSet or an (X, y) pair")
    return np.asarray(split[0]), np.asarray(split[1])


def _scores(
    y: np.ndarray, proba: np.ndarray, n_bins: int
) -> tuple[dict[str, float], ReliabilityDiagram]:
    """ECE, MCE, class-wise ECE, Brier score, log loss and accuracy, and the top-label diagram."""
    top = reliability_diagram(y, proba, n_bins=n_bins)
    return {
        "ece": top.ece,
        "mce": top.mce,
        "classwise_ece": classwise_reliability(y, proba, n_bins=n_bins).classwise_ece,
        "brier": core.multiclass_brier(y, proba),
        "log_loss": core.log_loss(y, proba),
        "accuracy": core.accuracy(y, proba.argmax(axis=1)),
    }, top


def compare_calibration(
    estimator: Any,
    calibration: Split,
    evaluation: Split,
    *,
    method: str = "temperature",
    class_names: Sequence[Any] | None = None,
    n_bins: int = 15,
) -> CalibrationComparison:
    """Fit a calibrator on the calibration split and compare before and after on another split.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` or ``decision_function`` (an SVM's scores, say: then
        only the accuracy has a before value); left unchanged.
    calibration : ImageSet or (X, y)
        Where the calibrator is fitted: a split held out from training, never the
        test split (an ImageSet whose ``split`` is ``"test"`` is refused).
    evaluation : ImageSet or (X, y)
        Where before and after are measured, usually the test split.
    method : {"temperature", "sigmoid", "isotonic"}
    class_names : sequence of str, optional
    n_bins : int
        Bins of the reliability diagrams and ECE.

    Returns
    -------
    CalibrationComparison
        Its ``calibrator`` is the fitted calibrated model.
    """
    X_cal, y_cal = _arrays(calibration, "calibration")
    X_eval, y_eval = _arrays(evaluation, "evaluation")
    if X_cal is X_eval or (X_cal.shape == X_eval.shape and np.array_equal(X_cal, X_eval)):
        raise DataError(
            "the calibration and evaluation splits are the same images: calibrating on the "
            "data used to measure it hides miscalibration; hold out a separate calibration split"
        )
    calibrator = calibrate(estimator, X_cal, y_cal, method=method)
    classes = np.asarray(estimator.classes_)
    y, after, _ = check_predictions(
        _columns_of(y_eval, classes),
        predict_scores(calibrator, X_eval, response_method="predict_proba").values,
        class_names,
    )
    scores_after, diagram_after = _scores(y, after, n_bins)
    scores_before: dict[str, float | None]
    diagram_before: ReliabilityDiagram | None
    if hasattr(estimator, "predict_proba"):
        proba = predict_scores(estimator, X_eval, response_method="predict_proba").values
        _, before, _ = check_predictions(y, proba, class_names)
        measured, diagram_before = _scores(y, before, n_bins)
        scores_before = dict(measured)
    else:  # decision scores: no probabilities to measure calibration on, only the ranking
        decision = predict_scores(estimator, X_eval, response_method="decision_function").values
        scores_before = dict.fromkeys(scores_after, None)
        scores_before["accuracy"] = core.accuracy(y, decision.argmax(axis=1))
        diagram_before = None
    return CalibrationComparison(
        method=method,
        temperature=getattr(calibrator, "temperature_", None),
        n_calibration=len(y_cal),
        n_evaluation=len(y),
        table={m: {"before": scores_before[m], "after": scores_after[m]} for m in scores_before},
        before=diagram_before,
        after=diagram_after,
        calibrator=calibrator,
    )
