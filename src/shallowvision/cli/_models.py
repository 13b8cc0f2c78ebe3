"""``shallowvision models``, ``compare``, ``tune`` and ``predict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision._dask import dask_backend
from shallowvision._io import write_table
from shallowvision.cli._app import app
from shallowvision.cli._common import (
    check_out_path,
    load_task,
    model_progress,
    parse_params,
    split_names,
)
from shallowvision.cli._options import (
    AllowVersionMismatchOpt,
    DaskOpt,
    DataDirOpt,
    DatasetArg,
    ExpectSha256Opt,
    JsonOpt,
    ModelFileArg,
    NJobsOpt,
    NPerClassOpt,
    OutOpt,
    PositiveOpt,
    SeedOpt,
    TaskOpt,
    TimeLimitOpt,
    ValidationOpt,
)
from shallowvision.cli._tables import comparison_table
from shallowvision.exceptions import ConfigError, ShallowVisionError

_DEFAULT_MODELS = "dummy,lr,nb,knn,rf,xgb"


@app.command("models")
def models_cli(as_json: JsonOpt = False) -> None:
    """List the model zoo: name, what it is, probabilities, relative cost, and whether it is installed."""
    from rich.table import Table

    from shallowvision._console import stdout_console
    from shallowvision.models import list_models

    rows: list[dict[str, Any]] = [
        {
            "name": spec.name,
            "description": spec.description,
            "probabilities": spec.proba,
            "cost": spec.cost,
            "extra": spec.extra,
            "installed": spec.installed(),
            "grids": ["default", *spec.named_grids],
        }
        for spec in list_models()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Model zoo", title_justify="left")
    for column in ("name", "description", "proba", "cost", "grids", "installed"):
        table.add_column(column)
    for r in rows:
        installed = "yes" if r["installed"] else f"pip install 'shallowvision[{r['extra']}]'"
        table.add_row(
            r["name"],
            r["description"],
            "yes" if r["probabilities"] else "scores",
            r["cost"],
            ",".join(r["grids"]),
            installed,
        )
    stdout_console().print(table)


@app.command("compare")
def compare_cli(
    dataset: DatasetArg,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            "-m",
            help="Comma-separated zoo names (see `shallowvision models`), or 'all'.",
        ),
    ] = _DEFAULT_MODELS,
    task: TaskOpt = "multiclass",
    positive: PositiveOpt = None,
    test: Annotated[
        bool, typer.Option("--test", help="Score on the test split instead of validation.")
    ] = False,
    validation_size: ValidationOpt = 0.1,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = 0,
    n_jobs: NJobsOpt = None,
    time_limit: TimeLimitOpt = None,
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
) -> None:
    """Fit each model on train and score it on validation (test only with --test)."""
    from shallowvision.models import compare_models, get_model_names, get_model_spec

    names = get_model_names() if models.strip() == "all" else split_names(models)
    for name in names:
        get_model_spec(name)  # an unknown name fails before any work, listing the valid ones
    params = parse_params(param)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(f"--param names models not in --models: {', '.join(unknown)}")
    check_out_path(out)
    if data_parallel:
        _check_data_parallel(names, dask, task, positive, n_per_class, n_jobs, time_limit)
    if save_models is not None:
        save_models.mkdir(parents=True, exist_ok=True)
    if data_parallel:
        assert dask is not None  # checked above
        _compare_data_parallel(
            dataset,
            names,
            dask,
            test=test,
            validation_size=validation_size,
            positive=positive,
            seed=seed,
            params=params,
            out=out,
            save_models=save_models,
            data_dir=data_dir,
        )
        return
    splits = load_task(
        dataset,
        task=task,
        positive=positive,
        n_per_class=n_per_class,
        validation_size=validation_size,
        seed=seed,
        data_dir=data_dir,
    )
    target = splits.test if test else splits.validation
    with dask_backend(dask), model_progress(names) as on_progress:
        comparison = compare_models(
            names,
            splits.train,
            target,
            random_state=seed,
            n_jobs=n_jobs,
            time_limit=time_limit,
            params=params,
            keep_models=save_models is not None,
            on_progress=on_progress,
        )
    _report_comparison(comparison, out, save_models, splits.train)


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


def _check_data_parallel(
    names: list[str],
    dask: str | None,
    task: str,
    positive: str | None,
    n_per_class: int | None,
    n_jobs: int | None,
    time_limit: float | None,
) -> None:
    """Refuse, before any work, what --data-parallel cannot do."""
    from shallowvision.cli._common import TASKS
    from shallowvision.models import data_parallel_model_names

    able = data_parallel_model_names()
    unable = [n for n in names if n not in able]
    if unable:
        raise ConfigError(
            f"--data-parallel: {', '.join(unable)} cannot be fitted data-parallel; the models "
            f"that can are: {', '.join(able)}"
        )
    if dask is None:
        raise ConfigError(
            "--data-parallel fits on a Dask cluster: add --dask local:N[:MEMORY] or --dask tcp://host:port"
        )
    for flag, value in (
        ("--n-per-class", n_per_class),
        ("--n-jobs", n_jobs),
        ("--time-limit", time_limit),
    ):
        if value is not None:
            raise ConfigError(
                f"--data-parallel cannot be combined with {flag}: it trains on every training "
                "image, each worker with its own threads, until the fit ends"
            )
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose multiclass or binary")
    if task == "binary" and positive is None:
        raise ConfigError(
            "--task binary needs --positive CLASS (an index like 8 or a name like Shirt)"
        )


def _compare_data_parallel(
    dataset: str,
    names: list[str],
    dask: str,
    *,
    test: bool,
    validation_size: float,
    positive: str | None,
    seed: int,
    params: dict[str, dict[str, Any]],
    out: Path | None,
    save_models: Path | None,
    data_dir: Path | None,
) -> None:
    from shallowvision._console import stderr_console
    from shallowvision._dask import dask_client
    from shallowvision.datasets import read_partitioned
    from shallowvision.models import compare_data_parallel

    options: dict[str, Any] = {
        "validation_size": validation_size,
        "positive": positive,
        "random_state": seed,
        "data_dir": data_dir,
    }
    with dask_client(dask) as client:
        train = read_partitioned(dataset, "train", **options)
        target = read_partitioned(dataset, "test" if test else "validation", **options)
        with model_progress(names) as on_progress:
            comparison = compare_data_parallel(
                names,
                train,
                target,
                random_state=seed,
                params=params,
                keep_models=save_models is not None,
                client=client,
                on_progress=on_progress,
                on_retry=lambda note: stderr_console().print(f"[yellow]{note}[/yellow]"),
            )
        # Saving fingerprints the training images, on the cluster.
        _report_comparison(comparison, out, save_models, train)


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


@app.command("tune")
def tune_cli(
    dataset: DatasetArg,
    model: Annotated[str, typer.Option("--model", "-m", help="Zoo name to tune.")] = "xgb",
    search: Annotated[
        str, typer.Option("--search", help="halving-grid or halving-random.")
    ] = "halving-grid",
    grid: Annotated[
        str | None,
        typer.Option("--grid", help="A named grid of the model (e.g. emnist); default its own."),
    ] = None,
    scoring: Annotated[
        str, typer.Option("--scoring", help="scikit-learn scorer used by the search.")
    ] = "accuracy",
    cv: Annotated[int, typer.Option("--cv", min=2, help="Stratified folds of train.")] = 3,
    factor: Annotated[int, typer.Option("--factor", min=2, help="Halving factor.")] = 3,
    n_candidates: Annotated[
        int, typer.Option("--n-candidates", min=2, help="First-round candidates (halving-random).")
    ] = 20,
    task: TaskOpt = "multiclass",
    positive: PositiveOpt = None,
    validation_size: ValidationOpt = 0.1,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = 0,
    n_jobs: NJobsOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the search results to FILE (.json).")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Save the tuned model (skops) to FILE.")
    ] = None,
    dask: DaskOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Successive-halving search with stratified CV on train; tuned vs default on validation."""
    from rich.table import Table

    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.models import get_model_spec, tune_model

    get_model_spec(model)
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
    )
    with (
        dask_backend(dask),
        stderr_console().status(
            f"tuning {model} ({search}, {cv}-fold CV on {len(splits.train):,} images)"
        ),
    ):
        result = tune_model(
            model,
            splits.train,
            splits.validation,
            search=search,
            grid=grid,
            scoring=scoring,
            cv=cv,
            factor=factor,
            n_candidates=n_candidates,
            random_state=seed,
            n_jobs=n_jobs,
        )
    console = stdout_console()
    console.print(
        f"[bold]best parameters[/bold] ({scoring} {result.best_cv_score:.4f} in {cv}-fold CV):"
    )
    for key, value in result.best_params.items():
        console.print(f"  {key} = {value}")
    console.print(
        comparison_table(
            [
                _renamed(result.baseline, f"{model} default"),
                _renamed(result.tuned, f"{model} tuned"),
            ],
            "On validation",
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


@app.command("predict")
def predict_cli(
    model: ModelFileArg,
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Image files (PNG, JPEG, BMP, TIFF, WebP, GIF ...), folders of them, IDX or NPZ files."
        ),
    ],
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Classes to report per image.")] = 3,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write predictions to FILE (.csv or .json) instead of printing."
        ),
    ] = None,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
    expect_sha256: ExpectSha256Opt = None,
) -> None:
    """Predict the class of new images with a saved model."""
    from rich.table import Table

    from shallowvision._console import stdout_console
    from shallowvision.inference import predict_top_k, read_inputs
    from shallowvision.persistence import load_model

    check_out_path(out)
    saved = load_model(
        model, allow_version_mismatch=allow_version_mismatch, expect_sha256=expect_sha256
    )
    names, images = read_inputs(list(inputs), image_shape=saved.image_shape)
    predictions = predict_top_k(saved, images, k=top_k)
    records = predictions.records(names)
    if out is not None:
        write_table(
            out, {"model": str(model), "predictions": records}, predictions.table_rows(names)
        )
        return
    key = "probability" if predictions.scores_kind == "proba" else "score"
    table = Table(title=f"{saved.name}: {len(records)} images", title_justify="left")
    table.add_column("input")
    table.add_column("prediction")
    table.add_column(f"top {top_k} ({key})")
    for r in records:
        top = ", ".join(f"{t['class_name']} {t[key]:.3f}" for t in r["top"])
        table.add_row(r["input"], r["class_name"], top)
    stdout_console().print(table)
