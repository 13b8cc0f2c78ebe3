"""Stages that study the best models so far: calibration and uncertainty, robustness, errors.

Each works on the validation split (calibrators are fitted on the calibration split);
the test split stays untouched until the final stage. Figures are stored as plotly JSON
in ``figures/`` so the report re-renders them without recomputing anything.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

from shallowvision.exceptions import ConfigError, DataError
from shallowvision.report._records import (
    CalibrateOutput,
    Calibration,
    Candidate,
    ErrorsOutput,
    Histogram,
    RiskCoverage,
    Robustness,
    RobustnessOutput,
    Skipped,
    Uncertainty,
)
from shallowvision.run._candidates import best_candidates, offer
from shallowvision.run._context import RunContext, StageSkipped

__all__ = ["stage_calibrate", "stage_errors", "stage_robustness"]


# -- calibration and uncertainty --------------------------------------------------------------
def _uncertainty(ctx: RunContext, name: str) -> Uncertainty:
    """Confidence, entropy and risk-coverage of a model's stored validation probabilities."""
    from shallowvision.evaluation import (
        confidence_histogram,
        entropy_histogram,
        histogram_figure,
        risk_coverage,
        risk_coverage_figure,
    )

    stored = ctx.predictions(name, "validation")
    y, proba = stored["y_true"], stored["scores"]
    confidence = confidence_histogram(y, proba)
    entropy = entropy_histogram(y, proba)
    coverage = risk_coverage(y, proba, target_accuracy=ctx.config.calibrate.target_accuracy)
    slug = _slug(name)
    return Uncertainty(
        model=name,
        confidence=Histogram.from_dict(confidence.to_dict()),
        entropy=Histogram.from_dict(entropy.to_dict()),
        risk_coverage=RiskCoverage.from_dict(coverage.to_dict()),
        charts=[
            ctx.save_chart(f"confidence-{slug}", histogram_figure(confidence)),
            ctx.save_chart(f"entropy-{slug}", histogram_figure(entropy)),
            ctx.save_chart(f"risk-coverage-{slug}", risk_coverage_figure(coverage)),
        ],
    )


def _timed_on_base(row: Any, base: Candidate, model: Any, X: Any) -> Any:
    """``row``, a calibrated model's timed with its base's features remembered, with its
    prediction time as its base's (as the base's row measured it) plus what the
    calibrator adds.

    Timed on its own, a calibrated model repeats its base's whole prediction, and the
    two timings differ by the machine's noise (on two cores, 0.18 against 0.10 ms an
    image for the same features): enough for the recommendation's speed tie-break to
    prefer one over the other at random. With the features remembered only the final
    step and the calibrator run, so the base (``model``) is timed the same way here and
    the difference is the calibrator's.
    """
    from shallowvision._scores import predict_scores
    from shallowvision.features import remembered_inputs

    measured, calibrated = (
        base.metrics.get("predict_seconds_per_1000"),
        row.predict_seconds_per_1000,
    )
    if measured is None or calibrated is None or not len(X):
        return row
    with remembered_inputs():
        start = time.perf_counter()
        predict_scores(model, X)
        seconds = time.perf_counter() - start
    added = max(calibrated - seconds / len(X) * 1000, 0.0)
    return dataclasses.replace(row, predict_seconds_per_1000=float(measured) + added)


def stage_calibrate(ctx: RunContext) -> CalibrateOutput:
    """Fit each calibration method on the calibration split for the best models; compare on validation."""
    from shallowvision.evaluation import calibration_figure, compare_calibration
    from shallowvision.models import score_fitted

    config = ctx.config.calibrate
    splits = ctx.splits
    validation = splits.validation
    comparisons: list[Calibration] = []
    candidates: list[Candidate] = []
    bases = best_candidates(
        ctx, config.top, stages=("compare", "tune", "ensemble", "select", "finalists")
    )
    if not bases:
        raise ConfigError("no model to calibrate: every candidate is the chance-level baseline")
    skipped: list[Skipped] = []
    for base in bases:
        model = ctx.model(base.name)
        for method in config.methods:
            start = time.perf_counter()
            try:
                comparison = compare_calibration(
                    model,
                    splits.calibration,
                    validation,
                    method=method,
                    class_names=validation.class_names,
                    n_bins=config.n_bins,
                )
            except DataError as exc:  # too few calibration images for its folds
                skipped.append(Skipped(model=base.name, method=method, reason=str(exc)))
                continue
            seconds = time.perf_counter() - start
            name = f"{base.name}+{method}"
            row = score_fitted(
                name,
                comparison.calibrator,
                validation.X,
                validation.y,
                validation.n_classes,
                fit_seconds=(base.metrics.get("fit_seconds") or 0.0) + seconds,
                features="on",  # the base's, remembered from compare_calibration's scoring
            )
            row = _timed_on_base(row, base, model, validation.X)
            candidates.append(
                offer(
                    ctx,
                    name,
                    "calibrate",
                    comparison.calibrator,
                    row,
                    trained_on=ctx.trained_on(base.stage),
                    calibration=comparison.manifest_record(model_file=base.model_file),
                )
            )
            chart = ctx.save_chart(f"calibration-{_slug(name)}", calibration_figure(comparison))
            comparisons.append(
                Calibration.from_dict({"model": base.name, **comparison.to_dict(), "chart": chart})
            )
    if not comparisons:
        raise StageSkipped("; ".join(sorted({s.reason for s in skipped})))
    # Uncertainty of the best model before and after its best calibration (lowest ECE).
    best = bases[0]
    own = [c for c in comparisons if c.model == best.name]
    uncertainty = []
    if best.metrics.get("scores_kind", "proba") == "proba":
        uncertainty.append(_uncertainty(ctx, best.name))
    if own:
        calibrated = min(own, key=lambda c: _or_inf(c.table["ece"].after))
        uncertainty.append(_uncertainty(ctx, f"{best.name}+{calibrated.method}"))
    return CalibrateOutput(
        calibration_split=len(splits.calibration),
        evaluated_on="validation",
        n_evaluated=len(validation),
        comparisons=comparisons,
        uncertainty=uncertainty,
        candidates=candidates,
        skipped=skipped,
    )


# -- robustness -------------------------------------------------------------------------------
def stage_robustness(ctx: RunContext) -> RobustnessOutput:
    """Accuracy of the best models on corrupted validation images, per corruption and severity."""
    from shallowvision.evaluation import evaluate_robustness, robustness_figure

    config = ctx.config.robustness
    validation = ctx.splits.validation
    if config.n_images is not None and config.n_images < len(validation):
        validation = validation.subsample(
            fraction=config.n_images / len(validation), random_state=ctx.config.seed
        )
    results = []
    for candidate in best_candidates(ctx, config.top):
        result = evaluate_robustness(
            ctx.model(candidate.name),
            validation.images,
            validation.labels,
            corruptions=config.corruptions,
            severities=config.severities,
            random_state=ctx.config.seed,
        )
        chart = ctx.save_chart(f"robustness-{_slug(candidate.name)}", robustness_figure(result))
        results.append(
            Robustness.from_dict({"model": candidate.name, **result.to_dict(), "chart": chart})
        )
    return RobustnessOutput(evaluated_on="validation", n_images=len(validation), models=results)


# -- error analysis ---------------------------------------------------------------------------
def evaluation_charts(
    ctx: RunContext, evaluation: Any, prefix: str, *, curves: bool = True
) -> dict[str, str]:
    """Store the charts of an :class:`~shallowvision.evaluation.Evaluation`; name -> chart.

    Without ``curves``, only the error analysis: confusion, galleries, error overlap.
    """
    from shallowvision.evaluation import (
        confusion_figure,
        curves_figure,
        error_overlap_figure,
        gallery_figure,
        reliability_figure,
        threshold_figure,
    )

    ev = evaluation
    charts = {}
    if curves:
        charts["roc"] = curves_figure(ev.roc)
        charts["pr"] = curves_figure(ev.pr)
        charts["thresholds"] = threshold_figure(ev.thresholds)
        charts["reliability"] = reliability_figure([ev.calibration.top_label])
    charts["confusion"] = confusion_figure(ev.confusion)
    charts["confusion-normalized"] = confusion_figure(ev.confusion, normalize=True)
    if ev.images is not None:
        for i, gallery in enumerate(ev.galleries):
            charts[f"gallery-{i}"] = gallery_figure(gallery, ev.images)
        charts["confidently-wrong"] = gallery_figure(ev.confidently_wrong, ev.images)
    if ev.error_overlap is not None:
        charts["error-overlap"] = error_overlap_figure(ev.error_overlap)
    return {key: ctx.save_chart(f"{prefix}-{key}", fig) for key, fig in charts.items()}


def evaluate_stored(
    ctx: RunContext, name: str, split: str, *, others: Sequence[str] = (), **options: Any
) -> Any:
    """:func:`~shallowvision.evaluation.evaluate_predictions` of a model's stored predictions."""
    from shallowvision.evaluation import evaluate_predictions

    data = getattr(ctx.splits, split)
    stored = ctx.predictions(name, split)
    if stored["kind"] != "proba":
        raise ConfigError(f"{name} gives decision scores, not probabilities")
    return evaluate_predictions(
        stored["y_true"],
        stored["scores"],
        class_names=data.class_names,
        images=data.images,
        model_name=name,
        other_predictions={o: ctx.predictions(o, split)["labels"] for o in others} or None,
        random_state=ctx.config.seed,
        target_accuracy=ctx.config.calibrate.target_accuracy,
        **options,
    )


def stage_errors(ctx: RunContext) -> ErrorsOutput:
    """Where the best model goes wrong on validation, and which images every model gets wrong."""
    config = ctx.config.errors
    best = best_candidates(ctx, 1, proba=True)
    if not best:
        raise ConfigError("no candidate gives probabilities, so there is no error analysis")
    name = best[0].name
    others = [c.name for c in best_candidates(ctx, config.overlap_models) if c.name != name]
    evaluation = evaluate_stored(ctx, name, "validation", others=others, n_pairs=config.n_pairs)
    charts = evaluation_charts(ctx, evaluation, f"errors-{_slug(name)}", curves=False)
    result = evaluation.to_dict()
    # Curves belong to the final evaluation; keep what this stage shows.
    keep = (
        "model_name",
        "class_names",
        "n_samples",
        "metrics",
        "confusion",
        "confused_pairs",
        "galleries",
        "confidently_wrong",
        "error_overlap",
        "comparisons",
    )
    return ErrorsOutput.from_dict(
        {"model": name, "evaluated_on": "validation"}
        | {k: result[k] for k in keep}
        | {"charts": charts}
    )


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
