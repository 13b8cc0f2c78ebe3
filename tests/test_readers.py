import gzip
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import idx_bytes, write_idx
from shallowvision import DataError
from shallowvision.datasets import read_csv, read_emnist_zip, read_idx, read_image_folder, read_npz


# -- IDX --------------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.arange(5, dtype=np.uint8),
        np.arange(-6, 6, dtype=np.int8).reshape(3, 4),
        np.arange(120, dtype=np.int16).reshape(2, 3, 4, 5) * 100,
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
        np.array([[1.5, -2.25]], dtype=np.float64),
        np.arange(3, dtype=np.int32) * 1_000_000,
    ],
)
def test_idx_round_trip_any_dims_and_types(tmp_path, array, compress):
    path = write_idx(tmp_path / "x.idx", array, compress=compress)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_idx_wrong_magic(tmp_path):
    raw = bytearray(idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    raw[0] = 0x13
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(bytes(raw))
    with pytest.raises(
        DataError, match=r"bad-images-idx3-ubyte: wrong IDX magic number 0x13000803"
    ):
        read_idx(path)


def test_idx_truncated_data_and_header(tmp_path):
    raw = idx_bytes(np.zeros((10, 4, 4), np.uint8))
    (tmp_path / "t").write_bytes(raw[:-5])
    with pytest.raises(
        DataError, match=r"truncated: header says shape \(10, 4, 4\) \(160 bytes\) but 155"
    ):
        read_idx(tmp_path / "t")
    (tmp_path / "h").write_bytes(raw[:9])
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(tmp_path / "h")


def test_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8).reshape(10, 10, 10)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope.gz: file not found"):
        read_idx(tmp_path / "nope.gz")


# -- EMNIST zip -------------------------------------------------------------------------------
def emnist_zip(path, split, images_upright, labels):
    """Write an archive in the official layout: gzip/emnist-<split>-<part>-*.gz, images transposed."""
    with zipfile.ZipFile(path, "w") as archive:
        for part in ("train", "test"):
            stored = np.ascontiguousarray(images_upright.transpose(0, 2, 1))
            archive.writestr(
                f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", gzip.compress(idx_bytes(stored))
            )
            archive.writestr(
                f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels))
            )
        archive.writestr(f"gzip/emnist-{split}-mapping.txt", "0 48\n")
    return path


def test_emnist_zip_is_read_upright(tmp_path):
    upright = np.zeros((3, 28, 28), np.uint8)
    upright[:, 2:5, :] = 255  # a horizontal bar near the top
    labels = np.array([1, 2, 26], np.uint8)
    path = emnist_zip(tmp_path / "gzip.zip", "letters", upright, labels)
    images, out_labels, member = read_emnist_zip(path, "letters", "train")
    np.testing.assert_array_equal(images, upright)
    assert images[0, 3, :].all() and not images[0, :, 10].all()
    assert member == "gzip/emnist-letters-train-images-idx3-ubyte.gz"
    np.testing.assert_array_equal(out_labels, labels)


def test_emnist_zip_missing_member_and_not_a_zip(tmp_path):
    path = emnist_zip(
        tmp_path / "gzip.zip", "digits", np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8)
    )
    with pytest.raises(DataError, match="no member emnist-balanced-train-images"):
        read_emnist_zip(path, "balanced", "train")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="junk.zip: not a readable zip"):
        read_emnist_zip(tmp_path / "junk.zip", "digits", "train")


# -- CSV --------------------------------------------------------------------------------------
def csv_text(images, labels):
    n_pix = images[0].size
    lines = ["label," + ",".join(f"pixel{i + 1}" for i in range(n_pix))]
    lines += [
        f"{lab}," + ",".join(map(str, img.ravel())) for img, lab in zip(images, labels, strict=True)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_csv_reads_in_chunks(tmp_path, small_arrays, chunk_rows):
    images, labels = small_arrays
    square = images[:, :5, :5].copy()
    path = tmp_path / "fashion-mnist_train.csv"
    path.write_text(csv_text(square, labels))
    out_images, out_labels = read_csv(path, chunk_rows=chunk_rows)
    np.testing.assert_array_equal(out_images, square)
    np.testing.assert_array_equal(out_labels, labels)
    assert out_images.dtype == np.uint8


def test_csv_gzip_and_no_trailing_newline(tmp_path):
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    text = csv_text(images, [0, 1]).rstrip("\n")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(text.encode()))
    out, labels = read_csv(tmp_path / "a.csv.gz")
    np.testing.assert_array_equal(out, images)
    assert labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: rows.__setitem__(2, rows[2].replace(",3,", ",x,", 1)),
            r"non-numeric value 'x' on line 3, column 3",
        ),
        (
            lambda rows: rows.__setitem__(2, rows[2] + ",7"),
            r"wrong column count: line 3 has 6 values, expected 5",
        ),
        (
            lambda rows: rows.__setitem__(2, rows[2].rsplit(",", 1)[0]),
            r"wrong column count: line 3 has 4 values",
        ),
        (
            lambda rows: rows.__setitem__(2, rows[2].replace(",3,", ",,", 1)),
            r"line 3 has an empty value in column 3",
        ),
        (
            lambda rows: rows.__setitem__(1, rows[1].replace(",1,", ",300,", 1)),
            r"line 2 has pixel value 300 in column 3",
        ),
        (
            lambda rows: rows.__setitem__(1, rows[1].replace(",1,", ",1.5,", 1)),
            r"non-numeric value '1.5' on line 2",
        ),
        (lambda rows: rows.__setitem__(1, "-1" + rows[1][1:]), r"line 2 has label -1 in column 1"),
        (lambda rows: rows.__setitem__(0, "lbl,a,b,c,d"), r"no 'label' column"),
    ],
)
@pytest.mark.parametrize("chunk_rows", [1, 1000])
def test_csv_errors_name_file_and_problem(tmp_path, mutate, message, chunk_rows):
    images = np.array([[[0, 1], [2, 3]], [[4, 3], [6, 7]]], np.uint8)
    rows = csv_text(images, [0, 1]).splitlines()
    mutate(rows)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=rf"bad.csv: .*{message}"):
        read_csv(path, chunk_rows=chunk_rows)


def test_csv_blank_lines_and_label_column_elsewhere(tmp_path):
    (tmp_path / "c.csv").write_text("p1,p2,label,p3,p4\n1,2,0,3,4\n\n5,6,1,7,8\n\n")
    images, labels = read_csv(tmp_path / "c.csv", chunk_rows=1)
    assert images.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]] and labels.tolist() == [0, 1]


def test_csv_not_square(tmp_path):
    (tmp_path / "b.csv").write_text("label,p1,p2,p3\n0,1,2,3\n")
    with pytest.raises(DataError, match="3 pixel columns, which is not a square"):
        read_csv(tmp_path / "b.csv")


# -- NPZ --------------------------------------------------------------------------------------
def test_npz_keras_layout(tmp_path, small_arrays):
    images, labels = small_arrays
    np.savez(
        tmp_path / "d.npz",
        x_train=images,
        y_train=labels,
        x_test=images[:5, ..., None],
        y_test=labels[:5],
    )
    x, y = read_npz(tmp_path / "d.npz", "test")
    assert x.shape == (5, 6, 5) and y.tolist() == [0] * 5
    with pytest.raises(DataError, match=r"no arrays 'x_valid' and 'y_valid' \(found x_test"):
        read_npz(tmp_path / "d.npz", "valid")
    np.savez(tmp_path / "f.npz", x_train=images.astype(float) + 0.5, y_train=labels)
    with pytest.raises(DataError, match="integers 0..255"):
        read_npz(tmp_path / "f.npz", "train")


# -- image folders ----------------------------------------------------------------------------
def write_folder(root, per_class=3, size=(12, 10), fmt="png", mode="L"):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(
                0,
                256,
                size=(size[1], size[0], 3) if mode == "RGB" else (size[1], size[0]),
                dtype=np.uint8,
            )
            Image.fromarray(pixels, mode=None).save(root / cls / f"{i}.{fmt}")
    return root


@pytest.mark.parametrize("fmt", ["png", "jpeg", "bmp"])
def test_image_folder_resized_gray(tmp_path, fmt):
    root = write_folder(tmp_path / "imgs", fmt=fmt, mode="RGB")
    images, labels, classes = read_image_folder(root, image_size=(28, 28))
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert classes == ("cat", "dog") and labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_image_folder_native_size_and_gray_values(tmp_path):
    root = tmp_path / "imgs"
    for cls, value in (("a", 10), ("b", 200)):
        (root / cls).mkdir(parents=True)
        Image.fromarray(np.full((4, 6, 3), value, np.uint8)).save(root / cls / "x.png")
    images, _, _ = read_image_folder(root, image_size=None)
    assert images.shape == (2, 4, 6)
    assert images[0].max() == 10 and images[1].min() == 200


def test_image_folder_errors(tmp_path):
    root = write_folder(tmp_path / "imgs")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    with pytest.raises(DataError, match=r"broken.png: corrupt or unreadable image"):
        read_image_folder(root)

    one = write_folder(tmp_path / "one")
    import shutil

    shutil.rmtree(one / "dog")
    with pytest.raises(DataError, match=r"one: only one class \('cat'\)"):
        read_image_folder(one)

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no class sub-folders"):
        read_image_folder(tmp_path / "empty")

    hollow = write_folder(tmp_path / "hollow")
    (hollow / "zebra").mkdir()
    with pytest.raises(DataError, match="class 'zebra' has no images"):
        read_image_folder(hollow)


def test_image_folder_mixed_sizes_need_image_size(tmp_path):
    root = write_folder(tmp_path / "imgs")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "dog" / "small.png")
    with pytest.raises(DataError, match="images of mixed sizes need image_size"):
        read_image_folder(root, image_size=None)
    images, _, _ = read_image_folder(root, image_size=(8, 8))
    assert images.shape == (7, 8, 8)


def test_decode_image_bytes_with_alpha():
    from shallowvision.datasets import decode_image

    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[1, 1, 3] = 255  # only the centre is opaque
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    out = decode_image(buf.getvalue(), None)
    assert out[1, 1] == 255 and out[0, 0] == 0
