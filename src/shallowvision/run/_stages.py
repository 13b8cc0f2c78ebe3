"""The stages of a study. Each is a function of the run context returning a JSON-ready result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shallowvision.exceptions import ConfigError
from shallowvision.run._config import RunConfig
from shallowvision.run._context import Candidate, RunContext

__all__ = ["STAGES", "Stage", "rank_candidates"]

#: Metrics where lower is better.
_LOWER_IS_BETTER = {"log_loss", "brier"}


@dataclass(frozen=True)
class Stage:
    """One step of the study.

    ``sections`` are the config sections whose values the stage depends on (with the
    data section and seed always included); ``weight`` is its typical share of the
    run's time, for the progress ETA.
    """

    name: str
    title: str
    run: Callable[[RunContext], dict[str, Any]]
    sections: tuple[str, ...] = ()
    weight: float = 1.0
    enabled: Callable[[RunConfig], bool] = lambda config: True


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


# -- data -----------------------------------------------------------------------------------
def stage_data(ctx: RunContext) -> dict[str, Any]:
    splits = ctx.splits
    described = splits.describe()
    return {
        "dataset": splits.train.name,
        "class_names": list(splits.train.class_names),
        "image_shape": list(splits.train.image_shape),
        "task": ctx.config.data.task,
        "positive": ctx.config.data.positive,
        "splits": described,
    }


# -- comparison -----------------------------------------------------------------------------
def _candidate(ctx: RunContext, name: str, stage: str, estimator: Any, row: Any) -> Candidate:
    splits = ctx.splits
    metrics = {k: v for k, v in row.to_dict().items() if k not in ("params", "error")}
    path = ctx.save_model(name, estimator, metrics={"evaluated_on": "validation", **metrics})
    ctx.save_predictions(name, "validation", estimator, splits.validation)
    return Candidate(name, stage, path, metrics, gives_proba=hasattr(estimator, "predict_proba"))


def stage_compare(ctx: RunContext) -> dict[str, Any]:
    from shallowvision.models import compare_models

    config = ctx.config
    splits = ctx.splits
    comparison = compare_models(
        config.compare.models,
        splits.train,
        splits.validation,
        random_state=config.seed,
        n_jobs=config.n_jobs,
        time_limit=config.compare.time_limit,
        params=config.compare.params,
        keep_models=True,
        on_progress=ctx.on_progress,
    )
    candidates = [
        _candidate(ctx, row.model, "compare", comparison.models[row.model], row)
        for row in comparison.rows
        if row.status == "ok"
    ]
    if not candidates:
        raise ConfigError("no model finished the comparison; see the errors in stages/compare.json")
    return {"comparison": comparison.to_dict(), "candidates": [c.to_dict() for c in candidates]}


# -- tuning ---------------------------------------------------------------------------------
def _families_to_tune(ctx: RunContext) -> list[str]:
    config = ctx.config
    if config.tune.models is not None:
        return list(config.tune.models)
    ranked = [
        c
        for c, _ in rank_candidates(ctx.candidates(), config)
        if c.name != "dummy" and c.stage == "compare"
    ]
    return [c.name for c in ranked[: config.tune.top]]


def stage_tune(ctx: RunContext) -> dict[str, Any]:
    from shallowvision.models import tune_model

    config = ctx.config
    splits = ctx.splits
    results, candidates = [], []
    for name in _families_to_tune(ctx):
        if ctx.on_progress:
            ctx.on_progress(name, "start")
        result = tune_model(
            name,
            splits.train,
            splits.validation,
            search=config.tune.search,
            grid=config.tune.grids.get(name),
            scoring=config.tune.scoring,
            cv=config.tune.cv,
            factor=config.tune.factor,
            n_candidates=config.tune.n_candidates,
            random_state=config.seed,
            n_jobs=config.n_jobs,
        )
        results.append(result.to_dict())
        candidates.append(
            _candidate(ctx, f"{name}-tuned", "tune", result.best_estimator, result.tuned)
        )
        if ctx.on_progress:
            ctx.on_progress(name, "ok")
    return {"searches": results, "candidates": [c.to_dict() for c in candidates]}


# -- the final test-set evaluation ----------------------------------------------------------
def stage_final(ctx: RunContext) -> dict[str, Any]:
    """Choose on validation, then score the chosen models once on the test split."""
    from shallowvision.models import score_rows

    config = ctx.config
    ranked = rank_candidates(ctx.candidates(), config)
    if not ranked:
        raise ConfigError("no candidate models to evaluate")
    recommended, broken = ranked[0]
    chosen = [c for c, _ in ranked[:3]]
    test = ctx.splits.test
    evaluated = []
    for candidate in chosen:
        estimator = ctx.model(candidate.name)
        stored = ctx.save_predictions(candidate.name, "test", estimator, test)
        metrics = score_rows(
            test.y, stored["labels"], stored["scores"], stored["kind"], test.n_classes
        )
        evaluated.append(
            {
                "name": candidate.name,
                "stage": candidate.stage,
                "test": metrics,
                "validation": candidate.metrics,
            }
        )
    return {
        "objective": config.objective.model_dump(mode="json"),
        "recommended": recommended.name,
        "recommended_breaks": broken,
        "ranking": [
            {
                "name": c.name,
                "stage": c.stage,
                "value": c.metrics.get(config.objective.metric),
                "breaks": b,
            }
            for c, b in ranked
        ],
        "evaluated": evaluated,
        "n_test": len(test),
    }


def stage_report(ctx: RunContext) -> dict[str, Any]:
    from shallowvision.report import render_report

    path = render_report(ctx.run_dir)
    return {"report": path.name, "bytes": path.stat().st_size}


def _enabled(section: str) -> Callable[[RunConfig], bool]:
    return lambda config: bool(getattr(config, section).enabled)


STAGES: list[Stage] = [
    Stage("data", "Data", stage_data, sections=(), weight=0.5),
    Stage("compare", "Baseline comparison", stage_compare, sections=("compare",), weight=6),
    Stage(
        "tune",
        "Tuning of the best families",
        stage_tune,
        sections=("compare", "tune", "objective"),
        weight=6,
        enabled=_enabled("tune"),
    ),
    Stage("final", "Final test-set evaluation", stage_final, sections=("objective",), weight=1),
    Stage("report", "Report", stage_report, weight=0.5),
]
