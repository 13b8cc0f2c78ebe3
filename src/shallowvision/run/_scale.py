"""Data-rich runs: the finalists refitted on every training image, their learning curves,
and the record of every subsample a run takes.

The comparison and the stages built on it fit on a seeded stratified subsample of the
training split (``scale.max_images``); the finalists stage refits the best single models
on all of it and scores each on validation at nested training sizes, so the report shows
whether more images still help. The curve's smallest set is the compared subsample
itself and its largest the refit, so neither is fitted twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

from shallowvision.exceptions import ConfigError
from shallowvision.report._records import (
    CalibrateOutput,
    CompareOutput,
    DataOutput,
    EnsembleOutput,
    ExplainOutput,
    Finalist,
    FinalistsOutput,
    RobustnessOutput,
    SelectOutput,
    StageOutput,
    Subsample,
    TuneOutput,
)
from shallowvision.run._budget import overruns
from shallowvision.run._candidates import best_single, family, offer
from shallowvision.run._context import Candidate, RunContext

__all__ = ["stage_finalists", "subsamples"]

_log = logging.getLogger(__name__)


def _curve_sizes(ctx: RunContext, n_train: int, n_compared: int, points: int) -> list[int]:
    from shallowvision.models._curve import curve_sizes

    if n_compared < n_train:
        return curve_sizes(n_compared, n_train, points)
    # Without a subsample the curve halves down from all the images, while each class
    # can still have a couple of them.
    smallest = max(round(n_train / 2 ** (points - 1)), 2 * ctx.splits.train.n_classes)
    return curve_sizes(min(smallest, n_train), n_train, points)


def _scores(y_true: Any, labels: Any, n_classes: int) -> dict[str, float | None]:
    from shallowvision.evaluation import summary_metrics

    scored = summary_metrics(y_true, labels, None, "labels", n_classes)
    return {"accuracy": scored["accuracy"], "f1_macro": scored["f1_macro"]}


def stage_finalists(ctx: RunContext) -> FinalistsOutput:
    """Refit the best single models on every training image; score their learning curves."""
    from shallowvision.models._curve import last_doubling, learning_curve_figure

    config = ctx.config.scale
    splits = ctx.splits
    n_train, n_compared = len(splits.train), len(splits.compared)
    subsampled = n_compared < n_train
    curve = config.curve == "always" or (config.curve == "auto" and subsampled)
    sizes: list[int] = []
    finalists: list[Finalist] = []
    candidates: list[Candidate] = []
    charts: list[str] = []
    budget = config.budget_seconds
    if ctx.budget is not None:
        budget = ctx.budget.finalists_seconds(ctx, budget)
    # Without a subsample or a curve, the comparison already used every training image.
    if subsampled or curve:
        sizes = _curve_sizes(ctx, n_train, n_compared, config.curve_points if curve else 2)
        started = time.perf_counter()
        for finalist in best_single(ctx, config.finalists):
            record, candidate = _finalist(ctx, finalist, sizes, started, budget)
            record["last_doubling"] = last_doubling(record["curve"])
            finalists.append(Finalist.from_dict(record))
            if candidate is not None:
                candidates.append(candidate)
        if curve and finalists:
            figure = learning_curve_figure([f.to_dict() for f in finalists])
            charts = [ctx.save_chart("learning-curve", figure)]
    return FinalistsOutput(
        n_train=n_train,
        n_compared=n_compared,
        seed=ctx.config.seed,
        curve=curve,
        budget_seconds=budget,
        sizes=sizes,
        finalists=finalists,
        candidates=candidates,
        charts=charts,
    )


def _finalist(
    ctx: RunContext, finalist: Candidate, sizes: list[int], started: float, budget: float | None
) -> tuple[dict[str, Any], Candidate | None]:
    """One finalist's curve, ascending, ending with its refit on every training image."""
    from sklearn.base import clone

    from shallowvision.models import get_model_spec

    train, compared = ctx.splits.train, ctx.splits.compared
    spec = get_model_spec(family(finalist.name))
    template = clone(ctx.model(finalist.name))
    refit_name = f"{finalist.name}-all"
    measured: list[tuple[int, float]] = []
    points: list[dict[str, Any]] = []
    candidate: Candidate | None = None
    refit: Any = None  # the refit's ModelScore
    for size in sizes:
        point: dict[str, Any] = {"n_images": size, "status": "ok", "reason": ""}
        points.append(point)
        if size == len(compared):
            # The finalist itself: fitted on exactly these images by the comparison or tuning.
            stored = ctx.predictions(finalist.name, "validation")
            point.update(
                _scores(stored["y_true"], stored["labels"], train.n_classes),
                fit_seconds=finalist.metrics.get("fit_seconds"),
                model=finalist.name,
            )
            if point["fit_seconds"]:
                measured.append((size, point["fit_seconds"]))
            continue
        label = f"{finalist.name} on {size:,}"
        refusal = _refusal(ctx, spec, size, measured, started, budget)
        if refusal is None:
            _progress(ctx, label, "start")
            try:
                estimator, seconds, row, scores = _fit_at(ctx, clone(template), size, refit_name)
            except Exception as exc:  # one failing fit must not lose the others' results
                _log.debug("%s failed", label, exc_info=True)
                refusal = ("failed", f"{type(exc).__name__}: {exc}")
        if refusal is not None:
            point.update(status=refusal[0], reason=refusal[1])
            _progress(ctx, label, refusal[0])
            continue
        measured.append((size, seconds))
        point.update(scores, fit_seconds=seconds)
        if row is not None:
            refit, candidate = row, offer(ctx, refit_name, "finalists", estimator, row)
            point["model"] = refit_name
        _progress(ctx, label, "ok")
    top = points[-1]
    subsampled = len(compared) < len(train)
    record = {
        "model": finalist.name,
        "stage": finalist.stage,
        "family": family(finalist.name),
        "refit": refit_name if candidate is not None else None,
        # Without a subsample the finalist already saw every training image.
        "status": top["status"] if subsampled else "compared on all",
        "reason": top["reason"] if subsampled else "",
        "n_images": len(train),
        "fit_seconds": top.get("fit_seconds") if top["status"] == "ok" else None,
        "notes": refit.notes if refit is not None else finalist.metrics.get("notes", ""),
        "curve": points,
    }
    return record, candidate


def _refusal(
    ctx: RunContext,
    spec: Any,
    size: int,
    measured: list[tuple[int, float]],
    started: float,
    budget: float | None,
) -> tuple[str, str] | None:
    """Why a fit on ``size`` images is not started (status, one-line reason), or None:
    its estimated memory exceeds what is free, or it would overrun the stage's ``budget``
    (``scale.budget_seconds``, less when the run's time budget leaves less), with the
    margin of all work that cannot be stopped once started."""
    from shallowvision.models._curve import expected_fit_seconds
    from shallowvision.models._memory import MemoryBudgetError

    try:
        spec.check_memory(size, ctx.splits.train.image_shape, ctx.splits.train.n_classes)
    except MemoryBudgetError as exc:
        return "refused", str(exc)
    expected = expected_fit_seconds(measured, size)
    spent = time.perf_counter() - started
    if budget is not None and expected is not None and overruns(expected, spent, budget):
        configured = ctx.config.scale.budget_seconds
        of = (
            f"scale.budget_seconds = {configured:g}"
            if configured is not None and budget >= configured
            else f"the {budget:,.0f} s the run's time budget leaves the finalists"
        )
        return "over budget", (
            f"a fit on {size:,} images is expected to take about {expected:,.0f} s (from its "
            f"fit times on fewer images), and {max(budget - spent, 0):,.0f} s of {of} are left"
        )
    return None


def _fit_at(
    ctx: RunContext, estimator: Any, size: int, refit_name: str
) -> tuple[Any, float, Any, dict[str, float | None]]:
    """Fit on the nested subset of ``size`` training images and score on validation: the
    fitted model, its fit seconds, its full row when it is the refit on every image (else
    None), and its accuracy and macro F1."""
    from shallowvision.models import score_fitted
    from shallowvision.models._compare import thread_limit

    train, validation = ctx.splits.train, ctx.splits.validation
    subset = train.subsample(n_images=size, random_state=ctx.config.seed)
    with thread_limit(ctx.config.n_jobs):
        start = time.perf_counter()
        estimator.fit(subset.X, subset.y)
        seconds = time.perf_counter() - start
        if size < len(train):  # a point of the curve only
            labels = estimator.predict(validation.X)
            return estimator, seconds, None, _scores(validation.y, labels, train.n_classes)
        # The refit on every image is scored like any candidate.
        row = score_fitted(
            refit_name, estimator, validation.X, validation.y, train.n_classes, fit_seconds=seconds
        )
    return estimator, seconds, row, {"accuracy": row.accuracy, "f1_macro": row.f1_macro}


def _progress(ctx: RunContext, label: str, status: str) -> None:
    if ctx.on_progress:
        ctx.on_progress(label, status)


# -- the subsamples of a run --------------------------------------------------------------------
OutputT = TypeVar("OutputT", bound=StageOutput)


def _stored(ctx: RunContext, kind: type[OutputT]) -> OutputT | None:
    """A stage's stored output; None if it has not run, was skipped, or its file is damaged
    (a resumed run redoes it, and the manifest is written again after it)."""
    try:
        record = ctx.record(kind.stage)
    except ConfigError:
        return None
    output = None if record is None else record.output
    return output if isinstance(output, kind) else None


#: The stages that offer candidates.
_OFFERING = (
    CompareOutput,
    TuneOutput,
    EnsembleOutput,
    SelectOutput,
    FinalistsOutput,
    CalibrateOutput,
)


def subsamples(ctx: RunContext) -> list[Subsample]:
    """Every subsample the run took, from its stored results, for the manifest and the report."""
    seed = ctx.config.seed
    data = _stored(ctx, DataOutput)
    out = list(data.subsamples) if data is not None else []
    compare = _stored(ctx, CompareOutput)
    if compare is not None and compare.subsample is not None:
        out.append(compare.subsample)
    finalists = _stored(ctx, FinalistsOutput)
    if finalists and finalists.curve and finalists.finalists and len(finalists.sizes) > 1:
        out.append(
            Subsample(
                name="learning-curve sets",
                split="train",
                n_images=finalists.sizes,
                of=finalists.n_train,
                seed=finalists.seed,
                used_for="nested training sets of the learning curves of "
                + ", ".join(f.model for f in finalists.finalists),
            )
        )
    for kind in _OFFERING:
        stored = _stored(ctx, kind)
        for candidate in stored.offered() if stored is not None else []:
            sample = candidate.metrics.get("fitting_sample")
            if sample:
                out.append(
                    Subsample(
                        name=f"fitting sample of {candidate.name}",
                        split="train",
                        n_images=sample["n_images"],
                        of=sample["of"],
                        seed=seed,
                        used_for="the features its pipeline learns (HOG, patches, PCA); "
                        "every image then goes through them",
                    )
                )
    validation = data.splits.get("validation") if data is not None else None
    robustness = _stored(ctx, RobustnessOutput)
    if robustness and validation is not None and robustness.n_images < validation.n_images:
        out.append(
            Subsample(
                name="robustness images",
                split="validation",
                n_images=robustness.n_images,
                of=validation.n_images,
                seed=seed,
                used_for="accuracy under corruptions (robustness.n_images)",
            )
        )
    explained = _stored(ctx, ExplainOutput)
    if explained and explained.n_explain < explained.n_images:
        out.append(
            Subsample(
                name="explained images",
                split="validation",
                n_images=explained.n_explain,
                of=explained.n_images,
                seed=seed,
                used_for=f"SHAP values of {explained.model}"
                + (
                    f", against a background of {explained.n_background:,} images"
                    if explained.n_background
                    else ""
                )
                + " (explain.n_explain)",
            )
        )
    return out
