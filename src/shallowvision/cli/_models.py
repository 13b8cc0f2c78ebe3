"""``shallowvision models``: the model zoo, and what each member needs."""

from __future__ import annotations

import json
from typing import Any

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    JsonOpt,
)


@app.command("models", epilog=example("models"))
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
