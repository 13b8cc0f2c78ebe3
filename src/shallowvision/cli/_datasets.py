"""``shallowvision datasets`` and ``shallowvision data info``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._common import image_options, print_skipped
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    COLOR,
    IMAGE_SIZE,
    RESIZE,
    ColorOpt,
    DataDirOpt,
    DatasetArg,
    ImageSizeOpt,
    JsonOpt,
    ResizeOpt,
    SkipBadOpt,
)

data_app = typer.Typer(help="Inspect one dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.command("datasets", epilog=example("datasets"))
def datasets_cli(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """List the named datasets: classes, train/test sizes, and where each is available locally."""
    from rich.table import Table

    from shallowvision._console import stdout_console
    from shallowvision.datasets import list_datasets

    rows = list_datasets(data_dir=data_dir)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Datasets", title_justify="left")
    for column, justify in (
        ("name", "left"),
        ("classes", "right"),
        ("train", "right"),
        ("test", "right"),
        ("size", "right"),
        ("local copy", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["n_classes"]),
            f"{row['n_train']:,}",
            f"{row['n_test']:,}",
            _shape(row["image_shape"]),
            str(row["location"]) if row["available"] else "[dim]download on first use[/dim]",
        )
    stdout_console().print(table)


@data_app.command("info", epilog=example("info"))
def data_info_cli(
    dataset: DatasetArg,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="Split(s) to describe; default train and test."),
    ] = None,
    data_dir: DataDirOpt = None,
    color: ColorOpt = COLOR,
    image_size: ImageSizeOpt = IMAGE_SIZE,
    resize: ResizeOpt = RESIZE,
    skip_bad: SkipBadOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Describe a dataset: shapes, class counts, checksum and source of each split."""
    from rich.table import Table

    from shallowvision._console import stdout_console
    from shallowvision.datasets import load

    images = image_options(color, image_size, resize, skip_bad)
    loaded = [load(dataset, s, data_dir=data_dir, **images) for s in (split or ["train", "test"])]
    print_skipped(*loaded)
    infos = [data.describe() for data in loaded]
    if as_json:
        typer.echo(json.dumps(infos, indent=2))
        return
    console = stdout_console()
    first = infos[0]
    console.print(
        f"[bold]{first['name']}[/bold]: {first['n_classes']} classes, {_shape(first['image_shape'])} uint8 images"
    )
    for info in infos:
        console.print(
            f"  {info['split']:<10} {info['n_images']:>8,} images  sha256 {info['sha256']}\n"
            f"  {'':<10} source {info['source']}"
        )
    table = Table(title="Images per class", title_justify="left")
    table.add_column("class")
    for info in infos:
        table.add_column(str(info["split"]), justify="right")
    names = list(first["class_counts"])  # type: ignore[call-overload]
    for name in names:
        table.add_row(name, *(f"{info['class_counts'].get(name, 0):,}" for info in infos))  # type: ignore[attr-defined]
    console.print(table)


def _shape(value: object) -> str:
    """``(28, 28)`` -> ``"28x28"``."""
    return "x".join(str(v) for v in value)  # type: ignore[attr-defined]
