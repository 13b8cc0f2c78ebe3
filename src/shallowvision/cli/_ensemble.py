"""``shallowvision ensemble``: voting and stacking against their members on the same images."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shallowvision._io import write_table
from shallowvision.cli._app import app
from shallowvision.cli._common import (
    check_out_path,
    image_options,
    load_task,
    model_progress,
    parse_params,
    split_names,
)
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    COLOR,
    IMAGE_SIZE,
    RESIZE,
    SEED,
    TASK,
    VALIDATION_SIZE,
    ColorOpt,
    DataDirOpt,
    DatasetArg,
    ImageSizeOpt,
    NJobsOpt,
    NPerClassOpt,
    OutOpt,
    PositiveOpt,
    ResizeOpt,
    SeedOpt,
    SkipBadOpt,
    TaskOpt,
    ValidationOpt,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import comparison_table
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import EnsembleConfig

#: How the section's keys read on this command line.
_OPTIONS = {
    "members": "--members",
    "methods": "ensemble method",
    "weights": "--weights",
    "final": "--final",
    "cv": "--cv",
}


def parse_weights(text: str | None) -> list[float] | None:
    """``"1,2,1"`` -> ``[1.0, 2.0, 1.0]``."""
    if text is None:
        return None
    try:
        return [float(v) for v in split_names(text)]
    except ValueError:
        raise ConfigError(f"--weights must be numbers separated by commas, got {text!r}") from None


@app.command("ensemble", epilog=example("ensemble"))
def ensemble_cli(
    dataset: DatasetArg,
    members: Annotated[
        str,
        typer.Option(
            "--members", help="Comma-separated zoo names, at least two (e.g. rf,xgb,ada)."
        ),
    ] = "rf,xgb,ada",
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="soft, hard or stack; several separated by commas.",
        ),
    ] = ",".join(default(EnsembleConfig, "methods")),
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Voting weights, one per member (e.g. 2,1,1)."),
    ] = None,
    final: Annotated[
        str, typer.Option("--final", help="Stacking's final estimator: lr, rf or hgb.")
    ] = default(EnsembleConfig, "final"),
    cv: Annotated[
        int,
        typer.Option("--cv", min=2, help="Stratified folds of stacking's out-of-fold predictions."),
    ] = default(EnsembleConfig, "cv"),
    task: TaskOpt = TASK,
    positive: PositiveOpt = None,
    validation_size: ValidationOpt = VALIDATION_SIZE,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = SEED,
    n_jobs: NJobsOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="MODEL.PARAM=VALUE, repeatable (e.g. rf.n_estimators=50)."),
    ] = None,
    out: OutOpt = None,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Voting and stacking ensembles against their members, on the same validation images.

    Each member is fitted once on train; soft and hard voting reuse the fitted members,
    stacking fits its final estimator on out-of-fold predictions (stratified, seeded).
    Prints accuracy, macro F1, ROC AUC, fit and predict time of every member and ensemble.
    The methods, final estimator and folds default to a run's own: those of the ensemble
    section of its configuration (`shallowvision run --print-config` shows them).
    """
    from shallowvision._console import stdout_console
    from shallowvision.ensemble import compare_ensembles, get_final_estimator, make_ensemble
    from shallowvision.ensemble._compare import ensemble_label

    names = split_names(members)
    params = parse_params(param)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(f"--param names models not in --members: {', '.join(unknown)}")
    config = build_section(
        EnsembleConfig,
        _OPTIONS,
        members=names,
        methods=split_names(method),
        weights=parse_weights(weights),
        final=final,
        cv=cv,
    )
    methods, vote_weights = config.methods, config.weights
    get_final_estimator(config.final)
    for m in methods:  # every bad combination fails here, before any data is read
        make_ensemble(
            names,
            m,
            weights=None if m == "stack" else vote_weights,
            final=config.final,
            cv=config.cv,
            params=params,
        )
    check_out_path(out)
    splits = load_task(
        dataset,
        task=task,
        positive=positive,
        n_per_class=n_per_class,
        validation_size=validation_size,
        seed=seed,
        data_dir=data_dir,
        images=image_options(color, image_size, resize, skip_bad),
    )
    rows = [*names, *(ensemble_label(m, config.final) for m in dict.fromkeys(methods))]
    with model_progress(rows) as on_progress:
        result = compare_ensembles(
            names,
            splits.train,
            splits.validation,
            methods=methods,
            weights=vote_weights,
            final=config.final,
            cv=config.cv,
            random_state=seed,
            n_jobs=n_jobs,
            params=params,
            on_progress=on_progress,
        )
    console = stdout_console()
    best = max(result.rows, key=lambda r: r.f1_macro or 0.0).model
    title = (
        f"{result.dataset}: members and ensembles trained on {result.n_train:,} images, scored "
        f"on the same {result.n_eval:,} {result.evaluated_on} images ({len(result.class_names)} classes)"
    )
    console.print(comparison_table(list(result.rows), title, highlight=best))
    console.print(_summary(result))
    if out is not None:
        write_table(out, result.to_dict(), [r.to_dict() for r in result.rows])


def _summary(result: Any) -> str:
    best = next(r for r in result.member_rows if r.model == result.best_member)
    gains = ", ".join(
        f"{name} {g['f1_macro']:+.4f}"
        for name, g in result.gain.items()
        if g["f1_macro"] is not None
    )
    return (
        f"best member: [bold]{best.model}[/bold] (macro F1 {best.f1_macro:.4f}); "
        f"macro F1 against it: {gains}\n"
        f"members agree on {result.agreement:.1%} of the images; at least one is right on "
        f"{result.oracle_accuracy:.1%} (no combination of them can do better)"
    )
