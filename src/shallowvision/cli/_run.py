"""``shallowvision run``: the whole study in one command."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision.cli._app import EXIT_INTERRUPTED, EXIT_USER_ERROR, app
from shallowvision.cli._common import as_flags, command_started, split_names
from shallowvision.cli._examples import example
from shallowvision.cli._options import MAX_SEED, check_n_jobs, parse_duration
from shallowvision.exceptions import ConfigError


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``["tune.top=3", "data.n_per_class=null"]`` -> nested overrides (values read as JSON)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} must look like SECTION.KEY=VALUE, e.g. tune.top=3")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = parsed
    return out


@app.command("run", epilog=example("run"))
def run_cli(
    dataset: Annotated[
        str | None,
        typer.Argument(help="Dataset name or path (default: the config's, else fashion-mnist)."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="quick (minutes), standard (< 30 min), full, or fast / best (that pipeline on all images).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="A TOML file setting any choice; flags override it."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder that holds run folders.")] = Path(
        "runs"
    ),
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Name of the run folder (default: dataset-preset-time)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue --run-id (or the newest run in --out), skipping finished stages.",
        ),
    ] = False,
    print_config: Annotated[
        bool,
        typer.Option("--print-config", help="Print the effective configuration as TOML and exit."),
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, max=MAX_SEED, help="The run's one random seed."),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            "--models", "-m", help="Models of the baseline comparison (comma-separated, or 'all')."
        ),
    ] = None,
    n_per_class: Annotated[
        int | None, typer.Option("--n-per-class", min=1, help="Training images per class.")
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option("--positive", help="Binary one-vs-rest task with this positive class."),
    ] = None,
    color: Annotated[
        str | None,
        typer.Option("--color", help="Colour mode of image files: auto, gray or rgb."),
    ] = None,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", help="Size of image files: 32, 48x64, auto or native."),
    ] = None,
    resize: Annotated[
        str | None,
        typer.Option("--resize", help="How image files reach their size: stretch, pad or crop."),
    ] = None,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Skip and list image files that cannot be decoded."),
    ] = False,
    n_jobs: Annotated[
        int | None,
        typer.Option(
            "--n-jobs", callback=check_n_jobs, help="Threads/processes per model, -1 every core."
        ),
    ] = None,
    dask: Annotated[
        str | None, typer.Option("--dask", help="local, local:N, or tcp://host:port.")
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time-budget",
            metavar="DURATION",
            help="Wall time for the whole run: 90s, 10m, 1.5h or seconds. The cheapest "
            "models go first; stages and fits that cannot finish in what is left are "
            "skipped, with the reason in the report.",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="SECTION.KEY=VALUE override, repeatable (e.g. tune.top=3)."),
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option(
            "--mlflow",
            metavar="URI",
            help="Log the finished run to MLflow: a tracking URI (http://host:5000, "
            "sqlite:///path.db, file:/path) or 'local' (mlflow.db in this folder).",
        ),
    ] = None,
) -> None:
    """Run the whole study and write one offline HTML report.

    EDA, comparison, tuning, ensembles, selection, explanations, calibration,
    robustness and a final test evaluation, resumable stage by stage."""
    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.cli._progress import RunProgress
    from shallowvision.run import (
        STAGES,
        build_config,
        check_run_id,
        find_run,
        load_run_config,
        run_study,
        to_toml,
    )

    if run_id is not None:
        check_run_id(run_id)
    overrides = parse_set(set_)
    flags: dict[str, Any] = {
        "seed": seed,
        "n_jobs": n_jobs,
        "dask": dask,
        "time_budget": None if time_budget is None else parse_duration(time_budget),
        "mlflow_uri": mlflow,
        "data": {
            "dataset": dataset,
            "n_per_class": n_per_class,
            "positive": positive,
            "task": "binary" if positive else None,
            "color": color,
            "image_size": image_size,
            "resize": resize,
            "skip_bad": True if skip_bad else None,
        },
        "compare": {
            "models": (["all"] if models.strip() == "all" else split_names(models))
            if models
            else None
        },
    }
    overrides = _merge_flags(overrides, flags)
    if resume:
        run_dir = find_run(out, run_id, overrides)
        effective = load_run_config(run_dir, overrides)
        run_id = run_dir.name
    else:
        effective = build_config(preset=preset, file=config, overrides=overrides)
    if print_config:
        typer.echo(to_toml(effective), nl=False)
        return
    if effective.mlflow_uri is not None:
        # Before the work: a missing extra or a server that is down is known in seconds.
        from shallowvision.run import resolve_tracking_uri

        resolve_tracking_uri(effective.mlflow_uri)
    console = stderr_console()
    budget = "" if effective.time_budget is None else f", time budget {effective.time_budget:g} s"
    console.print(
        f"[bold]shallowvision run[/bold]: {effective.data.dataset}, preset {effective.preset}, "
        f"seed {effective.seed}{budget}"
    )
    try:
        with RunProgress(STAGES) as progress:
            run_dir = run_study(
                effective,
                out_dir=out,
                run_id=run_id,
                resume=resume,
                on_event=progress.on_event,
                on_model=progress.on_model,
                started=command_started(),
            )
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/yellow]; finished stages are kept: resume with `shallowvision run --resume --out {out}{' --run-id ' + run_id if run_id else ''}`"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    out_console = stdout_console()
    recommended = _recommended(run_dir)
    if recommended:
        out_console.print(recommended, markup=False, soft_wrap=True)
    within = _within_budget(run_dir)
    if within:
        out_console.print(within, markup=False, soft_wrap=True)
    out_console.print(
        f"report: {run_dir / 'report.html'}"
        if (run_dir / "report.html").exists()
        else f"run: {run_dir}"
    )
    if effective.mlflow_uri is not None:
        _log_to_mlflow(run_dir, effective.mlflow_uri, out)


def _log_to_mlflow(run_dir: Path, uri: str, out: Path) -> None:
    """Log the finished run; a failure is one line that says how to log it later, exit 2."""
    from rich.markup import escape

    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.run import log_run, resolve_tracking_uri

    # MLflow's INFO lines and artifact progress bars would bury the run's summary.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    try:
        mlflow_run = log_run(run_dir, uri)
    except ConfigError as exc:
        later = f"shallowvision run --resume --out {out} --run-id {run_dir.name} --mlflow URI"
        text = " ".join(as_flags(str(exc)).split())
        stderr_console().print(
            f"[red]error:[/red] {escape(text)}; log it later with `{escape(later)}`",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_USER_ERROR) from None
    stdout_console().print(
        f"mlflow: run {mlflow_run} at {resolve_tracking_uri(uri)}", markup=False, soft_wrap=True
    )


def _recommended(run_dir: Path) -> str | None:
    """The recommended model and why, in one line, from the run's ``metrics.json``."""
    try:
        recommended = json.loads((run_dir / "metrics.json").read_text())["recommended"]
    except (OSError, ValueError, KeyError):
        return None
    reason = recommended.get("reason")
    return f"recommended: {recommended['model']}" + (f": {reason}" if reason else "")


def _within_budget(run_dir: Path) -> str | None:
    """The run's wall time against its time budget, in one line, from ``manifest.json``."""
    try:
        budget = json.loads((run_dir / "manifest.json").read_text())["time_budget"]
        wall, seconds = float(budget["wall_seconds"]), float(budget["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"time budget: {wall:,.0f} s of {seconds:,.0f} s ({wall / seconds:.0%})"


def _merge_flags(overrides: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Add the flags that were given (not None) to ``overrides``."""
    for key, value in flags.items():
        if isinstance(value, dict):
            given = {k: v for k, v in value.items() if v is not None}
            if given:
                overrides.setdefault(key, {}).update(given)
        elif value is not None:
            overrides[key] = value
    return overrides
