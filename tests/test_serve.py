"""The prediction service: answers equal in-process predictions; bad input gets 4xx with JSON."""

import io
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from conftest import FAST_PARAMS
from shallowvision.inference import predict_top_k, read_inputs
from shallowvision.models import get_model
from shallowvision.persistence import load_model, read_manifest, save_model, training_provenance
from test_cli import EXE

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from shallowvision.serve import PredictResponse, create_app


def _save(name, data, path):
    model = get_model(name, **FAST_PARAMS.get(name, {})).fit(data.X, data.labels)
    return save_model(
        model,
        path,
        class_names=data.class_names,
        image_shape=data.image_shape,
        name=name,
        training_data=training_provenance(data),
    )


@pytest.fixture(scope="module")
def models(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    train = digits.subsample(n_per_class=40, random_state=0)
    return {name: _save(name, train, folder / f"{name}.skops") for name in ("lr", "svm-linear")}


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models["lr"], max_batch=8, max_bytes=50_000)) as c:
        yield c


def image_bytes(pixels, fmt="PNG", size=None):
    img = Image.fromarray(pixels)
    if size:
        img = img.resize(size)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def valid(response):
    """The body conforms to the documented schema (extra keys are refused)."""
    return PredictResponse.model_validate(response.json())


# -- answers ----------------------------------------------------------------------------------
def test_json_single_and_batch_equal_in_process_predictions(client, models, digits):
    saved = load_model(models["lr"])
    images = digits.images[:5]
    expected = saved.estimator.predict_proba(images.reshape(5, -1))
    batch = client.post("/predict", json=images.tolist())
    assert batch.status_code == 200
    body = valid(batch)
    assert body.score_kind == "probability" and body.n_images == 5
    # Floats survive JSON exactly: the service gives the model's own probabilities.
    assert [p.probabilities for p in body.predictions] == expected.tolist()
    assert [p.label for p in body.predictions] == saved.predict(images).tolist()
    assert [p.class_name for p in body.predictions] == [
        digits.class_names[k] for k in saved.predict(images)
    ]
    assert body.model.name == "lr" and body.model.version == saved.version
    assert saved.version.startswith("sha256:") and len(saved.version) == 19
    # One image, as (h, w) or flattened (h*w,); a batch may also be flattened (n, h*w).
    # (A lone image is compared with a lone image: BLAS may round a 1-row product apart.)
    alone = saved.estimator.predict_proba(images[:1].reshape(1, -1))
    for payload in (images[0].tolist(), images[0].ravel().tolist()):
        one = valid(client.post("/predict", json=payload))
        assert one.n_images == 1 and one.predictions[0].probabilities == alone[0].tolist()
    flat = valid(client.post("/predict", json=images.reshape(5, -1).tolist()))
    assert [p.probabilities for p in flat.predictions] == expected.tolist()


def test_uploads_are_converted_like_predict_and_training_folders(client, models, digits, tmp_path):
    saved = load_model(models["lr"])
    # Larger than the model's 8x8 and in colour: resized and converted to grayscale.
    rgb = np.stack([digits.images[3]] * 3, axis=-1)
    files = {
        "a.png": image_bytes(digits.images[0], size=(32, 32)),
        "b.jpeg": image_bytes(rgb, "JPEG", size=(24, 24)),
        "c.bmp": image_bytes(digits.images[7]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    _, images = read_inputs([tmp_path / n for n in files], image_shape=saved.image_shape)
    expected = predict_top_k(saved, images)
    response = client.post(
        "/predict", files=[("file", (n, d, "application/octet-stream")) for n, d in files.items()]
    )
    body = valid(response)
    assert [p.label for p in body.predictions] == expected.labels.tolist()
    assert [p.probabilities for p in body.predictions] == expected.scores.tolist()
    assert body.predictions[0].top[0].probability == pytest.approx(expected.top_scores[0, 0])
    raw = client.post("/predict", content=files["a.png"], headers={"content-type": "image/png"})
    alone = predict_top_k(saved, images[:1]).scores
    assert valid(raw).predictions[0].probabilities == alone[0].tolist()


def test_a_model_without_probabilities_says_it_gives_decision_scores(models, digits):
    saved = load_model(models["svm-linear"])
    with TestClient(create_app(models["svm-linear"])) as c:
        body = valid(c.post("/predict", json=digits.images[:2].tolist()))
    assert body.score_kind == "decision_score"
    assert body.predictions[0].probabilities is None
    assert [p.decision_scores for p in body.predictions] == saved.estimator.decision_function(
        digits.X[:2]
    ).tolist()
    assert body.predictions[0].top[0].score is not None


def test_health_model_and_openapi(client, models):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "lr"
    assert health["version"] == load_model(models["lr"]).version
    assert client.get("/model").json() == read_manifest(models["lr"])
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/bmp",
    }
    assert {"200", "400", "413", "415", "422"} <= set(predict["responses"])
    assert set(schema["paths"]) == {"/predict", "/health", "/model"}


# -- bad input --------------------------------------------------------------------------------
PNG = image_bytes(np.zeros((8, 8), np.uint8))
NAN_IMAGE = b"[" + b",".join([b"NaN"] * 64) + b"]"


def as_json(body):
    return {"content": body, "headers": {"content-type": "application/json"}}


BAD = [
    ("empty body", {"content": b""}, 400, "empty_body"),
    ("empty JSON body", as_json(b""), 400, "empty_body"),
    ("malformed JSON", as_json(b"[1, 2"), 400, "malformed_json"),
    ("deeply nested JSON", as_json(b"[" * 40_000), 400, "malformed_json"),
    ("empty file", {"files": [("file", ("e.png", b"", "image/png"))]}, 400, "empty_body"),
    (
        "form field",
        {"data": {"x": "1"}, "files": [("f", ("a.png", PNG, "image/png"))]},
        400,
        "not_a_file",
    ),
    ("too large", as_json(b"[" + b"0," * 30_000 + b"0]"), 413, "too_large"),
    ("too many images", {"json": [[0] * 64] * 9}, 422, "too_many_images"),
    (
        "too many files",
        {"files": [("file", ("a.png", PNG, "image/png"))] * 9},
        422,
        "too_many_images",
    ),
    (
        "image too large to decode",
        {
            "files": [
                ("file", ("big.png", image_bytes(np.zeros((4100, 4100), np.uint8)), "image/png"))
            ]
        },
        413,
        "image_too_large",
    ),
    (
        "text",
        {"content": b"hello", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    (
        "not an image",
        {"files": [("file", ("a.txt", b"not an image", "text/plain"))]},
        415,
        "not_an_image",
    ),
    ("truncated PNG", {"files": [("file", ("t.png", PNG[:40], "image/png"))]}, 415, "not_an_image"),
    (
        "GIF",
        {
            "files": [
                ("file", ("g.gif", image_bytes(np.zeros((8, 8), np.uint8), "GIF"), "image/gif"))
            ]
        },
        415,
        "not_an_image",
    ),
    ("wrong shape", {"json": [[1, 2], [3, 4]]}, 422, "wrong_shape"),
    ("ragged rows", {"json": [[0] * 8] * 7 + [[0] * 7]}, 422, "wrong_shape"),
    ("empty array", {"json": []}, 422, "wrong_shape"),
    ("JSON object", {"json": {"pixels": [0] * 64}}, 422, "wrong_shape"),
    ("NaN pixels", as_json(NAN_IMAGE), 422, "invalid_pixels"),
    ("infinite pixels", as_json(NAN_IMAGE.replace(b"NaN", b"1e400")), 422, "invalid_pixels"),
    ("negative pixels", {"json": [-1] * 64}, 422, "invalid_pixels"),
    ("pixels over 255", {"json": [256] * 64}, 422, "invalid_pixels"),
    ("huge integers", {"json": [10**30] * 64}, 422, "invalid_pixels"),
    ("fractional pixels", {"json": [0.5] * 64}, 422, "invalid_pixels"),
    ("strings", {"json": ["0"] * 64}, 422, "invalid_pixels"),
    ("null", {"json": [None] * 64}, 422, "invalid_pixels"),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_4xx_and_a_json_error(client, case, request_kwargs, status, code):
    response = client.post("/predict", **request_kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == code
    assert body["detail"] and "\n" not in body["detail"]


def test_a_streamed_body_is_cut_at_the_limit(client):
    sent = []

    def chunks():
        for _ in range(100):
            sent.append(1)
            yield b"0," * 1000

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_other_errors_are_json_too(client):
    assert client.get("/nope").json() == {"error": "not_found", "detail": "Not Found"}
    assert client.get("/predict").status_code == 405
    assert client.get("/predict").json()["error"] == "method_not_allowed"


def test_a_bad_model_file_fails_before_serving(tmp_path):
    from shallowvision.persistence import ModelFileError

    (tmp_path / "x.skops").write_bytes(b"PK not a model")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        create_app(tmp_path / "x.skops")


# -- the console script on a real port --------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_console_script_serves_on_127_0_0_1(models, digits):
    # Takes a few seconds: the script imports scikit-learn (skops' trusted types) first.
    import httpx2

    port = free_port()
    process = subprocess.Popen(
        [EXE, "serve", str(models["lr"]), "--port", str(port), "--max-batch", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                health = httpx2.get(f"{base}/health", timeout=1)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert health.json()["model"] == "lr"
        files = [
            ("file", (f"{i}.png", image_bytes(digits.images[i]), "image/png")) for i in range(3)
        ]
        body = httpx2.post(f"{base}/predict", files=files, timeout=10).json()
        saved = load_model(models["lr"])
        assert [p["label"] for p in body["predictions"]] == saved.predict(
            digits.images[:3]
        ).tolist()
        too_many = httpx2.post(f"{base}/predict", json=digits.images[:5].tolist(), timeout=10)
        assert too_many.status_code == 422
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"serving {models['lr']} on http://127.0.0.1:{port}" in " ".join(stderr.split())


def test_serve_refuses_a_bad_model_in_one_line(tmp_path, capsys):
    from shallowvision.cli import main

    (tmp_path / "x.skops").write_bytes(b"junk")
    assert main(["serve", str(tmp_path / "x.skops"), "--port", str(free_port())]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        err == f"error: {tmp_path / 'x.skops'}: not a readable model file (File is not a zip file)"
    )
