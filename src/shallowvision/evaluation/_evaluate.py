"""One entry point that evaluates a model's stored probabilities into one record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from shallowvision._scores import predict_scores
from shallowvision.evaluation._calibration import CalibrationSummary, calibration_summary
from shallowvision.evaluation._curves import CurveSet, OneVsRest
from shallowvision.evaluation._errors import (
    ConfusedPair,
    ConfusionResult,
    ErrorOverlap,
    Gallery,
    confidently_wrong,
    confusion,
    error_overlap,
    misclassified_gallery,
    most_confused_pairs,
)
from shallowvision.evaluation._metrics import (
    BootstrapResult,
    ClassificationMetrics,
    McNemarResult,
    bootstrap_ci,
    mcnemar_test,
    metrics_from_curves,
)
from shallowvision.evaluation._records import NOT_JSON, Record
from shallowvision.evaluation._thresholds import (
    OperatingPoint,
    ThresholdCurves,
    choose_operating_point,
    threshold_curves,
)
from shallowvision.evaluation._uncertainty import (
    CorrectWrongHistogram,
    RiskCoverage,
    confidence_histogram,
    entropy_histogram,
    risk_coverage,
)
from shallowvision.evaluation._validation import check_predicted_labels, check_predictions
from shallowvision.exceptions import DataError

if TYPE_CHECKING:
    from shallowvision.datasets import ImageSet

__all__ = ["Evaluation", "evaluate_model", "evaluate_predictions"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Evaluation(Record):
    """Everything known about one model's predictions on one split (except robustness).

    ``to_dict()`` is the content of ``evaluation.json``. ``images`` (kept for the
    galleries) is not part of it.
    """

    model_name: str
    class_names: tuple[str, ...]
    n_samples: int
    image_shape: tuple[int, int] | None
    metrics: ClassificationMetrics
    bootstrap: BootstrapResult
    roc: CurveSet
    pr: CurveSet
    thresholds: ThresholdCurves
    operating_points: tuple[OperatingPoint, ...]
    operating_point_notes: tuple[str, ...]
    calibration: CalibrationSummary
    confidence: CorrectWrongHistogram
    entropy: CorrectWrongHistogram
    risk_coverage: RiskCoverage
    confusion: ConfusionResult
    confused_pairs: tuple[ConfusedPair, ...]
    galleries: tuple[Gallery, ...]
    confidently_wrong: Gallery
    comparisons: tuple[McNemarResult, ...]
    error_overlap: ErrorOverlap | None
    images: np.ndarray | None = field(default=None, repr=False, metadata=NOT_JSON)

    def headline(self) -> dict[str, float | None]:
        """The few numbers a summary line or table shows."""
        m = self.metrics
        return {
            "accuracy": m.accuracy,
            "accuracy_low": self.bootstrap.accuracy.low,
            "accuracy_high": self.bootstrap.accuracy.high,
            "macro_f1": m.f1.macro,
            "roc_auc_macro": m.ranking.roc_auc.macro,
            "log_loss": m.log_loss,
            "brier": m.brier,
            "ece": self.calibration.ece,
            "coverage_at_target": self.risk_coverage.coverage_at_target,
        }


def evaluate_predictions(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any],
    images: ArrayLike | None = None,
    model_name: str = "model",
    other_predictions: Mapping[str, ArrayLike] | None = None,
    n_bins: int = 15,
    top_k: Sequence[int] = (3, 5),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
    target_accuracy: float = 0.99,
    n_pairs: int = 6,
    gallery_size: int = 16,
    positive: int | str | None = None,
    threshold: float | None = None,
    min_precision: float | None = None,
    fp_cost: float | None = None,
    fn_cost: float | None = None,
) -> Evaluation:
    """Evaluate one model's predicted probabilities: metrics, curves, calibration,
    uncertainty and error analysis, in one record.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices into ``class_names``.
    proba : array-like of float, shape (n_samples, n_classes)
        The model's predicted probabilities for the same images.
    class_names : sequence of str
        One name per column of ``proba``.
    images : array-like of uint8, shape (n_samples, height, width[, 3]), optional
        The images (grey, or colour with 3 channels), kept for the galleries of
        :func:`save_figures`.
    model_name : str
    other_predictions : mapping of str to array-like, optional
        Other models' predictions (labels or probabilities) on the same images: each
        is compared with this model by McNemar's test, and all of them together by
        the error-overlap matrix.
    n_bins : int
        Bins of the reliability diagrams, ECE and the Brier decomposition.
    top_k : sequence of int
        The k of the top-k accuracies.
    n_resamples, confidence, random_state
        Bootstrap resamples, interval coverage and seed.
    target_accuracy : float
        Accuracy for the coverage-at-target of the risk-coverage curve.
    n_pairs : int
        Most confused class pairs listed, each with a gallery.
    gallery_size : int
        Images per gallery.
    positive : int or str, optional
        Class of the operating point; by default the positive class of a binary task,
        or every class of a multiclass one.
    threshold, min_precision, fp_cost, fn_cost : float, optional
        A target for the operating points (see :func:`choose_operating_point`); none
        means no operating point beyond the F1-optimal one of each threshold curve.

    Returns
    -------
    Evaluation
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    pixels = None
    if images is not None:
        pixels = np.asarray(images)
        colour = pixels.ndim == 4 and pixels.shape[-1] == 3
        if not (pixels.ndim == 3 or colour) or len(pixels) != len(y):
            raise DataError(
                f"images must have shape (n, height, width), or (n, height, width, 3) in "
                f"colour, with n = {len(y)}, got {pixels.shape}"
            )
    pred = p.argmax(axis=1)
    # Every ROC and PR curve is computed once, for the metrics and the curve sets alike.
    ovr = OneVsRest(y, p, names)
    conf = confusion(y, pred, class_names=names)
    pairs = most_confused_pairs(conf, top=n_pairs)
    points, notes = _operating_points(
        y,
        p,
        names,
        positive,
        threshold=threshold,
        min_precision=min_precision,
        fp_cost=fp_cost,
        fn_cost=fn_cost,
    )
    others = dict(other_predictions or {})
    if model_name in others:
        raise DataError(f"other_predictions has a model named {model_name!r} like this one")
    return Evaluation(
        model_name=model_name,
        class_names=names,
        n_samples=len(y),
        image_shape=(int(pixels.shape[1]), int(pixels.shape[2])) if pixels is not None else None,
        metrics=metrics_from_curves(ovr, top_k),
        bootstrap=bootstrap_ci(
            y,
            pred,
            n_classes=len(names),
            n_resamples=n_resamples,
            confidence=confidence,
            random_state=random_state,
        ),
        roc=ovr.roc_set(),
        pr=ovr.pr_set(),
        thresholds=threshold_curves(y, p, class_names=names),
        operating_points=points,
        operating_point_notes=notes,
        calibration=calibration_summary(y, p, class_names=names, n_bins=n_bins),
        confidence=confidence_histogram(y, p),
        entropy=entropy_histogram(y, p),
        risk_coverage=risk_coverage(y, p, target_accuracy=target_accuracy),
        confusion=conf,
        confused_pairs=pairs,
        galleries=tuple(
            misclassified_gallery(
                y,
                p,
                true_class=pair.true_index,
                predicted_class=pair.predicted_index,
                class_names=names,
                max_images=gallery_size,
            )
            for pair in pairs
        ),
        confidently_wrong=confidently_wrong(y, p, class_names=names, max_images=gallery_size),
        comparisons=tuple(
            mcnemar_test(
                y,
                pred,
                check_predicted_labels(other, len(y), name=f"model {name!r}"),
                names=(model_name, name),
            )
            for name, other in others.items()
        ),
        error_overlap=error_overlap(y, {model_name: pred, **others}) if others else None,
        images=pixels,
    )


def evaluate_model(
    estimator: Any,
    data: ImageSet,
    *,
    model_name: str = "model",
    other_models: Mapping[str, Any] | None = None,
    n_bins: int = 15,
    top_k: Sequence[int] = (3, 5),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
    target_accuracy: float = 0.99,
    n_pairs: int = 6,
    gallery_size: int = 16,
    positive: int | str | None = None,
    threshold: float | None = None,
    min_precision: float | None = None,
    fp_cost: float | None = None,
    fn_cost: float | None = None,
) -> Evaluation:
    """Evaluate a fitted classifier on labelled images: :func:`evaluate_predictions` of its probabilities.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` whose columns are the classes of ``data`` in order
        (a zoo pipeline, or a calibrated model).
    data : ImageSet
        The images to evaluate on, usually the test split; kept for the galleries.
    model_name : str
    other_models : mapping of str to fitted classifier, optional
        Other models on the same images: their predicted labels are compared with
        this model's (McNemar's test, error overlap).
    n_bins, top_k, n_resamples, confidence, random_state, target_accuracy, n_pairs, \
gallery_size, positive, threshold, min_precision, fp_cost, fn_cost
        As for :func:`evaluate_predictions`, which these are passed to.

    Returns
    -------
    Evaluation

    Raises
    ------
    DataError
        If the model gives decision scores instead of probabilities (calibrate it
        first, e.g. with :func:`calibrate`), or its outputs do not match ``data``.
    """
    if not hasattr(estimator, "predict_proba"):
        raise DataError(
            f"{model_name} gives decision scores, not probabilities, and the evaluation needs "
            "probabilities: calibrate it first (method 'sigmoid' or 'temperature')"
        )
    proba = predict_scores(estimator, data.X, response_method="predict_proba").values
    others = {
        name: np.asarray(model.predict(data.X)) for name, model in (other_models or {}).items()
    }
    return evaluate_predictions(
        data.labels,
        proba,
        class_names=data.class_names,
        images=data.images,
        model_name=model_name,
        other_predictions=others,
        n_bins=n_bins,
        top_k=top_k,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=random_state,
        target_accuracy=target_accuracy,
        n_pairs=n_pairs,
        gallery_size=gallery_size,
        positive=positive,
        threshold=threshold,
        min_precision=min_precision,
        fp_cost=fp_cost,
        fn_cost=fn_cost,
    )


def _operating_points(
    y: np.ndarray,
    p: np.ndarray,
    names: tuple[str, ...],
    positive: int | str | None,
    **target: float | None,
) -> tuple[tuple[OperatingPoint, ...], tuple[str, ...]]:
    """Operating points for the target, and a note for each class that cannot reach it."""
    if all(v is None for v in target.values()):
        return (), ()
    if positive is not None:
        classes: list[int | str] = [positive]
    else:
        classes = [1] if len(names) == 2 else list(range(len(names)))
    points, notes = [], []
    for cls in classes:
        try:
            points.append(choose_operating_point(y, p, positive=cls, class_names=names, **target))
        except DataError as exc:
            # A class that cannot reach a minimum precision must not hide the others;
            # an explicitly chosen class that cannot is the user's error.
            if positive is not None:
                raise
            notes.append(str(exc))
    return tuple(points), tuple(notes)
