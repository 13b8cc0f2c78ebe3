"""``shallowvision explain``: SHAP and importance images of a saved model on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    SEED,
    DataDirOpt,
    DatasetArg,
    ModelSeedOpt,
    ModelValidationOpt,
    NPerClassOpt,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import fmt
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import ExplainConfig


@app.command("explain", epilog=example("explain"))
def explain_cli(
    model: Annotated[Path, typer.Argument(help="A model file (.skops) saved by shallowvision.")],
    dataset: DatasetArg,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for explanation.json and the PNG figures.")
    ],
    split: Annotated[
        str, typer.Option("--split", help="Images to explain: test, validation or train.")
    ] = "test",
    n_per_class: NPerClassOpt = None,
    n_explain: Annotated[
        int | None,
        typer.Option(
            "--n-explain",
            help="Images whose SHAP values are averaged (default 200, fewer for large forests).",
        ),
    ] = None,
    n_background: Annotated[
        int,
        typer.Option(
            "--n-background",
            help="Background images (linear and model-agnostic explainers).",
        ),
    ] = default(ExplainConfig, "n_background"),
    index: Annotated[
        list[int] | None,
        typer.Option("--index", help="An image to explain and draw, by index; repeatable."),
    ] = None,
    n_misclassified: Annotated[
        int,
        typer.Option(
            "--n-misclassified", min=0, help="Most confidently misclassified images drawn."
        ),
    ] = 8,
    permutation: Annotated[
        bool,
        typer.Option("--permutation/--no-permutation", help="Compute permutation importance."),
    ] = True,
    n_permutation: Annotated[
        int, typer.Option("--n-permutation", help="Images of permutation importance.")
    ] = default(ExplainConfig, "n_permutation"),
    n_repeats: Annotated[
        int, typer.Option("--n-repeats", min=1, help="Shuffles per pixel (permutation).")
    ] = 1,
    max_evals: Annotated[
        int,
        typer.Option(
            "--max-evals", min=10, help="Model calls per image (model-agnostic explainer)."
        ),
    ] = 500,
    validation_size: ModelValidationOpt = None,
    seed: ModelSeedOpt = None,
    allow_version_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-version-mismatch", help="Load a model saved with other library versions."
        ),
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Explain a saved model on a dataset, in pixel space.

    Writes explanation.json and PNGs into --out: mean |SHAP| per class, SHAP overlays of
    chosen and misclassified images, permutation and impurity importance images.
    """
    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.explain import explain_model, save_explanation
    from shallowvision.inference import load_for_model
    from shallowvision.persistence import load_model

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out must be a folder")
    config = build_section(
        ExplainConfig,
        {
            "n_explain": "--n-explain",
            "n_background": "--n-background",
            "n_permutation": "--n-permutation",
        },
        n_explain=n_explain,
        n_background=n_background,
        n_permutation=n_permutation,
    )
    saved = load_model(model, allow_version_mismatch=allow_version_mismatch)
    data = load_for_model(
        saved,
        dataset,
        split,
        # --split train explains the whole training split, validation images included.
        validation_size=validation_size if split == "validation" else None,
        n_per_class=n_per_class,
        random_state=seed,
        data_dir=data_dir,
    )
    with stderr_console().status(f"explaining {saved.name} on {len(data):,} {data.split} images"):
        explanation = explain_model(
            saved,
            data,
            name=saved.name,
            n_explain=config.n_explain,
            n_background=config.n_background,
            indices=index or (),
            n_misclassified=n_misclassified,
            permutation=permutation,
            n_permutation=config.n_permutation,
            n_repeats=n_repeats,
            max_evals=max_evals,
            random_state=SEED if seed is None else seed,
        )
        written = save_explanation(explanation, out)
    e = explanation
    seconds = ", ".join(f"{k} {fmt(v, 'seconds')} s" for k, v in e.seconds.items())
    stdout_console().print(
        f"[bold]{e.model}[/bold] on {e.n_images:,} {e.dataset} {e.split} images: "
        f"{e.explainer} SHAP ({e.output_space}) on {e.n_explain} images + "
        f"{len(e.images)} drawn; base value + contributions = model output within "
        f"{e.additivity_error:.1e}\n{seconds}\nwrote {len(written)} files to {out}: "
        + ", ".join(p.name for p in written.values())
    )
