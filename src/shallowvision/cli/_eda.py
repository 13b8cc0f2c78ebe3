"""``shallowvision eda``: explore a dataset; write ``eda.json``, ``summary.txt`` and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._common import image_options
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    COLOR,
    IMAGE_SIZE,
    RESIZE,
    SEED,
    ColorOpt,
    DataDirOpt,
    DatasetArg,
    ImageSizeOpt,
    NPerClassOpt,
    ResizeOpt,
    SeedOpt,
    SkipBadOpt,
)


@app.command("eda", epilog=example("eda"))
def eda_cli(
    dataset: DatasetArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for eda.json, summary.txt and the PNG figures (created if missing).",
        ),
    ],
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
    n_per_class: NPerClassOpt = None,
    compare_class: Annotated[
        str | None,
        typer.Option(
            "--compare-class",
            help="Class whose mean image is drawn against every other class's (8 or Shirt); "
            "default: one of the two classes with the most similar means.",
        ),
    ] = None,
    seed: SeedOpt = SEED,
    near_threshold: Annotated[
        float,
        typer.Option(
            "--near-threshold",
            min=0.01,
            help="Near duplicates: largest RMS pixel difference, in grey levels (0-255).",
        ),
    ] = 6.0,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")
    ] = True,
) -> None:
    """Explore a dataset and print what stands out.

    Class balance, ink statistics, mean and variance images, class differences,
    samples, PCA, duplicates and atypical images; colour images per channel too."""
    from shallowvision._console import stderr_console, stdout_console
    from shallowvision.eda import explore_dataset

    images = image_options(color, image_size, resize, skip_bad)
    console = stderr_console()
    with console.status("loading") as status:
        result, written = explore_dataset(
            dataset,
            out,
            data_dir=data_dir,
            n_per_class=n_per_class,
            compare_class=compare_class,
            random_state=seed,
            near_threshold=near_threshold,
            figures=figures,
            on_step=status.update,
            **images,
        )
    stdout = stdout_console()
    for line in result.findings():
        stdout.print(f"- {line}", soft_wrap=True, markup=False)
    n_figures = len(written) - 2
    console.print(f"wrote eda.json, summary.txt and {n_figures} figures to {out}", markup=False)
