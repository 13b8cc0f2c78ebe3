"""Stages that build on the compared and tuned models: ensembles, pixel selection, explanations.

Each works on the training and validation splits only; the models they make are offered
as candidates like any other, so the final choice weighs them on the same terms.
"""

from __future__ import annotations

from typing import Any

from shallowvision._folds import fold_count
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.report._records import (
    EnsembleOutput,
    EnsembleTable,
    ExplainOutput,
    Selection,
    SelectOutput,
    Skipped,
)
from shallowvision.run._candidates import best_single, offer
from shallowvision.run._context import Candidate, RunContext, StageSkipped

__all__ = [
    "explained_model",
    "selection_model",
    "stage_ensemble",
    "stage_explain",
    "stage_select",
]

#: Candidate names of the ensembles, by method.
_ENSEMBLE_NAMES = {"soft": "soft-voting", "hard": "hard-voting", "stack": "stacking"}


def _named(ctx: RunContext, names: list[str], what: str) -> list[Candidate]:
    """The candidates called ``names``, or an error listing those there are."""
    by_name = {c.name: c for c in ctx.candidates()}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(
            f"{what}: no model {', '.join(map(repr, missing))} in this run; "
            f"the run has {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]


def _final_step(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


# -- ensembles --------------------------------------------------------------------------------
def stage_ensemble(ctx: RunContext) -> EnsembleOutput:
    """Voting and stacking of the best models (fitted on train), scored on validation."""
    from shallowvision.ensemble import compare_ensembles, ensemble_figures, ensemble_label

    config = ctx.config.ensemble
    if config.members is not None:
        members = _named(ctx, config.members, "ensemble.members")
    else:
        # Soft voting averages probabilities: then every member must give them.
        members = best_single(ctx, config.size, proba="soft" in config.methods)
    if len(members) < 2:
        raise ConfigError(
            f"an ensemble needs two models, the run has {len(members)} to offer; "
            "set ensemble.members or compare more models"
        )
    splits = ctx.splits
    methods = list(config.methods)
    skipped: list[Skipped] = []
    cv = config.cv
    if "stack" in methods:
        # Stacking's out-of-fold probabilities: as many folds as the smallest class allows.
        try:
            cv = fold_count(
                splits.compared.y,
                config.cv,
                what="stacking",
                class_names=splits.compared.class_names,
            )
        except DataError as exc:
            methods.remove("stack")
            skipped.append(Skipped(method="stack", reason=str(exc)))
    if not methods:
        raise StageSkipped(skipped[0].reason)
    result = compare_ensembles(
        [(c.name, ctx.model(c.name)) for c in members],
        splits.compared,
        splits.validation,
        methods=methods,
        weights=config.weights,
        final=config.final,
        cv=cv,
        random_state=ctx.config.seed,
        n_jobs=ctx.config.n_jobs,
        on_progress=ctx.on_progress,
        fit_seconds={c.name: c.metrics.get("fit_seconds") or 0.0 for c in members},
    )
    candidates, not_offered = [], []
    for method, row in zip(result.methods, result.ensemble_rows, strict=True):
        label = ensemble_label(method, result.final)
        if row.scores_kind == "labels":
            # Hard voting gives labels only: no AUC, calibration or risk-coverage to judge it by.
            not_offered.append(_ENSEMBLE_NAMES[method])
            continue
        candidates.append(
            offer(ctx, _ENSEMBLE_NAMES[method], "ensemble", result.models[label], row)
        )
    return EnsembleOutput(
        comparison=EnsembleTable.from_dict(result.to_dict()),
        names={ensemble_label(m, result.final): _ENSEMBLE_NAMES[m] for m in result.methods},
        charts=[
            ctx.save_chart(f"ensemble-{name}", fig)
            for name, fig in ensemble_figures(result).items()
        ],
        candidates=candidates,
        not_offered=not_offered,
        skipped=skipped,
    )


# -- pixel selection --------------------------------------------------------------------------
def _can_score_pixels(estimator: Any, method: str) -> bool:
    """Whether the model can rank pixels by ``method`` without a model-agnostic fallback."""
    from shallowvision.explain import choose_explainer

    final = _final_step(estimator)
    if method == "model":
        return hasattr(final, "feature_importances_") or hasattr(final, "coef_")
    if method == "shap":
        return choose_explainer(estimator) in ("tree", "linear")
    return True


def selection_model(ctx: RunContext) -> Any:
    """The model pixel selection works with: a zoo name (fitted afresh), or a model of this
    run as ``(name, fitted)`` (a clone of it learns the kept pixels)."""
    config = ctx.config.select
    by_name = {c.name: c for c in ctx.candidates()}
    if config.model is not None and config.model not in by_name:
        return config.model
    if config.model is not None:
        return (config.model, ctx.model(config.model))
    usable = [
        c
        for c in best_single(ctx, len(ctx.candidates()))
        if _can_score_pixels(ctx.model(c.name), config.method)
    ]
    if not usable:
        raise ConfigError(
            f"select.method = {config.method!r} needs a tree or linear model; "
            "set select.model or compare one"
        )
    return (usable[0].name, ctx.model(usable[0].name))


def stage_select(ctx: RunContext) -> SelectOutput:
    """Keep the most useful pixels, retrain on them, and compare with all pixels on validation."""
    from shallowvision.models import evaluate_selection, selection_figures

    config = ctx.config.select
    by_name = {c.name: c for c in ctx.candidates()}
    model = selection_model(ctx)
    splits = ctx.splits
    name = model if isinstance(model, str) else model[0]
    if ctx.on_progress:
        ctx.on_progress(name, "start")
    result = evaluate_selection(
        config.method,
        config.keep,
        model,
        splits.compared,
        splits.validation,
        random_state=ctx.config.seed,
        n_jobs=ctx.config.n_jobs,
        options=config.selector_options(),
        fit_seconds=by_name[name].metrics.get("fit_seconds") if name in by_name else None,
    )
    if ctx.on_progress:
        ctx.on_progress(name, "ok")
    # The selector and the model on the kept pixels, as one pipeline that takes whole images.
    from sklearn.pipeline import Pipeline

    selected = Pipeline([("select", result.selector), ("model", result.model)])
    kept_name = f"{name}-{result.n_kept}px"
    candidate = offer(ctx, kept_name, "select", selected, result.kept_pixels)
    return SelectOutput(
        selection=Selection.from_dict(result.to_dict()),
        candidate_name=kept_name,
        charts=[
            ctx.save_chart(f"select-{key}", fig) for key, fig in selection_figures(result).items()
        ],
        candidates=[candidate],
    )


# -- explanations -----------------------------------------------------------------------------
def explained_model(ctx: RunContext) -> str:
    """The candidate the explanations are of: ``explain.model``, else the best single model
    that tree or linear SHAP explains exactly, else the best."""
    from shallowvision.explain import choose_explainer

    config = ctx.config.explain
    if config.model is not None:
        return _named(ctx, [config.model], "explain.model")[0].name
    singles = best_single(ctx, len(ctx.candidates()))
    if not singles:
        raise ConfigError("no model to explain; set explain.model")
    # Loaded best first up to the first one explained exactly: the models ranked below it
    # (forests of hundreds of megabytes among them) are never read for this question.
    exact = (c for c in singles if choose_explainer(ctx.model(c.name)) != "partition")
    return next(exact, singles[0]).name


def stage_explain(ctx: RunContext) -> ExplainOutput:
    """SHAP and importance images of one model on validation images, drawn at the images' size."""
    from shallowvision.explain import explain_model, explanation_figures

    config = ctx.config.explain
    name = explained_model(ctx)
    if ctx.on_progress:
        ctx.on_progress(name, "start")
    explanation = explain_model(
        ctx.model(name),
        ctx.splits.validation,
        name=name,
        n_explain=config.n_explain,
        n_background=config.n_background,
        n_permutation=config.n_permutation,
        random_state=ctx.config.seed,
    )
    if ctx.on_progress:
        ctx.on_progress(name, "ok")
    ctx.write_json("explanation.json", explanation.to_dict())
    return ExplainOutput(
        model=name,
        file="explanation.json",
        explainer=explanation.explainer,
        output_space=explanation.output_space,
        evaluated_on=explanation.split,
        n_explain=explanation.n_explain,
        n_images=explanation.n_images,
        n_background=explanation.n_background,
        additivity_error=explanation.additivity_error,
        seconds=explanation.seconds,
        charts={
            key: ctx.save_chart(f"explain-{key}", fig)
            for key, fig in explanation_figures(explanation).items()
        },
    )
