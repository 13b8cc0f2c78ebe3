"""The prediction service: a FastAPI application around one saved model.

Endpoint annotations must be real objects for FastAPI to read them, so this module
does not postpone the evaluation of annotations.
"""

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import PurePath
from typing import Any

import numpy as np

from shallowvision import __version__
from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.inference import (
    ImageTooLargeError,
    decode_upload,
    images_from_pixels,
    predict_top_k,
    upload_pixels,
)
from shallowvision.persistence import SavedModel, load_model
from shallowvision.serve._schemas import (
    ErrorBody,
    Health,
    ModelInfo,
    PredictResponse,
    predict_request_body,
)

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_QUEUE",
    "create_app",
]

#: Images in one request.
DEFAULT_MAX_BATCH = 64
#: Bytes of one request body.
DEFAULT_MAX_BYTES = 10_000_000
#: Decoded pixels of all the images of one request together (one 4096x4096 image).
DEFAULT_MAX_PIXELS = 4096 * 4096
#: Requests decoding and predicting at once; further ones wait in a queue.
DEFAULT_MAX_CONCURRENT = 2
#: Requests that may wait for their turn; beyond them, 503 with Retry-After.
DEFAULT_MAX_QUEUE = 16
#: Seconds a client has to send its whole body.
DEFAULT_BODY_TIMEOUT = 30.0
_log = logging.getLogger("shallowvision.serve")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp")
_ACCEPTED = ("multipart/form-data", "application/json", *_IMAGE_TYPES)
_TOP_K = 3
_LITERALS = re.compile(rb"\b(true|false|null)\b")


class _Refused(Exception):
    """A request refused with an HTTP status, a short code and a one-line message."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, " ".join(detail.split())
        self.headers = headers


class _Gate:
    """At most ``slots`` requests decode and predict at once, ``queue`` more wait their turn;
    beyond that a request is refused at once (503, Retry-After), before any work."""

    def __init__(self, slots: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._limit = slots + queue
        self._inside = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._inside >= self._limit:
            raise _Refused(
                503,
                "busy",
                f"the service is busy: {self._limit} requests are being answered or waiting "
                "(--max-concurrent, --max-queue); retry in a second",
                headers={"Retry-After": "1"},
            )
        self._inside += 1
        try:
            async with self._slots:
                yield
        finally:
            self._inside -= 1


def _public(value: Any) -> Any:
    """The manifest as ``GET /model`` shows it: an absolute path (where the training data
    or the uncalibrated model lay on the machine that saved it) is cut to its last part."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) for v in value]
    if isinstance(value, str) and (value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value)):
        return PurePath(value.replace("\\", "/")).name
    return value


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(
        status_code=status, content={"error": code, "detail": detail}, headers=headers
    )


def create_app(
    model_path: str | os.PathLike[str],
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    max_queue: int = DEFAULT_MAX_QUEUE,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    trusted: Iterable[str] = (),
    allow_version_mismatch: bool = False,
    expect_sha256: str | None = None,
) -> Any:
    """A FastAPI application serving predictions of the model saved at ``model_path``.

    The model is loaded (and checked: manifest, checksum, trusted types) once, here,
    so a bad model file fails before the server starts.

    Endpoints: ``POST /predict`` (image files as multipart/form-data, one raw
    PNG/JPEG/BMP body, or a JSON array of pixels; one image or a batch),
    ``GET /health``, ``GET /model`` (the model's manifest) and the OpenAPI schema at
    ``/openapi.json``. Bad input is answered with 400, 413, 415 or 422 and a JSON
    body ``{"error": code, "detail": message}``.

    Parameters
    ----------
    model_path : path
        A model file written by :func:`shallowvision.persistence.save_model`.
    max_batch : int
        Most images one request may hold.
    max_bytes : int
        Largest request body accepted, in bytes.
    max_pixels : int
        Most pixels the images of one request may decode to, all together (their headers
        are read first): bounds the memory and time a request can cost, whatever its size
        in bytes. More is answered 413.
    max_concurrent, max_queue : int
        Requests decoding and predicting at once, and requests waiting for their turn;
        a request beyond both is answered 503 with ``Retry-After``.
    body_timeout : float
        Seconds a client has to send its whole body; a slower one is answered 408 and
        its connection closed.
    trusted : iterable of str
        Further types to trust when loading the model.
    allow_version_mismatch : bool
        Load a model saved with other library versions.
    expect_sha256 : str, optional
        Serve the model file only if its SHA-256 is this.

    Returns
    -------
    fastapi.FastAPI
    """
    fastapi = import_optional("fastapi")
    from fastapi import Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    limits = {"max_batch": max_batch, "max_bytes": max_bytes, "max_pixels": max_pixels}
    limits |= {"max_concurrent": max_concurrent}
    for option, value in limits.items():
        if value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    if max_queue < 0 or not body_timeout > 0:
        raise ConfigError(
            "max_queue must be 0 or more and body_timeout a positive number of seconds"
        )
    saved = load_model(
        model_path,
        trusted=trusted,
        allow_version_mismatch=allow_version_mismatch,
        expect_sha256=expect_sha256,
    )
    manifest = _public(saved.manifest)
    gate = _Gate(max_concurrent, max_queue)
    info = ModelInfo(
        name=saved.name,
        version=saved.version,
        estimator=str(manifest.get("estimator", "")),
        created=manifest.get("created"),
        image_shape=saved.image_shape,
        class_names=saved.class_names,
    ).model_dump(mode="json")
    h, w = saved.image_shape
    # Uploads are converted as the model's training images were: colour mode, size, rule.
    conversion = {"color": saved.color, "resize": saved.resize}
    state = {"started": time.monotonic(), "requests": 0}

    app = fastapi.FastAPI(
        title="shallowvision prediction service",
        version=__version__,
        description=f"Predictions of the model {saved.name} ({saved.version}) on {h}x{w} "
        f"{'colour' if saved.color == 'rgb' else 'grayscale'} images; at most {max_batch} images, {max_bytes:,} bytes and "
        f"{max_pixels:,} decoded pixels a request.",
    )

    @app.exception_handler(_Refused)
    async def refused(request: Request, exc: _Refused) -> JSONResponse:
        return _error(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        # Its headers matter: a 405 lists the allowed methods in Allow.
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc.errors()[:3]))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        detail = f"{type(exc).__name__}: {exc}"
        return _error(500, "internal_error", detail)

    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": text}
        for status, text in (
            (400, "Empty body, malformed JSON or multipart data."),
            (408, f"The body did not arrive within {body_timeout:g} s."),
            (
                413,
                f"Body over {max_bytes:,} bytes, images over {max_pixels:,} pixels in all, "
                "or a decompression bomb.",
            ),
            (415, "Not a supported media type, or an upload that is not a PNG/JPEG/BMP image."),
            (
                422,
                f"More than {max_batch} images, or pixels of the wrong shape, not numbers, "
                "NaN or outside 0..255.",
            ),
            (503, "Busy: too many requests being answered or waiting; see Retry-After."),
        )
    }

    @app.get("/health", response_model=Health, summary="Liveness and the model served")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": saved.name,
            "version": saved.version,
            "uptime_seconds": round(time.monotonic() - state["started"], 3),
            "requests": state["requests"],
        }

    @app.get("/model", summary="The model's manifest", response_model=dict[str, Any])
    def model() -> dict[str, Any]:
        return manifest

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=errors,
        summary="Classify one image or a batch",
        openapi_extra={"requestBody": predict_request_body((h, w), max_batch)},
    )
    async def predict(request: Request) -> JSONResponse:
        body = await _read_body(request, max_bytes, body_timeout)
        if not body:
            raise _Refused(400, "empty_body", "the request body is empty; send images or pixels")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _ACCEPTED:
            raise _Refused(
                415,
                "unsupported_media_type",
                f"Content-Type {media or '(none)'} is not accepted; use {', '.join(_ACCEPTED)}",
            )
        async with gate.turn():
            if media == "application/json":
                images = await run_in_threadpool(
                    _images_from_json, body, (h, w), max_batch, conversion["color"]
                )
            else:
                uploads = (
                    await _uploads(request, body, max_batch)
                    if media == "multipart/form-data"
                    else [("<body>", body)]
                )
                images = await run_in_threadpool(
                    _decode_all, uploads, (h, w), max_pixels, conversion
                )
            content = await run_in_threadpool(_answer, saved, images, info)
        state["requests"] += 1
        return JSONResponse(content)

    return app


async def _read_body(request: Any, limit: int, timeout: float) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes,
    or (408) when it has not all arrived within ``timeout`` seconds."""
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length")
    too_large = f"at most {limit:,} bytes are accepted a request (--max-bytes)"
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise _Refused(400, "bad_request", f"invalid Content-Length {declared!r}") from None
        if size > limit:
            raise _Refused(413, "too_large", f"the body is {size:,} bytes; {too_large}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Refused(
                        413, "too_large", f"the body is over {limit:,} bytes; {too_large}"
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(
            408,
            "request_timeout",
            f"the body did not arrive within {timeout:g} s ({size:,} bytes came); "
            "send it at once (--body-timeout)",
            headers={"Connection": "close"},
        ) from None
    except ClientDisconnect:
        # Nobody will read an answer: one line in the log instead of a traceback.
        client = request.client
        where = f"{client.host}:{client.port}" if client else "a client"
        _log.info("%s disconnected after sending %s bytes of its request body", where, f"{size:,}")
        raise _Refused(400, "client_disconnected", "the client disconnected") from None
    return b"".join(chunks)


async def _uploads(request: Any, body: bytes, max_batch: int) -> list[tuple[str, bytes]]:
    """The files of a multipart body (already read and size-checked), in order."""
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, receive).form(max_files=max_batch, max_fields=100)
    except HTTPException as exc:
        if "too many files" in str(exc.detail).lower():
            raise _Refused(422, "too_many_images", _too_many(None, max_batch)) from None
        raise _Refused(400, "malformed_multipart", str(exc.detail)) from None
    try:
        files: list[tuple[str, bytes]] = []
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                raise _Refused(
                    400, "not_a_file", f"form field {key!r} is not a file; send images as files"
                )
            files.append((value.filename or key, await value.read()))
    finally:
        await form.close()
    if not files:
        raise _Refused(400, "empty_body", "the form holds no files; send images as files")
    return files


def _too_many(n: int | None, max_batch: int) -> str:
    got = "more" if n is None else f"{n}"
    return f"{got} images in one request; at most {max_batch} are accepted (--max-batch)"


def _decode_all(
    files: list[tuple[str, bytes]],
    image_shape: tuple[int, int],
    max_pixels: int,
    conversion: dict[str, str],
) -> np.ndarray:
    """Decode every upload, after their headers showed that together they stay within
    ``max_pixels``: 64 blank 4096x4096 PNGs fit in a small body, not in the budget."""
    total = 0
    try:
        for name, data in files:
            total += upload_pixels(data, name=name)
        if total > max_pixels:
            raise ImageTooLargeError(
                f"the images of this request hold {total:,} pixels, more than the "
                f"{max_pixels:,} allowed (--max-pixels)"
            )
        images = [
            decode_upload(
                data, image_shape=image_shape, name=name, max_pixels=max_pixels, **conversion
            )
            for name, data in files
        ]
    except ImageTooLargeError as exc:
        raise _Refused(413, "image_too_large", str(exc)) from None
    except DataError as exc:
        code = "empty_body" if str(exc).endswith(": empty file") else "not_an_image"
        raise _Refused(400 if code == "empty_body" else 415, code, str(exc)) from None
    return np.stack(images)


def _images_from_json(
    body: bytes, image_shape: tuple[int, int], max_batch: int, color: str = "gray"
) -> np.ndarray:
    try:
        values = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _Refused(400, "malformed_json", f"the body is not valid JSON ({exc})") from None
    # NumPy would read true/false as 1/0 next to numbers; a pixel is a number.
    if _LITERALS.search(body):
        raise _Refused(
            422, "invalid_pixels", "every pixel must be a number 0..255, not true, false or null"
        )
    if not isinstance(values, list):
        raise _Refused(
            422,
            "wrong_shape",
            f"expected a JSON array of pixel values, got a JSON {type(values).__name__}",
        )
    h, w = image_shape
    # A batch is a list of images; refuse an oversized one before converting it.
    if len(values) > max_batch and len(values) not in (h, h * w, h * w * 3):
        raise _Refused(422, "too_many_images", _too_many(len(values), max_batch))
    try:
        images = images_from_pixels(values, image_shape=image_shape, color=color)
    except DataError as exc:
        text = str(exc)
        shaped = any(word in text for word in ("shape", "lengths", "no images"))
        code = "wrong_shape" if shaped else "invalid_pixels"
        raise _Refused(422, code, str(exc)) from None
    if len(images) > max_batch:
        raise _Refused(422, "too_many_images", _too_many(len(images), max_batch))
    return images


def _answer(saved: SavedModel, images: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
    predictions = predict_top_k(saved, images, k=_TOP_K)
    key = "probabilities" if predictions.scores_kind == "proba" else "decision_scores"
    rows = predictions.records()
    for row, scores in zip(rows, predictions.scores, strict=True):
        row[key] = scores.tolist()
    return {
        "model": info,
        "score_kind": "probability" if predictions.scores_kind == "proba" else "decision_score",
        "n_images": len(rows),
        "predictions": rows,
    }
