"""``shallowvision benchmark``: the Fashion-MNIST paper's benchmark protocol, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision._dask import dask_backend
from shallowvision.cli._app import EXIT_INTERRUPTED, app
from shallowvision.cli._common import image_options, print_skipped, split_names
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    COLOR,
    IMAGE_SIZE,
    RESIZE,
    SEED,
    ColorOpt,
    DaskOpt,
    DataDirOpt,
    DatasetArg,
    ImageSizeOpt,
    NJobsOpt,
    NPerClassOpt,
    ResizeOpt,
    SeedOpt,
    SkipBadOpt,
    TimeLimitOpt,
)
from shallowvision.cli._tables import fmt, new_table
from shallowvision.exceptions import ConfigError


@app.command("benchmark", epilog=example("benchmark"))
def benchmark_cli(
    dataset: DatasetArg,
    grid: Annotated[
        str, typer.Option("--grid", help="The benchmark grid: paper (the Fashion-MNIST paper's).")
    ] = "paper",
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Comma-separated classifiers to run (e.g. GaussianNB,KNeighbors); default all.",
        ),
    ] = None,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats", min=1, help="Fits per configuration, each on another shuffle of train."
        ),
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="JSON-lines file the rows stream to; run again to resume "
            "(default: benchmark-DATASET-GRID.jsonl here).",
        ),
    ] = None,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = SEED,
    n_jobs: NJobsOpt = None,
    time_limit: TimeLimitOpt = None,
    dask: DaskOpt = None,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Fit every configuration of a benchmark grid and report its test accuracy.

    Each configuration is fitted on the whole standardised training set; accuracy is
    the mean over --repeats shuffles, with the seconds per fit."""
    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.benchmark import get_benchmark_configs, run_benchmark
    from shallowvision.datasets import load

    classifiers = split_names(only) if only else None
    configs = get_benchmark_configs(grid, classifiers)
    if out is not None:
        _check_jsonl(out)
    images = image_options(color, image_size, resize, skip_bad)
    train = load(
        dataset, "train", data_dir=data_dir, n_per_class=n_per_class, random_state=seed, **images
    )
    test = load(dataset, "test", data_dir=data_dir, **images)
    print_skipped(train, test)
    path = out or Path(f"benchmark-{train.name}-{grid}.jsonl")
    console = stderr_console()
    console.print(
        f"[bold]benchmark[/bold] {grid}: {len(configs)} configurations x {repeats} fit(s), "
        f"{len(train):,} training and {len(test):,} test images; rows go to {path}"
    )
    try:
        with dask_backend(dask), _RowProgress(len(configs)) as progress:
            result = run_benchmark(
                train,
                test,
                grid=grid,
                only=classifiers,
                repeats=repeats,
                random_state=seed,
                n_jobs=n_jobs,
                out=path,
                time_limit=time_limit,
                on_row=progress.on_row,
            )
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/yellow]; finished rows are kept in {path}: "
            "run the same command again to resume"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if result.n_resumed:
        console.print(f"{result.n_resumed} of {len(result.rows)} rows were already in {path}")
    stdout = stdout_console()
    stdout.print(_rows_table(result))
    stdout.print(_best_table(result))


def _check_jsonl(path: Path) -> None:
    if path.suffix.lower() != ".jsonl":
        raise ConfigError(f"{path}: --out must end in .jsonl (one JSON row per line)")
    if not path.parent.exists():
        raise ConfigError(f"{path.parent}: folder does not exist")


class _RowProgress:
    """One bar over the configurations (with ETA), and a line for each finished row."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from shallowvision._console import stderr_console

        self.progress = Progress(
            TextColumn("configurations"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr_console(),
        )
        self.task = self.progress.add_task("benchmark", total=total)

    def __enter__(self) -> _RowProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def on_row(self, row: Any) -> None:
        self.progress.advance(self.task)
        result = f"{row.accuracy:.4f}" if row.status == "ok" else row.status
        self.progress.console.print(f"  {row.classifier} {_params(row.params)}: {result}")


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _accuracy(row: Any) -> str:
    if row.accuracy is None:
        return "-"
    spread = f" ± {row.accuracy_std:.4f}" if len(row.scores) > 1 else ""
    return f"{row.accuracy:.4f}{spread}"


def _rows_table(result: Any) -> Any:
    table = new_table(
        f"{result.dataset}: {result.grid} grid, trained on {result.n_train:,} images, "
        f"test accuracy on {result.n_test:,} (mean over {result.repeats} shuffle(s))",
        ["classifier", "parameters", "status", "test accuracy", "fit s", "predict s", "notes"],
        left=("parameters", "status", "notes"),
    )
    for row in result.rows:
        note = row.error or "; ".join(w.split(":", 1)[0] for w in row.warnings)
        table.add_row(
            row.classifier,
            _params(row.params),
            row.status,
            _accuracy(row),
            fmt(row.fit_seconds, "seconds"),
            fmt(row.predict_seconds, "seconds"),
            note,
            style=None if row.status == "ok" else "red",
        )
    return table


def _best_table(result: Any) -> Any:
    table = new_table(
        "Best configuration of each classifier",
        ["classifier", "parameters", "test accuracy", "fit s"],
        left=("parameters",),
    )
    best = sorted(result.best().values(), key=lambda r: -(r.accuracy or 0.0))
    for row in best:
        table.add_row(
            row.classifier, _params(row.params), _accuracy(row), fmt(row.fit_seconds, "seconds")
        )
    return table
