"""The dataset readers fuzzed with Hypothesis: random, truncated and mutated files raise DataError only.

Each test is deterministic (``derandomize=True``) and bounded by ``max_examples``
(``SHALLOWVISION_FUZZ_EXAMPLES``, 150 by default; benchmarks/RESULTS.md records a
deeper run). A reader may also succeed on a mutated file that is still valid; what
it may never do is raise anything but :class:`DataError`.
"""

import gzip
import io
import os
import zipfile
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from conftest import idx_bytes
from shallowvision import DataError
from shallowvision.datasets import (
    decode_image,
    read_csv,
    read_emnist_zip,
    read_idx,
    read_image_folder,
    read_npz,
)
from shallowvision.inference import decode_upload, images_from_pixels

EXAMPLES = int(os.environ.get("SHALLOWVISION_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: How many inputs each test tried (reported by the deep run in RESULTS.md).
TRIED: dict[str, int] = {}


def tried(name):
    TRIED[name] = TRIED.get(name, 0) + 1


def only_data_errors(read, *args, **kwargs):
    """Call a reader; it may succeed or raise DataError, nothing else."""
    try:
        return read(*args, **kwargs)
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return None


# -- valid files to damage --------------------------------------------------------------------
rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, size=(6, 5, 5), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 0, 1, 2], np.uint8)
IDX = idx_bytes(IMAGES)
IDX_GZ = gzip.compress(IDX, mtime=0)
CSV = (
    "label,"
    + ",".join(f"pixel{i + 1}" for i in range(25))
    + "\n"
    + "".join(
        f"{lab}," + ",".join(map(str, img.ravel())) + "\n"
        for img, lab in zip(IMAGES, LABELS, strict=True)
    )
).encode()


def emnist_zip_bytes(compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        stored = np.ascontiguousarray(IMAGES.transpose(0, 2, 1))
        archive.writestr(
            "gzip/emnist-digits-train-images-idx3-ubyte.gz",
            gzip.compress(idx_bytes(stored), mtime=0),
        )
        archive.writestr(
            "gzip/emnist-digits-train-labels-idx1-ubyte.gz",
            gzip.compress(idx_bytes(LABELS), mtime=0),
        )
    return buf.getvalue()


ZIP = emnist_zip_bytes()
ZIP_DEFLATED = emnist_zip_bytes(zipfile.ZIP_DEFLATED)


def npz_bytes():
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=IMAGES, y_train=LABELS)
    return buf.getvalue()


NPZ = npz_bytes()


def image_file(fmt):
    buf = io.BytesIO()
    Image.fromarray(IMAGES[0]).save(buf, format=fmt)
    return buf.getvalue()


IMAGE_FILES = {fmt: image_file(fmt) for fmt in ("PNG", "JPEG", "BMP")}


@st.composite
def damaged(draw, valid: bytes):
    """A valid file truncated, with bytes overwritten, inserted or deleted."""
    data = bytearray(valid)
    kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete", "mixed"]))
    if kind in ("overwrite", "mixed"):
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    if kind in ("insert", "mixed"):
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=16))
    if kind == "delete":
        i = draw(st.integers(0, len(data) - 1))
        del data[i : i + draw(st.integers(1, 16))]
    if kind in ("truncate", "mixed"):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


# -- IDX ---------------------------------------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=512))
def test_idx_random_bytes(data):
    tried("idx random bytes")
    only_data_errors(read_idx, data)
    only_data_errors(read_idx, b"\x1f\x8b" + data)  # claims to be gzip


@FUZZ
@given(data=st.one_of(damaged(IDX), damaged(IDX_GZ)))
def test_idx_truncated_and_mutated(data, tmp_path):
    tried("idx truncated/mutated")
    path = tmp_path / "x-images-idx3-ubyte.gz"
    path.write_bytes(data)
    only_data_errors(read_idx, path)


@FUZZ
@example(code=0x08, shape=[1] * 70, payload=b"x")  # more dimensions than NumPy allows
@example(code=0x0E, shape=[2**32 - 1] * 3, payload=b"")  # a size past int64
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    shape=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=80),
    payload=st.binary(max_size=64),
)
def test_idx_headers_with_any_shape(code, shape, payload):
    tried("idx any header")
    header = bytes([0, 0, code, len(shape)]) + b"".join(int(s).to_bytes(4, "big") for s in shape)
    only_data_errors(read_idx, header + payload)


# -- EMNIST zip --------------------------------------------------------------------------------
@FUZZ
@given(data=st.one_of(st.binary(max_size=512), damaged(ZIP), damaged(ZIP_DEFLATED)))
def test_emnist_zip_random_truncated_and_mutated(data, tmp_path):
    tried("emnist zip")
    path = tmp_path / "gzip.zip"
    path.write_bytes(data)
    only_data_errors(read_emnist_zip, path, "digits", "train")


# -- CSV ---------------------------------------------------------------------------------------
@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=512),
        damaged(CSV),
        st.text(alphabet='0123456789,-.\n\r \tlabe"x', max_size=400).map(str.encode),
    ),
    chunk_rows=st.sampled_from([1, 4, 4096]),
    compress=st.booleans(),
)
def test_csv_random_truncated_and_mutated(data, chunk_rows, compress, tmp_path):
    tried("csv")
    path = tmp_path / "train.csv"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    only_data_errors(read_csv, path, chunk_rows=chunk_rows)


@FUZZ
@given(data=damaged(gzip.compress(CSV, mtime=0)))
def test_csv_damaged_gzip(data, tmp_path):
    tried("csv gzip damaged")
    path = tmp_path / "train.csv.gz"
    path.write_bytes(data)
    only_data_errors(read_csv, path)


# -- NPZ ---------------------------------------------------------------------------------------
@FUZZ
@given(data=st.one_of(st.binary(max_size=512), damaged(NPZ)))
def test_npz_random_truncated_and_mutated(data, tmp_path):
    tried("npz")
    path = tmp_path / "d.npz"
    path.write_bytes(data)
    only_data_errors(read_npz, path, "train")


ANY_ARRAY = hnp.arrays(
    dtype=st.one_of(
        hnp.integer_dtypes(),
        hnp.unsigned_integer_dtypes(),
        hnp.floating_dtypes(),
        hnp.complex_number_dtypes(),
        hnp.boolean_dtypes(),
        hnp.datetime64_dtypes(),
        hnp.byte_string_dtypes(max_len=3),
        hnp.unicode_string_dtypes(max_len=3),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)


@FUZZ
@given(images=ANY_ARRAY, labels=ANY_ARRAY)
def test_npz_any_arrays(images, labels, tmp_path):
    tried("npz any arrays")
    path = tmp_path / "d.npz"
    np.savez(path, x_train=images, y_train=labels)
    only_data_errors(read_npz, path, "train")


# -- image files -------------------------------------------------------------------------------
@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=512),
        *(damaged(v) for v in IMAGE_FILES.values()),
    ),
    size=st.sampled_from([None, (28, 28)]),
)
def test_image_bytes_random_truncated_and_mutated(data, size):
    tried("image files")
    only_data_errors(decode_image, data, size)
    only_data_errors(decode_upload, data, image_shape=(8, 8))


@FUZZ
@given(data=st.one_of(*(damaged(v) for v in IMAGE_FILES.values())))
def test_image_folder_with_a_damaged_file(data, tmp_path):
    tried("image folder")
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir(exist_ok=True)
        (tmp_path / cls / "ok.png").write_bytes(IMAGE_FILES["PNG"])
    (tmp_path / "b" / "x.png").write_bytes(data)
    only_data_errors(read_image_folder, tmp_path)


# -- pixels sent as JSON -----------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=3),
    ),
    partial(st.lists, max_size=6),
    max_leaves=80,
)


@FUZZ
@given(
    values=st.one_of(
        JSON_VALUES, st.lists(st.lists(st.integers(-5, 300), min_size=4, max_size=4), max_size=6)
    )
)
def test_pixels_any_json_value(values):
    tried("pixels")
    images = only_data_errors(images_from_pixels, values, image_shape=(2, 2))
    if images is not None:
        assert images.dtype == np.uint8 and images.shape[1:] == (2, 2)


@pytest.fixture(autouse=True, scope="session")
def _report_inputs_tried():
    # Session-scoped: written once at the very end, with the counts of every module
    # that uses tried() (the model-file fuzzing in test_faults.py too).
    yield
    if os.environ.get("SHALLOWVISION_FUZZ_REPORT"):
        with open(os.environ["SHALLOWVISION_FUZZ_REPORT"], "a") as out:
            for name, count in TRIED.items():
                out.write(f"{name}\t{count}\n")
