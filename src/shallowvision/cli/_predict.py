"""``shallowvision predict``: the classes of new images, by a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision._io import write_table
from shallowvision.cli._app import app
from shallowvision.cli._common import (
    check_out_path,
)
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    AllowVersionMismatchOpt,
    ExpectSha256Opt,
    ModelFileArg,
)


@app.command("predict", epilog=example("predict"))
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
    names, images = read_inputs(
        list(inputs), image_shape=saved.image_shape, color=saved.color, resize=saved.resize
    )
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
