"""The prediction service against amplification: pixels, concurrency, slow bodies, bombs."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
import subprocess
import threading
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import FAST_PARAMS
from shallowvision.models import get_model
from shallowvision.persistence import save_model, training_provenance
from test_cli import EXE, cli
from test_hostile import one_error_line

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from shallowvision.serve import create_app


@pytest.fixture(scope="module")
def model_path(digits, tmp_path_factory):
    train = digits.subsample(n_per_class=30, random_state=0)
    model = get_model("lr", **FAST_PARAMS.get("lr", {})).fit(train.X, train.labels)
    provenance = training_provenance(train) | {"source": "/home/someone/private/digits.csv"}
    return save_model(
        model,
        tmp_path_factory.mktemp("m") / "lr.skops",
        class_names=train.class_names,
        image_shape=train.image_shape,
        name="lr",
        training_data=provenance,
        extra={"calibration": {"model_file": "/srv/models/base.skops"}},
    )


def png(pixels: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", **options)
    return buf.getvalue()


def files(*images: bytes):
    return [("file", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, extra: bytes = b"") -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (the data need not follow)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IEND", b"")


# -- decoded pixels, not bytes ------------------------------------------------------------------
def test_many_small_pngs_of_huge_images_are_refused_before_decoding(model_path):
    blank = png(np.zeros((512, 512), np.uint8))
    assert len(blank) < 2000  # a few hundred bytes for a quarter of a million pixels
    with TestClient(create_app(model_path, max_pixels=1_000_000)) as client:
        start = time.perf_counter()
        refused = client.post("/predict", files=files(*[blank] * 8))
        assert time.perf_counter() - start < 2
        assert refused.status_code == 413 and refused.json()["error"] == "image_too_large"
        assert refused.json()["detail"] == (
            "the images of this request hold 2,097,152 pixels, more than the 1,000,000 "
            "allowed (--max-pixels)"
        )
        assert client.post("/predict", files=files(*[blank] * 3)).status_code == 200


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("header beyond Pillow's bomb limit", png_with_header(20_000, 20_000)),
        (
            "compressed text chunk",
            png_with_header(8, 8, chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b" " * 2**22))),
        ),
    ],
)
def test_decompression_bombs_get_413(model_path, name, data):
    with TestClient(create_app(model_path)) as client:
        response = client.post("/predict", files=files(data))
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "image_too_large"
    assert (
        "decompression bomb refused" in response.json()["detail"]
        or "pixels" in response.json()["detail"]
    )


def test_16_bit_images_convert_as_before_in_bounded_memory():
    from shallowvision.datasets._readers import decode_image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 65535, size=(2048, 2048), dtype=np.uint16)
    data = png(pixels)
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        as_before = np.round(np.asarray(img, np.float64) / pixels.max() * 255).astype(np.uint8)
    tracemalloc.start()
    gray = decode_image(data, None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.array_equal(gray, as_before)
    # 4 MB of 16-bit pixels: NumPy used to hold three float64 copies (96 MB) at once.
    assert peak < 24 * 2**20, peak


# -- concurrency: a queue, then 503 ---------------------------------------------------------------
def test_the_gate_queues_then_refuses_with_retry_after():
    from shallowvision.serve._app import _Gate, _Refused

    async def scenario():
        gate = _Gate(1, 1)
        entered = asyncio.Event()
        release = asyncio.Event()

        async def hold():
            async with gate.turn():
                entered.set()
                await release.wait()

        first = asyncio.create_task(hold())
        await entered.wait()
        second = asyncio.create_task(hold())  # waits its turn in the queue
        await asyncio.sleep(0)
        with pytest.raises(_Refused) as refused:
            async with gate.turn():
                pass
        release.set()
        await asyncio.gather(first, second)
        async with gate.turn():  # free again
            pass
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.status == 503 and refused.headers == {"Retry-After": "1"}


def test_busy_service_answers_503_while_predictions_run(model_path, digits, monkeypatch):
    import shallowvision.serve._app as app_module

    release = threading.Event()
    answer = app_module._answer

    def slow_answer(*args):
        release.wait(10)
        return answer(*args)

    monkeypatch.setattr(app_module, "_answer", slow_answer)
    body = json.dumps(digits.images[0].tolist())
    headers = {"content-type": "application/json"}
    with TestClient(create_app(model_path, max_concurrent=1, max_queue=1)) as client:
        statuses = []

        def post():
            statuses.append(client.post("/predict", content=body, headers=headers).status_code)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # one predicts, one waits
        busy = client.post("/predict", content=body, headers=headers)
        release.set()
        for t in threads:
            t.join()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"] == "busy"
    assert sorted(statuses) == [200, 200]


# -- what GET /model shows ------------------------------------------------------------------------
def test_model_endpoint_hides_absolute_paths(model_path):
    with TestClient(create_app(model_path)) as client:
        shown = client.get("/model").json()
    assert shown["training_data"]["source"] == "digits.csv"
    assert shown["calibration"]["model_file"] == "base.skops"
    assert "/home/" not in json.dumps(shown) and "/srv/" not in json.dumps(shown)


def test_limits_are_checked_when_the_app_is_made(model_path):
    from shallowvision import ConfigError

    with pytest.raises(ConfigError, match="max_pixels must be at least 1, got 0"):
        create_app(model_path, max_pixels=0)


# -- the console script on a real port --------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_a_busy_port_or_a_foreign_address_is_one_line(model_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line(cli("serve", str(model_path), "--port", str(port)))
        assert line == f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"
    # 192.0.2.1 is reserved for documentation: never an address of this machine.
    line = one_error_line(cli("serve", str(model_path), "--host", "192.0.2.1", "--port", "8000"))
    assert line == "error: cannot listen on 192.0.2.1:8000 (Cannot assign requested address)"


@pytest.mark.slow
def test_stalled_and_vanishing_clients_cost_a_line_each(model_path):
    port = free_port()
    server = subprocess.Popen(
        [EXE, "serve", str(model_path), "--port", str(port), "--body-timeout", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        head = (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        # A client that stalls mid-body gets 408 and its connection closed.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stalled.sendall(head + b"[1, 2, 3")
            start = time.monotonic()
            answer = b""
            while chunk_ := stalled.recv(4096):
                answer += chunk_
            waited = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b'"error":"request_timeout"' in answer and 0.5 < waited < 8
        # Clients that vanish mid-body: one line each in the log, no traceback.
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as gone:
                gone.sendall(head + b"[1, 2")
        time.sleep(1)
    finally:
        server.send_signal(2)
        _, log = server.communicate(timeout=30)
    assert "Traceback" not in log, log
    assert log.count("disconnected after sending 5 bytes of its request body") == 3, log
