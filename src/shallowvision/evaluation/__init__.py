"""Evaluation: metrics, curves, calibration, uncertainty, robustness and error analysis.

Every function is a pure function of ``(y_true, proba or scores[, images])`` returning a
result record (a dataclass with ``to_dict()``); Display classes draw the records with
matplotlib and the ``*_figure`` builders with plotly. :func:`evaluate_predictions`
gathers everything but robustness into one :class:`Evaluation`, and
:func:`save_figures` writes its PNGs.
"""

from shallowvision.evaluation._calibration import (
    BrierDecomposition,
    CalibrationSummary,
    ClasswiseReliability,
    ReliabilityDiagram,
    brier_decomposition,
    calibration_summary,
    classwise_reliability,
    reliability_diagram,
)
from shallowvision.evaluation._calibrators import (
    CalibrationComparison,
    TemperatureScaling,
    calibrate,
    compare_calibration,
    get_calibration_method_names,
)
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
from shallowvision.evaluation._uncertainty import (
    CorrectWrongHistogram,
    RiskCoverage,
    confidence_histogram,
    entropy_histogram,
    predictive_entropy,
    risk_coverage,
)
from shallowvision.evaluation._validation import predict_scores

__all__ = [
    "BootstrapResult",
    "BrierDecomposition",
    "CalibrationComparison",
    "CalibrationSummary",
    "ClassificationMetrics",
    "ClasswiseReliability",
    "ConfusedPair",
    "ConfusionResult",
    "CorrectWrongHistogram",
    "Curve",
    "CurveSet",
    "ErrorOverlap",
    "Gallery",
    "Interval",
    "McNemarResult",
    "OperatingPoint",
    "PerClass",
    "RankingMetrics",
    "Record",
    "ReliabilityDiagram",
    "RiskCoverage",
    "TemperatureScaling",
    "ThresholdCurve",
    "ThresholdCurves",
    "bootstrap_ci",
    "brier_decomposition",
    "calibrate",
    "calibration_summary",
    "choose_operating_point",
    "classification_metrics",
    "classwise_reliability",
    "compare_calibration",
    "confidence_histogram",
    "confidently_wrong",
    "confusion",
    "entropy_histogram",
    "error_overlap",
    "get_calibration_method_names",
    "mcnemar_test",
    "misclassified_gallery",
    "most_confused_pairs",
    "pr_curves",
    "predict_scores",
    "predictive_entropy",
    "ranking_metrics",
    "reliability_diagram",
    "risk_coverage",
    "roc_curves",
    "threshold_curves",
]
