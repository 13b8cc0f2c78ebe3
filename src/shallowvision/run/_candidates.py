"""Choosing among the fitted models of a run: ranking by the objective, offering a
candidate, and the final recommendation, which respects the noise of the validation images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shallowvision.exceptions import ConfigError
from shallowvision.report._records import Difference, Recommendation
from shallowvision.run._config import RunConfig
from shallowvision.run._context import Candidate, RunContext

__all__ = [
    "SINGLE",
    "best_candidates",
    "best_single",
    "family",
    "offer",
    "rank_candidates",
    "recommend",
]

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


# -- the recommendation ----------------------------------------------------------------------
#: Prediction times within this share of the fastest count as equal: a timing taken once
#: on a shared machine, or of a fraction of a millisecond per image, varies by tens of
#: percent between runs, and the same seed should recommend the same model.
_SPEED_TOLERANCE = 0.5
#: Sizes within this share of the smallest count as equal.
_SIZE_TOLERANCE = 0.1
#: Expected calibration errors within this much of the best count as equal.
_ECE_TOLERANCE = 0.005
#: Bootstrap resamples of each paired difference to the leader.
_N_RESAMPLES = 1000
#: Steps in the making of a candidate, by stage; a calibrated model adds one to its base's,
#: a refit on every training image (finalists) has its base's.
_STAGE_STEPS = {"compare": 1, "tune": 2, "select": 2, "ensemble": 3}
_LABEL_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")


def recommend(
    candidates: list[Candidate],
    config: RunConfig,
    predictions: Callable[[str], dict[str, Any]],
) -> tuple[Recommendation, list[tuple[Candidate, list[str]]]]:
    """The model to recommend, chosen with paired statistics on the validation images.

    The leader is the first of :func:`rank_candidates` among the models that meet the
    constraints (among all, when none does). Each other such model is compared with it
    by :func:`~shallowvision.evaluation.paired_bootstrap` on the stored validation
    predictions (``predictions(name)``, as :meth:`RunContext.predictions` gives them);
    those not significantly worse at ``objective.significance`` tie with it, and the
    tie-breakers pick one: predicting in fewer milliseconds per image, then a smaller
    file, then a lower expected calibration error, then fewer steps (a compared model
    before a tuned one or a pixel selection, before an ensemble; a calibration adds one),
    then the better metric. Prediction times within 50% of the fastest, sizes within 10%
    of the smallest and calibration errors within 0.005 of the best count as equal, since
    they are measured with noise too.

    Returns the recommendation and the ranking it was made from.
    """
    from shallowvision.evaluation import paired_bootstrap
    from shallowvision.report._render import METRIC_LABELS

    objective = config.objective
    metric = objective.metric
    ranked = rank_candidates(candidates, config)
    if not ranked:
        raise ConfigError("no candidate models to evaluate")
    pool = [c for c, broken in ranked if not broken] or [c for c, _ in ranked]
    scored = [c for c in pool if c.metrics.get(metric) is not None] or pool[:1]
    leader = scored[0]
    led = predictions(leader.name)
    field = "labels" if metric in _LABEL_METRICS else "scores"
    lower = metric in _LOWER_IS_BETTER
    compared = []
    for c in scored:
        if c is leader:
            value = leader.metrics.get(metric)
            value = float("nan") if value is None else float(value)
            compared.append(
                Difference(
                    model=c.name, value=value, difference=0.0, low=0.0, high=0.0, worse=False
                )
            )
            continue
        paired = paired_bootstrap(
            led["y_true"],
            predictions(c.name)[field],
            led[field],
            metric=metric,
            n_classes=_n_classes(led),
            n_resamples=_N_RESAMPLES,
            confidence=1 - objective.significance,
            random_state=config.seed,
        )
        worse = paired.low > 0 if lower else paired.high < 0
        compared.append(
            Difference(
                model=c.name,
                value=paired.value_a,
                difference=paired.estimate,
                low=paired.low,
                high=paired.high,
                worse=bool(worse),
            )
        )
    by_name = {c.name: c for c in candidates}
    tied = [c for c, d in zip(scored, compared, strict=True) if not d.worse]
    chosen, rule, detail = _break_ties(tied, leader, by_name, predictions, config)
    own = next(d for d in compared if d.model == chosen.name)
    n_images = len(led["y_true"])
    label = METRIC_LABELS.get(metric, metric)
    if len(scored) == 1:
        rule = "only candidate"
        reason = f"the only candidate with a validation {label} that meets the objective"
    elif len(tied) == 1:
        closest = compared[1]
        rule = "significantly best"
        reason = (
            f"the best validation {label} ({own.value:.4f}), and every other model is "
            f"significantly worse; the closest, {closest.model}, by "
            f"{_interval(closest, objective.significance, n_images)}"
        )
    elif chosen is leader:
        others = [d for d in compared if d.model in set(c.name for c in tied) and d is not own]
        reason = (
            f"the best validation {label} ({own.value:.4f}); "
            f"{', '.join(d.model for d in others)} {'is' if len(others) == 1 else 'are'} "
            f"within the noise ({others[0].model}: "
            f"{_interval(others[0], objective.significance, n_images)}) but none beats it on "
            "the tie-breakers (speed, size, calibration, steps)"
        )
    else:
        reason = (
            f"within the noise of {leader.name} "
            f"({_interval(own, objective.significance, n_images)}) and {rule} ({detail})"
        )
    recommendation = Recommendation(
        model=chosen.name,
        leader=leader.name,
        metric=metric,
        level=objective.significance,
        n_images=n_images,
        n_resamples=_N_RESAMPLES,
        difference=own,
        rule=rule,
        reason=reason,
        within_noise=[c.name for c in tied],
        compared=compared,
    )
    return recommendation, ranked


def _n_classes(stored: dict[str, Any]) -> int | None:
    scores = stored.get("scores")
    return int(scores.shape[1]) if scores is not None and np.ndim(scores) == 2 else None


def _interval(d: Difference, level: float, n_images: int) -> str:
    return (
        f"difference {d.difference:+.4f}, {1 - level:.0%} interval {d.low:+.4f} to "
        f"{d.high:+.4f} on {n_images:,} validation images"
    )


def _break_ties(
    tied: list[Candidate],
    leader: Candidate,
    by_name: dict[str, Candidate],
    predictions: Callable[[str], dict[str, Any]],
    config: RunConfig,
) -> tuple[Candidate, str, str]:
    """The tie-breakers in order, each keeping the models that do best on it; the
    first left in metric order wins. Returns it, the rule that dropped the leader
    (``leader`` if none did) and the figures of that rule, winner against leader."""

    def ms(c: Candidate) -> float:
        value = c.metrics.get("predict_seconds_per_1000")  # seconds per 1,000 = ms per image
        return float("inf") if value is None else float(value)

    def size(c: Candidate) -> float:
        value = c.metrics.get("size_bytes")
        return float("inf") if value is None else float(value) / 1e6

    def ece(c: Candidate) -> float:
        return _ece(predictions(c.name), config.calibrate.n_bins)

    def steps(c: Candidate) -> float:
        return float(_steps(c, by_name))

    breakers: list[tuple[str, Callable[[Candidate], float], Callable[[float], float], str]] = [
        (
            "faster",
            ms,
            lambda best: best * (1 + _SPEED_TOLERANCE),
            "{:.3f} against {:.3f} ms per image",
        ),
        ("smaller", size, lambda best: best * (1 + _SIZE_TOLERANCE), "{:.2f} against {:.2f} MB"),
        (
            "better calibrated",
            ece,
            lambda best: best + _ECE_TOLERANCE,
            "expected calibration error {:.4f} against {:.4f}",
        ),
        ("fewer steps", steps, lambda best: best, "{:.0f} against {:.0f}"),
    ]
    left = list(tied)
    decided: tuple[str, dict[str, float], str] | None = None
    for name, key, bound, text in breakers:
        values = {c.name: key(c) for c in left}
        best = min(values.values())
        keep = [c for c in left if values[c.name] <= bound(best)]
        if decided is None and leader not in keep:
            decided = (name, values, text)
        left = keep
    if decided is None:
        return left[0], "leader", ""
    rule, values, text = decided
    winner, lost = values[left[0].name], values[leader.name]
    if rule == "better calibrated" and lost == float("inf"):
        # The leader gives decision scores: no calibration error to set against.
        return (
            left[0],
            rule,
            f"expected calibration error {winner:.4f}, where {leader.name} gives no probabilities",
        )
    return left[0], rule, text.format(winner, lost)


def _ece(stored: dict[str, Any], n_bins: int) -> float:
    """The expected calibration error of stored validation probabilities (inf for scores)."""
    if stored["kind"] != "proba":
        return float("inf")
    from shallowvision.evaluation import reliability_diagram

    proba = np.clip(stored["scores"], 0.0, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(reliability_diagram(stored["y_true"], proba, n_bins=n_bins).ece)


def _steps(c: Candidate, by_name: dict[str, Candidate]) -> int:
    """How many steps made the candidate (see :data:`_STAGE_STEPS`)."""
    if c.stage == "calibrate":
        base = by_name.get(c.name.rpartition("+")[0])
        return (1 if base is None else _steps(base, by_name)) + 1
    if c.stage == "finalists":
        base = by_name.get(c.name.removesuffix("-all"))
        return 1 if base is None else _steps(base, by_name)
    return _STAGE_STEPS.get(c.stage, 1)
