"""The stages of a study. Each is a function of the run context returning its stored record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shallowvision._folds import fold_count
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.report._records import (
    Candidate,
    CompareOutput,
    ComparisonTable,
    DataOutput,
    EdaOutput,
    Evaluated,
    FinalEvaluation,
    FinalOutput,
    Headline,
    Objective,
    PerClass,
    Ranked,
    ReportOutput,
    Scores,
    Search,
    Skipped,
    StageOutput,
    Subsample,
    TuneOutput,
)
from shallowvision.run._analysis import (
    evaluate_stored,
    evaluation_charts,
    stage_calibrate,
    stage_errors,
    stage_robustness,
)
from shallowvision.run._budget import OverBudget, SearchPlan, plan_search
from shallowvision.run._candidates import offer, rank_candidates, recommend
from shallowvision.run._config import RunConfig
from shallowvision.run._context import RunContext, StageSkipped
from shallowvision.run._improve import stage_ensemble, stage_explain, stage_select
from shallowvision.run._scale import stage_finalists

if TYPE_CHECKING:
    from shallowvision.models import ModelScore

__all__ = ["STAGES", "Stage"]


@dataclass(frozen=True)
class Stage:
    """One step of the study.

    ``sections`` are the config sections whose values the stage depends on (with the
    data section and seed always included); ``needs`` the earlier stages whose results
    it reads (``None``: every earlier stage), so that changing one stage's settings
    reruns only what depends on it; ``weight`` is its typical share of the run's time,
    for the progress ETA.
    """

    name: str
    title: str
    run: Callable[[RunContext], StageOutput]
    sections: tuple[str, ...] = ()
    needs: tuple[str, ...] | None = ("data",)
    weight: float = 1.0
    enabled: Callable[[RunConfig], bool] = lambda config: True


# -- data -----------------------------------------------------------------------------------
def stage_data(ctx: RunContext) -> DataOutput:
    splits = ctx.splits
    return DataOutput(
        dataset=splits.train.name,
        class_names=list(splits.train.class_names),
        image_shape=list(splits.train.image_shape),
        task=ctx.config.data.task,
        positive=ctx.config.data.positive,
        splits=splits.describe(),
        subsamples=splits.subsamples,
    )


# -- exploratory data analysis ------------------------------------------------------------
def stage_eda(ctx: RunContext) -> EdaOutput:
    """What the images look like, before any model: statistics, findings and charts."""
    from shallowvision.eda import analyze, eda_figures

    splits = ctx.splits
    compare_class = ctx.config.eda.compare_class
    if compare_class is not None and ctx.config.data.task == "binary":
        compare_class = None  # a binary task has only the class and the rest
    result = analyze(
        splits.train, splits.test, compare_class=compare_class, random_state=ctx.config.seed
    )
    return EdaOutput(
        findings=result.findings(),
        eda=result.to_dict(),
        charts=[ctx.save_chart(f"eda-{name}", fig) for name, fig in eda_figures(result)],
    )


# -- comparison -----------------------------------------------------------------------------
def stage_compare(ctx: RunContext) -> CompareOutput:
    from shallowvision.models import compare_models

    config = ctx.config
    splits = ctx.splits
    budget = None if ctx.budget is None else ctx.budget.comparison_seconds(ctx)
    comparison = compare_models(
        config.compare.models,
        splits.compared,
        splits.validation,
        random_state=config.seed,
        n_jobs=config.n_jobs,
        time_limit=config.compare.time_limit,
        # A budget already spent refuses every model, each row saying so.
        time_budget=None if budget is None else max(budget, 0.001),
        params=config.compare.params,
        keep_models=True,
        on_progress=ctx.on_progress,
    )
    candidates = [
        offer(ctx, row.model, "compare", comparison.models[row.model], row)
        for row in comparison.rows
        if row.status == "ok"
    ]
    if not candidates:
        within = "" if budget is None else f" within its {budget:,.0f} s of the time budget"
        raise ConfigError(
            f"no model finished the comparison{within}; see the errors in stages/compare.json"
        )
    if budget is not None and all(c.name == "dummy" for c in candidates):
        # The later stages study real models; a study of the chance level alone is none.
        raise ConfigError(
            "only the chance-level baseline finished the comparison within its "
            f"{budget:,.0f} s of the time budget; give the run a longer time budget"
        )
    return CompareOutput(
        comparison=ComparisonTable.from_dict(comparison.to_dict()),
        candidates=candidates,
        subsample=_compared_subsample(ctx),
    )


def _compared_subsample(ctx: RunContext) -> Subsample | None:
    """The subsample of train the comparison and the stages built on it fit on, if any."""
    splits = ctx.splits
    if len(splits.compared) == len(splits.train):
        return None
    return Subsample(
        name="compared subsample",
        split="train",
        n_images=len(splits.compared),
        of=len(splits.train),
        seed=ctx.config.seed,
        fingerprint=splits.compared.fingerprint(),
        used_for="fitting the models of the comparison, tuning, ensembles and pixel "
        f"selection (at most {ctx.config.scale.max_images:,} images: scale.max_images)",
    )


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


def _tuning_limit(ctx: RunContext, started: float) -> tuple[float, str] | None:
    """The seconds tuning has left, the tighter of what the run's time budget and
    ``tune.time_budget`` (counted from ``started``) leave, and which limit that is."""
    limits = []
    if ctx.budget is not None:
        limits.append((ctx.budget.allowance(ctx, "tune"), "the time budget"))
    if ctx.config.tune.time_budget is not None:
        spent = time.monotonic() - started
        limits.append((max(ctx.config.tune.time_budget - spent, 0.0), "tune.time_budget"))
    return min(limits, key=lambda limit: limit[0]) if limits else None


def _compared_default(ctx: RunContext, name: str) -> ModelScore | None:
    """The comparison's row of model ``name`` with its default parameters (a
    :class:`~shallowvision.models.ModelScore`: fitted on the compared images, scored on
    validation, as tuning's baseline is), or None."""
    from shallowvision.models import ModelScore

    for candidate in ctx.candidates():
        compared = candidate.name == name and candidate.stage == "compare"
        if compared and not candidate.metrics.get("params"):
            return ModelScore.from_dict(candidate.metrics)
    return None


def stage_tune(ctx: RunContext) -> TuneOutput:
    from shallowvision.models import tune_model
    from shallowvision.models._tune import RefitOverBudget

    config = ctx.config
    splits = ctx.splits
    try:
        # As many folds as the smallest class allows, up to tune.cv.
        cv = fold_count(
            splits.compared.y,
            config.tune.cv,
            what="tuning",
            class_names=splits.compared.class_names,
        )
    except DataError as exc:
        raise StageSkipped(str(exc)) from None
    results: list[Search] = []
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    over_budget = False
    families = _families_to_tune(ctx)
    started = time.monotonic()
    for i, name in enumerate(families):
        if ctx.on_progress:
            ctx.on_progress(name, "start")
        seconds, what = _tuning_limit(ctx, started) or (None, "")
        plan = (
            SearchPlan() if seconds is None else plan_search(ctx, families[i:], cv, seconds, what)
        )
        if plan.reason is not None:
            over_budget = True
            skipped.append(Skipped(model=name, reason=plan.reason))
            if ctx.on_progress:
                ctx.on_progress(name, "over budget")
            continue
        try:
            result = tune_model(
                name,
                splits.compared,
                splits.validation,
                search=config.tune.search,
                grid=config.tune.grids.get(name),
                scoring=config.tune.scoring,
                cv=cv,
                factor=config.tune.factor,
                n_candidates=config.tune.n_candidates,
                random_state=config.seed,
                n_jobs=config.n_jobs,
                max_resources=plan.max_resources,
                refit_deadline=None if seconds is None else time.monotonic() + seconds,
                baseline=_compared_default(ctx, name),
            )
        except RefitOverBudget as exc:
            # The search ran, but the parameters it chose cost more than the plan could know.
            over_budget = True
            skipped.append(Skipped(model=name, reason=f"{exc} of {what}"))
            if ctx.on_progress:
                ctx.on_progress(name, "over budget")
            continue
        except DataError as exc:  # too few images for the search
            skipped.append(Skipped(model=name, reason=str(exc)))
            if ctx.on_progress:
                ctx.on_progress(name, "skipped")
            continue
        results.append(Search.from_dict(result.to_dict()))
        candidates.append(offer(ctx, f"{name}-tuned", "tune", result.best_estimator, result.tuned))
        if ctx.on_progress:
            ctx.on_progress(name, "ok")
    if skipped and not results:
        reasons = "; ".join(sorted({s.reason for s in skipped}))
        raise OverBudget(reasons) if over_budget else StageSkipped(reasons)
    return TuneOutput(searches=results, candidates=candidates, skipped=skipped)


# -- the final test-set evaluation ----------------------------------------------------------
def stage_final(ctx: RunContext) -> FinalOutput:
    """Choose on validation, then score the chosen models once on the test split.

    The recommendation respects the noise of the validation images (see
    :func:`~shallowvision.run._candidates.recommend`); the recommended model and the two
    best others by the objective are scored on test, and the recommended model also
    gets the full evaluation (curves, calibration, errors), written as
    ``evaluation.json`` and charts.
    """
    from shallowvision.evaluation import ranking_metrics, summary_metrics

    config = ctx.config
    recommendation, ranked = recommend(
        ctx.candidates(), config, lambda name: ctx.predictions(name, "validation")
    )
    recommended, broken = next((c, b) for c, b in ranked if c.name == recommendation.model)
    chosen = [recommended, *[c for c, _ in ranked if c is not recommended][:2]]
    test = ctx.splits.test
    evaluated = []
    for candidate in chosen:
        estimator = ctx.model(candidate.name)
        stored = ctx.save_predictions(candidate.name, "test", estimator, test)
        metrics = summary_metrics(
            test.y, stored["labels"], stored["scores"], stored["kind"], test.n_classes
        )
        ranking = ranking_metrics(test.y, stored["scores"], class_names=test.class_names)
        evaluated.append(
            Evaluated(
                name=candidate.name,
                stage=candidate.stage,
                test=Scores.from_dict(metrics),
                validation=candidate.metrics,
                roc_auc_per_class=PerClass.from_dict(ranking.roc_auc.to_dict()),
                average_precision_per_class=PerClass.from_dict(ranking.average_precision.to_dict()),
            )
        )
    evaluation = None
    if recommended.metrics.get("scores_kind", "proba") == "proba":
        full = evaluate_stored(
            ctx,
            recommended.name,
            "test",
            others=[c.name for c in chosen if c.name != recommended.name],
            n_pairs=config.errors.n_pairs,
        )
        ctx.write_json("evaluation.json", full.to_dict())
        evaluation = FinalEvaluation(
            file="evaluation.json",
            headline=Headline.from_dict(full.headline()),
            charts=evaluation_charts(ctx, full, "test"),
        )
    return FinalOutput(
        objective=Objective.from_dict(config.objective.model_dump(mode="json")),
        recommended=recommended.name,
        recommended_breaks=broken,
        ranking=[
            Ranked(
                name=c.name,
                stage=c.stage,
                value=c.metrics.get(config.objective.metric),
                breaks=b,
            )
            for c, b in ranked
        ],
        evaluated=evaluated,
        evaluation=evaluation,
        n_test=len(test),
        recommendation=recommendation,
    )


def stage_report(ctx: RunContext) -> ReportOutput:
    from shallowvision.report import render_report

    path = render_report(ctx.run_dir)
    return ReportOutput(report=path.name, bytes=path.stat().st_size)


def _enabled(section: str) -> Callable[[RunConfig], bool]:
    return lambda config: bool(getattr(config, section).enabled)


def _finalists_enabled(config: RunConfig) -> bool:
    """Finalists are asked for, and a subsample or a curve may call for them (the stage
    finds out from the data whether they do)."""
    scale = config.scale
    return scale.finalists > 0 and (scale.max_images is not None or scale.curve == "always")


#: The objective settings that rank candidates (rank_candidates); the stages that pick the
#: best models so far depend on these, and only the final choice on the rest (significance).
_RANKING = ("objective.metric", "objective.max_predict_ms_per_image", "objective.max_size_mb")


#: The stages of a study, in the order a run goes through them.
STAGES: list[Stage] = [
    Stage("data", "Data", stage_data, sections=(), needs=(), weight=0.5),
    Stage(
        "eda",
        "Exploratory data analysis",
        stage_eda,
        sections=("eda",),
        weight=1,
        enabled=_enabled("eda"),
    ),
    Stage(
        "compare",
        "Baseline comparison",
        stage_compare,
        # The compared subsample: the other scale settings act after the comparison.
        sections=("compare", "scale.max_images"),
        needs=("data",),
        weight=6,
    ),
    Stage(
        "tune",
        "Tuning of the best families",
        stage_tune,
        sections=("compare", "tune", *_RANKING),
        weight=6,
        enabled=_enabled("tune"),
        needs=("compare",),
    ),
    Stage(
        "ensemble",
        "Ensembles",
        stage_ensemble,
        sections=("ensemble", *_RANKING),
        weight=3,
        enabled=_enabled("ensemble"),
        needs=("tune",),
    ),
    Stage(
        "select",
        "Pixel selection",
        stage_select,
        sections=("select", *_RANKING),
        weight=2,
        enabled=_enabled("select"),
        needs=("ensemble",),
    ),
    Stage(
        "explain",
        "Explanations",
        stage_explain,
        sections=("explain", *_RANKING),
        weight=1,
        enabled=_enabled("explain"),
        needs=("select",),
    ),
    Stage(
        "finalists",
        "Finalists on all training images",
        stage_finalists,
        sections=("scale", *_RANKING),
        weight=2,
        enabled=_finalists_enabled,
        needs=("tune",),
    ),
    Stage(
        "calibrate",
        "Calibration and uncertainty",
        stage_calibrate,
        sections=("calibrate", *_RANKING),
        weight=1,
        enabled=_enabled("calibrate"),
        needs=("select", "finalists"),
    ),
    Stage(
        "robustness",
        "Robustness to corrupted images",
        stage_robustness,
        sections=("robustness", *_RANKING),
        weight=1,
        enabled=_enabled("robustness"),
        needs=("calibrate",),
    ),
    Stage(
        "errors",
        "Error analysis",
        stage_errors,
        sections=("errors", *_RANKING),
        weight=0.5,
        enabled=_enabled("errors"),
        needs=("calibrate",),
    ),
    Stage(
        "final",
        "Final test-set evaluation",
        stage_final,
        sections=("objective", "errors", "calibrate"),
        weight=1,
        needs=("calibrate",),
    ),
    Stage("report", "Report", stage_report, needs=None, weight=0.5),
]
