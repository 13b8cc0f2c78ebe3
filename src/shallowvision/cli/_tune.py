"""``shallowvision tune``: a successive-halving search, tuned against default on validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision._dask import dask_backend
from shallowvision.cli._app import app
from shallowvision.cli._common import check_out_path, image_options, load_task
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    COLOR,
    IMAGE_SIZE,
    RESIZE,
    SEED,
    TASK,
    VALIDATION_SIZE,
    ColorOpt,
    DaskOpt,
    DataDirOpt,
    DatasetArg,
    ImageSizeOpt,
    NJobsOpt,
    NPerClassOpt,
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
from shallowvision.run._config import TuneConfig

#: How the section's keys read on this command line.
_OPTIONS = {
    "models": "--model",
    "search": "search",
    "grids": "--grid",
    "scoring": "--scoring",
    "cv": "--cv",
    "factor": "--factor",
    "n_candidates": "--n-candidates",
}


@app.command("tune", epilog=example("tune"))
def tune_cli(
    dataset: DatasetArg,
    model: Annotated[str, typer.Option("--model", "-m", help="Zoo name to tune.")] = "xgb",
    search: Annotated[
        str, typer.Option("--search", help="halving-random or halving-grid.")
    ] = default(TuneConfig, "search"),
    grid: Annotated[
        str | None,
        typer.Option("--grid", help="A named grid of the model (e.g. emnist); default its own."),
    ] = None,
    scoring: Annotated[
        str, typer.Option("--scoring", help="scikit-learn scorer used by the search.")
    ] = default(TuneConfig, "scoring"),
    cv: Annotated[int, typer.Option("--cv", min=2, help="Stratified folds of train.")] = default(
        TuneConfig, "cv"
    ),
    factor: Annotated[int, typer.Option("--factor", min=2, help="Halving factor.")] = default(
        TuneConfig, "factor"
    ),
    n_candidates: Annotated[
        int, typer.Option("--n-candidates", min=2, help="First-round candidates (halving-random).")
    ] = default(TuneConfig, "n_candidates"),
    task: TaskOpt = TASK,
    positive: PositiveOpt = None,
    validation_size: ValidationOpt = VALIDATION_SIZE,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = SEED,
    n_jobs: NJobsOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the search results to FILE (.json).")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Save the tuned model (skops) to FILE.")
    ] = None,
    dask: DaskOpt = None,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Successive-halving search with stratified CV on train; tuned vs default on validation.

    The search's defaults are a run's own: those of the tune section of its configuration
    (`shallowvision run --print-config` shows them).
    """
    from rich.table import Table

    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.models import tune_model

    config = build_section(
        TuneConfig,
        _OPTIONS,
        models=[model],
        search=search,
        grids={model: grid} if grid is not None else None,
        scoring=scoring,
        cv=cv,
        factor=factor,
        n_candidates=n_candidates,
    )
    if out is not None and out.suffix.lower() != ".json":
        raise ConfigError(f"{out}: --out must end in .json")
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
    with (
        dask_backend(dask),
        stderr_console().status(
            f"tuning {model} ({config.search}, {config.cv}-fold CV on {len(splits.train):,} images)"
        ),
    ):
        result = tune_model(
            model,
            splits.train,
            splits.validation,
            search=config.search,
            grid=config.grids.get(model),
            scoring=config.scoring,
            cv=config.cv,
            factor=config.factor,
            n_candidates=config.n_candidates,
            random_state=seed,
            n_jobs=n_jobs,
        )
    console = stdout_console()
    console.print(
        f"[bold]best parameters[/bold] ({config.scoring} {result.best_cv_score:.4f} "
        f"in {config.cv}-fold CV):"
    )
    for key, value in result.best_params.items():
        console.print(f"  {key} = {value}")
    console.print(
        comparison_table(
            [
                _renamed(result.baseline, f"{model} default"),
                _renamed(result.tuned, f"{model} tuned"),
            ],
            f"{splits.train.name}: trained on {len(splits.train):,} images, scored on "
            f"{len(splits.validation):,} validation images",
        )
    )
    cost = Table(title="Search cost", title_justify="left")
    for column in ("iteration", "candidates", "images per fit"):
        cost.add_column(column, justify="right")
    for i, (c, r) in enumerate(zip(result.n_candidates, result.n_resources, strict=True)):
        cost.add_row(str(i), str(c), f"{r:,}")
    console.print(cost)
    console.print(f"{result.n_fits} fits in {result.search_seconds:.1f} s")
    if out is not None:
        from shallowvision._io import write_json

        write_json(out, result.to_dict())
    if save is not None:
        from shallowvision.persistence import save_model

        save_model(
            result.best_estimator,
            save,
            trained_on=splits.train,
            name=model,
            evaluated_on="validation",
            metrics=result.tuned.measured(),
            extra={"params": result.best_params},
        )


def _renamed(row: Any, name: str) -> Any:
    import dataclasses

    return dataclasses.replace(row, model=name)
