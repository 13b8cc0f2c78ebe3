"""``shallowvision serve``: predictions over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision.cli._app import app
from shallowvision.cli._options import AllowVersionMismatchOpt


@app.command("serve")
def serve_cli(
    model: Annotated[Path, typer.Argument(help="A model file (.skops) saved by shallowvision.")],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    max_batch: Annotated[
        int | None,
        typer.Option("--max-batch", min=1, help="Most images one request may hold [default: 64]."),
    ] = None,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes", min=1, help="Largest request body, in bytes [default: 10000000]."
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
) -> None:
    """Serve a saved model over HTTP: POST /predict, GET /health, GET /model, /docs."""
    from shallowvision._console import stderr_console
    from shallowvision._optional import import_optional
    from shallowvision.serve import create_app

    uvicorn = import_optional("uvicorn")
    # The model is loaded and checked before the port is opened.
    limits: dict[str, Any] = {"max_batch": max_batch, "max_bytes": max_bytes}
    application = create_app(
        model,
        allow_version_mismatch=allow_version_mismatch,
        **{key: value for key, value in limits.items() if value is not None},
    )
    stderr_console().print(
        f"serving {model} on http://{host}:{port} (POST /predict, GET /health, GET /model, /docs)"
    )
    uvicorn.run(
        application, host=host, port=port, access_log=access_log, log_level="info", workers=1
    )
