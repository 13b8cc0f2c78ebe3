"""``shallowvision compare``: zoo models fitted on train and scored on the same images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision._dask import dask_backend
from shallowvision._io import write_table
from shallowvision.cli._app import app
from shallowvision.cli._common import (
    check_out_path,
    command_started,
    image_options,
    load_task,
    model_progress,
    parse_params,
    split_names,
)
from shallowvision.cli._data_parallel import check_data_parallel, compared_data_parallel
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
    OutOpt,
    PositiveOpt,
    ResizeOpt,
    SeedOpt,
    SkipBadOpt,
    TaskOpt,
    TestNPerClassOpt,
    TimeBudgetOpt,
    TimeLimitOpt,
    ValidationOpt,
    parse_duration,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import comparison_table
from shallowvision.exceptions import ConfigError, ShallowVisionError
from shallowvision.run._config import CompareConfig

#: How the section's keys read on this command line.
_OPTIONS = {"models": "--models", "time_limit": "--time-limit", "params": "--param"}


@app.command("compare", epilog=example("compare"))
def compare_cli(
    dataset: DatasetArg,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            "-m",
            help="Comma-separated zoo names (see `shallowvision models`), or 'all'.",
        ),
    ] = ",".join(default(CompareConfig, "models")),
    task: TaskOpt = TASK,
    positive: PositiveOpt = None,
    test: Annotated[
        bool, typer.Option("--test", help="Score on the test split instead of validation.")
    ] = False,
    validation_size: ValidationOpt = VALIDATION_SIZE,
    n_per_class: NPerClassOpt = None,
    test_n_per_class: TestNPerClassOpt = None,
    seed: SeedOpt = SEED,
    n_jobs: NJobsOpt = None,
    time_limit: TimeLimitOpt = None,
    time_budget: TimeBudgetOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="MODEL.PARAM=VALUE, repeatable (e.g. rf.n_estimators=50)."),
    ] = None,
    out: OutOpt = None,
    save_models: Annotated[
        Path | None,
        typer.Option("--save-models", help="Save each fitted model (skops) in this folder."),
    ] = None,
    dask: DaskOpt = None,
    data_parallel: Annotated[
        bool,
        typer.Option(
            "--data-parallel",
            help="With --dask: keep the images partitioned on the workers, which read them, and fit each model with its library's distributed estimator (lgbm, xgb), for training sets larger than a worker's memory.",
        ),
    ] = False,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Fit each model on train and score it on validation (test only with --test)."""
    from shallowvision.models import get_model_names

    # An unknown model fails here, before any work, listing the valid ones.
    config = build_section(
        CompareConfig,
        _OPTIONS,
        models=get_model_names() if models.strip() == "all" else split_names(models),
        time_limit=time_limit,
        params=parse_params(param),
    )
    names, params = config.models, config.params
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(f"--param names models not in --models: {', '.join(unknown)}")
    budget = None if time_budget is None else parse_duration(time_budget)
    if budget is not None and (dask is not None or data_parallel):
        raise ConfigError(
            "--time-budget stops fits in worker processes on this machine when the budget "
            f"runs out; it cannot be combined with {'--data-parallel' if data_parallel else '--dask'}"
        )
    check_out_path(out)
    if test_n_per_class is not None and not test:
        raise ConfigError("--test-n-per-class subsamples the test split: add --test to score on it")
    if data_parallel:
        check_data_parallel(
            names, dask, task, positive, n_per_class, test_n_per_class, n_jobs, time_limit
        )
    if save_models is not None:
        save_models.mkdir(parents=True, exist_ok=True)
    if data_parallel:
        assert dask is not None  # checked above
        with compared_data_parallel(
            dataset,
            names,
            dask,
            test=test,
            validation_size=validation_size,
            positive=positive,
            seed=seed,
            params=params,
            keep_models=save_models is not None,
            data_dir=data_dir,
        ) as (comparison, train):
            _report_comparison(comparison, out, save_models, train)
        return
    splits = load_task(
        dataset,
        task=task,
        positive=positive,
        n_per_class=n_per_class,
        test_n_per_class=test_n_per_class,
        validation_size=validation_size,
        seed=seed,
        data_dir=data_dir,
        images=image_options(color, image_size, resize, skip_bad),
    )
    target = splits.test if test else splits.validation
    from shallowvision.models import compare_models

    with dask_backend(dask), model_progress(names) as on_progress:
        comparison = compare_models(
            names,
            splits.train,
            target,
            random_state=seed,
            n_jobs=n_jobs,
            time_limit=config.time_limit,
            time_budget=None if budget is None else _left(budget),
            params=params,
            keep_models=save_models is not None,
            on_progress=on_progress,
        )
    _report_comparison(comparison, out, save_models, splits.train)


def _left(budget: float) -> float:
    """What the command's time budget leaves the comparison, after its start and loading."""
    import time

    return max(budget - (time.monotonic() - command_started()), 0.001)


def _report_comparison(
    comparison: Any, out: Path | None, save_models: Path | None, train: Any
) -> None:
    """Print the table, write ``--out`` and save the models of a comparison."""
    from shallowvision._console import stdout_console

    finished = any(r.status == "ok" for r in comparison.rows)
    best = comparison.best().model if finished else None
    title = (
        f"{comparison.dataset}: trained on {comparison.n_train:,} images, scored on "
        f"{comparison.n_eval:,} {comparison.evaluated_on} images ({len(comparison.class_names)} classes)"
    )
    console = stdout_console()
    console.print(comparison_table(comparison.rows, title, highlight=best))
    for row in comparison.rows:
        if row.status != "ok":
            console.print(f"{row.model} {row.status}: {row.error}", style="red", markup=False)
        elif row.notes:
            console.print(f"{row.model}: {row.notes}", markup=False)
    if best:
        console.print(f"best macro F1: [bold]{best}[/bold]")
    if out is not None:
        write_table(out, comparison.to_dict(), [r.to_dict() for r in comparison.rows])
    if save_models is not None:
        _save_all(comparison, train, save_models)
    if not finished:
        raise ShallowVisionError(
            f"no model finished: {', '.join(f'{r.model} {r.status}' for r in comparison.rows)}"
        )


def _save_all(comparison: Any, train: Any, folder: Path) -> None:
    from shallowvision.persistence import save_model

    by_name = {r.model: r for r in comparison.rows}
    for name, estimator in comparison.models.items():
        save_model(
            estimator,
            folder / f"{name}.skops",
            trained_on=train,
            name=name,
            evaluated_on=comparison.evaluated_on,
            metrics=by_name[name].measured(),
        )
