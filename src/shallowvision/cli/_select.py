"""``shallowvision select``: keep some pixels, retrain, and compare with all pixels."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision.cli._app import app
from shallowvision.cli._common import image_options, load_task, parse_params
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
    PositiveOpt,
    ResizeOpt,
    SeedOpt,
    SkipBadOpt,
    TaskOpt,
    ValidationOpt,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import comparison_table, fmt
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import SelectConfig

# Masks wider than this are left to mask.png instead of the terminal.
_MAX_TEXT_WIDTH = 40


@app.command("select", epilog=example("select"))
def select_cli(
    dataset: DatasetArg,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="variance, mi, rfe, rfecv, model (impurity importance), permutation or shap.",
        ),
    ] = default(SelectConfig, "method"),
    keep: Annotated[
        float,
        typer.Option("--keep", min=0.0, help="Share (< 1) or number (>= 1) of pixels kept."),
    ] = default(SelectConfig, "keep"),
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Zoo model retrained on the kept pixels (it also scores them)."
        ),
    ] = "xgb",
    n_explain: Annotated[
        int | None,
        typer.Option("--n-explain", min=1, help="shap: training images explained (default 200)."),
    ] = None,
    task: TaskOpt = TASK,
    positive: PositiveOpt = None,
    validation_size: ValidationOpt = VALIDATION_SIZE,
    n_per_class: NPerClassOpt = None,
    seed: SeedOpt = SEED,
    n_jobs: NJobsOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="PARAM=VALUE of the model, repeatable (e.g. n_estimators=50)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write selection.json and mask.png into this folder."),
    ] = None,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
) -> None:
    """Keep the most useful pixels, retrain on them, and compare with all pixels.

    Pixels are scored on train only; both models are scored on the same validation
    images (accuracy, macro F1, fit and predict time), with the exact number and share of
    pixels kept.
    """
    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.models import get_model_spec

    # A bad method, keep, model or option fails here, before any data is read.
    config = build_section(
        SelectConfig,
        {"method": "--method", "keep": "--keep", "model": "--model", "n_explain": "--n-explain"},
        method=method,
        keep=keep,
        model=model,
        n_explain=n_explain,
    )
    get_model_spec(model)
    params = _model_params(param, model)
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out must be a folder")
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
    from shallowvision.models import evaluate_selection, save_selection

    with stderr_console().status(
        f"selecting pixels with {method} and retraining {model} on {len(splits.train):,} images"
    ):
        result = evaluate_selection(
            config.method,
            config.keep,
            model,
            splits.train,
            splits.validation,
            random_state=seed,
            n_jobs=n_jobs,
            params=params,
            options=config.selector_options(),
        )
    console = stdout_console()
    all_row = dataclasses.replace(result.all_pixels, model=f"all {result.n_features} pixels")
    kept_row = dataclasses.replace(
        result.kept_pixels, model=f"{result.n_kept} kept pixels ({result.share_kept:.1%})"
    )
    title = (
        f"{result.dataset}: {model} on all pixels and on those {result.method} keeps, trained "
        f"on {result.n_train:,} images, scored on {result.n_eval:,} {result.evaluated_on} images"
    )
    console.print(comparison_table([all_row, kept_row], title))
    console.print(
        f"kept [bold]{result.n_kept}[/bold] of {result.n_features} pixels "
        f"({result.share_kept:.1%}); selection took {fmt(result.selection_seconds, 'seconds')} s; "
        f"accuracy {result.delta['accuracy']:+.4f}, macro F1 {result.delta['f1_macro']:+.4f}"
    )
    if result.image_shape[1] <= _MAX_TEXT_WIDTH:
        console.print("\n".join("".join("#" if v else "." for v in row) for row in result.mask))
    if out is not None:
        written = save_selection(result, out)
        console.print(f"wrote {', '.join(str(p) for p in written.values())}")


def _model_params(items: list[str] | None, model: str) -> dict[str, Any]:
    """``--param n_estimators=50`` (or ``xgb.n_estimators=50``) as the model's parameters."""
    qualified = [
        item if "." in item.partition("=")[0] else f"{model}.{item}" for item in items or []
    ]
    parsed = parse_params(qualified)
    other = sorted(set(parsed) - {model})
    if other:
        raise ConfigError(f"--param names models other than --model {model}: {', '.join(other)}")
    return parsed.get(model, {})
