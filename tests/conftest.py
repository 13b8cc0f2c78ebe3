"""Shared fixtures: an isolated cache, small real data, and writers of the official file formats."""

from __future__ import annotations

import gzip
import importlib.util
import os
import signal
import struct
from pathlib import Path

import numpy as np
import pytest

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own dataset cache and no user data dir."""
    os.environ["SHALLOWVISION_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.pop("SHALLOWVISION_DATA", None)
    os.environ.pop("SHALLOWVISION_MIRROR", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # pytest-xdist's workers inherit COLUMNS=80 and LINES=24, so the commands the tests run
    # would wrap their piped output at 80 columns as no pipe does; tests that need a width
    # set COLUMNS themselves.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


def fashion_available() -> bool:
    return (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file()


CHROMIUM = Path("/usr/bin/chromium")


def browser_available() -> bool:
    import importlib.util

    return CHROMIUM.is_file() and importlib.util.find_spec("playwright") is not None


def launch_chromium(playwright):
    """Debian's Chromium, headless, with nothing of its own reaching the network."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


#: The longest test modules, longest first (their tests and fixtures, 60-200 s each on 2
#: cores, from ``pytest -n 2 --dist loadfile --durations=0``). `make test` hands whole
#: modules to its two processes in the order collected (``--no-loadscope-reorder``):
#: with these first, the last modules to finish are short, and neither process waits
#: minutes for the other at the end. pytest-xdist's own order, most tests first, left
#: these few-but-long modules for last.
LONGEST_FIRST = (
    "test_dask_data",
    "test_cli_ensemble_explain",
    "test_budget",
    "test_tracking",
    "test_run_kill",
    "test_cli_models",
    "test_dask",
    "test_run_hostile",
    "test_hostile",
    "test_report_layout",
    "test_faults",
    "test_cli",
    "test_run",
    "test_report_compare",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # the rest as collected
    # In CI (SHALLOWVISION_STRICT=1) nothing may skip: a missing dependency is a failure.
    if os.environ.get("SHALLOWVISION_STRICT") == "1":
        return
    missing = {
        "fashion": (
            fashion_available(),
            "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
        ),
        "browser": (
            browser_available(),
            "Chromium or playwright not installed (make test installs both)",
        ),
        "mlflow": (
            importlib.util.find_spec("mlflow") is not None,
            "mlflow not installed (pip install 'shallowvision[mlflow]')",
        ),
    }
    for item in items:
        for marker, (available, reason) in missing.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=reason))


# -- writers of the official formats ----------------------------------------------------------
_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The bytes of an IDX file holding ``array`` (big-endian, as the format requires)."""
    kind = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = struct.pack(">HBB", 0, _IDX_CODES[kind], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(kind).tobytes()


def write_idx(path: Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    data = idx_bytes(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


#: Smaller settings of the slower zoo models, so tests on tiny data stay fast.
FAST_PARAMS: dict[str, dict[str, object]] = {
    "svm-rbf-approx": {"rbf__n_components": 50},
    "rf": {"n_estimators": 20},
    "et": {"n_estimators": 20},
    "ada": {"n_estimators": 20},
    "hgb": {"max_iter": 20},
    "xgb": {"n_estimators": 20},
    "lgbm": {"n_estimators": 20},
}


@pytest.fixture(scope="session")
def digits():
    from shallowvision.datasets import load

    return load("digits")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """The folder of a whole study of the digits (four models, one tuned), with its report.

    Tests only read it, so the test processes of ``pytest -n`` share one: the first to
    ask runs the study (20-40 s) in their common temporary folder, the others wait for it.
    """
    import fcntl

    from shallowvision.run import build_config, run_study

    overrides = {
        "data": {"dataset": "digits", "n_per_class": None},
        "compare": {"models": ["dummy", "lr", "nb", "knn"]},
        "tune": {"top": 1, "n_candidates": 4},
    }
    if "PYTEST_XDIST_WORKER" not in os.environ:
        out = tmp_path_factory.mktemp("runs")
        return run_study(build_config(overrides=overrides), out_dir=out, run_id="r")
    shared = tmp_path_factory.getbasetemp().parent / "digits-run"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "r" / "report.html").is_file():
            run_study(build_config(overrides=overrides), out_dir=shared, run_id="r")
    return shared / "r"


@pytest.fixture(scope="session")
def digits_model(digits):
    """A logistic regression fitted on 75% of the digits training split, with the held-out
    25% as a calibration split and the official test split to evaluate on."""
    from types import SimpleNamespace

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from shallowvision.datasets import load
    from shallowvision.features import PixelScaler

    train, calibration = digits.split_off(0.25, random_state=0, name="calibration")
    test = load("digits", "test")
    model = make_pipeline(PixelScaler(), LogisticRegression(max_iter=2000))
    model.fit(train.X, train.labels)
    return SimpleNamespace(
        model=model,
        train=train,
        calibration=calibration,
        test=test,
        proba=model.predict_proba(test.X),
        y=test.labels,
        class_names=test.class_names,
    )


def synthetic_47(n_per_class: int, *, seed: int, split: str = "train"):
    """47 classes (as EMNIST-Balanced) of 8x8 images: a fixed random prototype per class plus noise."""
    from shallowvision.datasets import ImageSet

    prototypes = np.random.default_rng(47).integers(0, 256, size=(47, 8, 8))
    labels = np.repeat(np.arange(47), n_per_class)
    noise = np.random.default_rng(seed).normal(0, 40, size=(len(labels), 8, 8))
    images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
    names = tuple(f"c{i}" for i in range(47))
    return ImageSet(images, labels, names, name="synthetic-47", split=split)


@pytest.fixture(scope="session")
def classes_47():
    """Train (10 per class) and validation (4 per class) splits of 47 synthetic classes."""
    return synthetic_47(10, seed=1), synthetic_47(4, seed=2, split="validation")


@pytest.fixture
def small_arrays() -> tuple[np.ndarray, np.ndarray]:
    """60 random 6x5 uint8 images in 3 classes (20 each)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 6, 5), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 20)
    return images, labels


# -- a local HTTP server for download tests (127.0.0.1 only) ----------------------------------
class _Files(dict):
    """URL path -> bytes; a value of ("truncate", data) announces len(data) but sends half."""


@pytest.fixture
def http_server():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = _Files()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            entry = files.get(self.path)
            if entry is None:
                self.send_error(404)
                return
            truncate = isinstance(entry, tuple)
            data = entry[1] if truncate else entry
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if truncate else data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.files = files
    server.requests = requests
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def default_sigint() -> None:
    """``preexec_fn`` for a child the test interrupts: SIGINT back to its default.

    A suite started in the background by a non-interactive shell runs with SIGINT
    ignored, and children inherit that, so Python would not raise KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
