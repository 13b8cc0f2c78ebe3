"""``shallowvision serve``: predictions over HTTP."""

from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example
from shallowvision.cli._options import AllowVersionMismatchOpt, ExpectSha256Opt
from shallowvision.exceptions import ConfigError


@app.command("serve", epilog=example("serve"))
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
    max_pixels: Annotated[
        int | None,
        typer.Option(
            "--max-pixels",
            min=1,
            help="Most decoded pixels of all the images of one request [default: 16777216, "
            "one 4096x4096 image].",
        ),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            min=1,
            help="Requests decoding and predicting at once [default: 2].",
        ),
    ] = None,
    max_queue: Annotated[
        int | None,
        typer.Option(
            "--max-queue",
            min=0,
            help="Requests waiting for their turn; beyond, 503 with Retry-After [default: 16].",
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(
            "--body-timeout",
            min=0.1,
            help="Seconds a client has to send its whole body; then 408 [default: 30].",
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
    expect_sha256: ExpectSha256Opt = None,
) -> None:
    """Serve a saved model over HTTP: POST /predict, GET /health, GET /model, /docs."""
    from shallowvision._console import stderr_console
    from shallowvision._optional import import_optional
    from shallowvision.serve import create_app

    uvicorn = import_optional("uvicorn")
    # The model is loaded and checked, and the address taken, before anything is served.
    limits: dict[str, Any] = {
        "max_batch": max_batch,
        "max_bytes": max_bytes,
        "max_pixels": max_pixels,
        "max_concurrent": max_concurrent,
        "max_queue": max_queue,
        "body_timeout": body_timeout,
    }
    application = create_app(
        model,
        allow_version_mismatch=allow_version_mismatch,
        expect_sha256=expect_sha256,
        **{key: value for key, value in limits.items() if value is not None},
    )
    listening = _listen(host, port)
    # The service's own notes (a client gone mid-body) in the server's log, one line each.
    log = logging.getLogger("shallowvision.serve")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    stderr_console().print(
        f"serving {model} on http://{host}:{port} (POST /predict, GET /health, GET /model, /docs)"
    )
    config = uvicorn.Config(
        application, access_log=access_log, log_level="info", workers=1, timeout_graceful_shutdown=5
    )
    # uvicorn shuts down cleanly on Ctrl-C or SIGTERM, then raises the signal again.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line error: a host that does not
    resolve, an address of another machine, a port in use or one that needs privileges."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r}: not an address of this machine ({exc})") from None
    listening = socket.socket(family, kind, proto)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port} ({reason})") from None
    return listening
