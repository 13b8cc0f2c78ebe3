"""Choosing among the fitted models of a run: ranking by the objective, offering a candidate."""

from __future__ import annotations

from typing import Any

from shallowvision.run._config import RunConfig
from shallowvision.run._context import Candidate, RunContext

__all__ = ["SINGLE", "best_candidates", "best_single", "family", "offer", "rank_candidates"]

#: Metrics where lower is better.
_LOWER_IS_BETTER = {"log_loss", "brier"}


def _metric_value(metrics: dict[str, Any], metric: str) -> float:
    value = metrics.get(metric)
    if value is None:
        return float("-inf")
    return -float(value) if metric in _LOWER_IS_BETTER else float(value)


def rank_candidates(
    candidates: list[Candidate], config: RunConfig
) -> list[tuple[Candidate, list[str]]]:
    """Candidates best first by the objective; each with the constraints it breaks.

    Models that meet every constraint rank before those that do not.
    """
    objective = config.objective
    ranked = []
    for c in candidates:
        broken = []
        # Seconds per 1,000 images is milliseconds per image.
        per_image_ms = c.metrics.get("predict_seconds_per_1000")
        limit = objective.max_predict_ms_per_image
        if limit is not None and per_image_ms is not None and per_image_ms > limit:
            broken.append(f"predicts in {per_image_ms:.2f} ms per image (limit {limit:g})")
        size = c.metrics.get("size_bytes")
        if (
            objective.max_size_mb is not None
            and size is not None
            and size / 1e6 > objective.max_size_mb
        ):
            broken.append(f"is {size / 1e6:.1f} MB (limit {objective.max_size_mb:g})")
        ranked.append((c, broken))
    ranked.sort(key=lambda cb: (bool(cb[1]), -_metric_value(cb[0].metrics, objective.metric)))
    return ranked


def best_candidates(
    ctx: RunContext, n: int, *, stages: tuple[str, ...] | None = None, proba: bool = False
) -> list[Candidate]:
    """The ``n`` best candidates so far by the run's objective (the chance-level baseline excluded).

    ``stages`` keeps only candidates offered by those stages; ``proba`` only those
    whose stored validation scores are probabilities.
    """
    ranked = [c for c, _ in rank_candidates(ctx.candidates(), ctx.config) if c.name != "dummy"]
    if stages is not None:
        ranked = [c for c in ranked if c.stage in stages]
    if proba:
        ranked = [c for c in ranked if c.metrics.get("scores_kind", "proba") == "proba"]
    return ranked[:n]


#: Stages whose candidates are single models (not ensembles, selections or calibrations).
SINGLE = ("compare", "tune")


def family(name: str) -> str:
    """The zoo model a single candidate is an instance of (``fast-tuned`` -> ``fast``)."""
    return name.removesuffix("-tuned")


def best_single(ctx: RunContext, n: int, *, proba: bool = False) -> list[Candidate]:
    """The ``n`` best single models, one per family (a tuned model stands for its family)."""
    seen, out = set(), []
    for c in best_candidates(ctx, len(ctx.candidates()), stages=SINGLE, proba=proba):
        if family(c.name) not in seen:
            seen.add(family(c.name))
            out.append(c)
    return out[:n]


def offer(
    ctx: RunContext,
    name: str,
    stage: str,
    estimator: Any,
    row: Any,
    *,
    trained_on: Any = None,
    calibration: dict[str, Any] | None = None,
) -> Candidate:
    """Save a fitted model and its validation predictions; return it as a candidate.

    ``row`` is its :class:`~shallowvision.models.ModelScore` on the validation split;
    ``trained_on`` the images it was fitted on (default: those of the stage's models);
    ``calibration``, for a calibrated model, how it was calibrated on the calibration split.
    """
    splits = ctx.splits
    metrics = row.measured()
    sample = _fitting_sample(estimator)
    if sample is not None:
        metrics["fitting_sample"] = sample
    path = ctx.save_model(
        name,
        estimator,
        evaluated_on="validation",
        metrics=metrics,
        calibration=calibration,
        calibrated_on=None if calibration is None else splits.calibration,
        trained_on=ctx.trained_on(stage) if trained_on is None else trained_on,
    )
    ctx.save_predictions(name, "validation", estimator, splits.validation)
    return Candidate(name, stage, path, metrics, gives_proba=hasattr(estimator, "predict_proba"))


def _fitting_sample(estimator: Any) -> dict[str, int] | None:
    """The seeded sample a chunked pipeline fitted its transforms on, when it took one."""
    sample = getattr(estimator, "n_fit_sample_", None)
    rows = getattr(estimator, "n_fit_rows_", None)
    if sample and rows and sample < rows:
        return {"n_images": int(sample), "of": int(rows)}
    return None
