"""Evaluation: metrics, curves, calibration, uncertainty, robustness and error analysis.

Every function is a pure function of ``(y_true, proba or scores[, images])`` returning a
result record (a dataclass with ``to_dict()``); Display classes draw the records with
matplotlib and the ``*_figure`` builders with plotly. :func:`evaluate_predictions`
gathers everything but robustness into one :class:`Evaluation`, and
:func:`save_figures` writes its PNGs.
"""

from shallowvision.evaluation._curves import (
    Curve,
    CurveSet,
    OperatingPoint,
    ThresholdCurve,
    ThresholdCurves,
    choose_operating_point,
    pr_curves,
    roc_curves,
    threshold_curves,
)
from shallowvision.evaluation._metrics import (
    BootstrapResult,
    ClassificationMetrics,
    Interval,
    McNemarResult,
    PerClass,
    RankingMetrics,
    bootstrap_ci,
    classification_metrics,
    mcnemar_test,
    ranking_metrics,
)
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import predict_scores

__all__ = [
    "BootstrapResult",
    "ClassificationMetrics",
    "Curve",
    "CurveSet",
    "Interval",
    "McNemarResult",
    "OperatingPoint",
    "PerClass",
    "RankingMetrics",
    "Record",
    "ThresholdCurve",
    "ThresholdCurves",
    "bootstrap_ci",
    "choose_operating_point",
    "classification_metrics",
    "mcnemar_test",
    "pr_curves",
    "predict_scores",
    "ranking_metrics",
    "roc_curves",
    "threshold_curves",
]
