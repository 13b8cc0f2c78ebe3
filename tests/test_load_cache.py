"""The decoded cache follows the files that define a dataset; careless inputs get clear errors."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import write_idx
from shallowvision import DataError
from shallowvision.datasets import load
from test_hostile import one_error_line
from test_load import mnist_folder

EXAMPLES = int(os.environ.get("SHALLOWVISION_FUZZ_EXAMPLES", "60"))


def write_image(path: Path, value: int, side: int = 4, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((side, side), value, dtype=np.uint8)
    pixels[0, 0] = 255 - value  # not constant, so resizing keeps a visible difference
    Image.fromarray(pixels).save(path, format=fmt)


def class_folder(root: Path, counts: dict[str, int]) -> Path:
    for cls, n in counts.items():
        for i in range(n):
            write_image(root / cls / f"{i}.png", 10 * i + 3)
    return root


def same(a, b) -> bool:
    return (
        np.array_equal(a.images, b.images)
        and np.array_equal(a.labels, b.labels)
        and a.class_names == b.class_names
        and a.sha256 == b.sha256
    )


# -- item: stale cache ------------------------------------------------------------------------
def test_folder_cache_sees_new_images_and_new_classes(tmp_path):
    root = class_folder(tmp_path / "shapes", {"a": 5, "b": 5})
    first = load(root, image_size=None)
    assert isinstance(load(root, image_size=None).images, np.memmap)  # cached
    write_image(root / "b" / "new.png", 99)
    write_image(root / "c" / "0.png", 50)
    write_image(root / "c" / "1.png", 60)
    second = load(root, image_size=None)
    assert second.class_names == ("a", "b", "c") and len(second) == len(first) + 2
    assert second.sha256 != first.sha256
    assert same(second, load(root, image_size=None, cache=False))


def test_a_flat_folder_is_decoded_once_for_both_of_its_splits(tmp_path, monkeypatch):
    from shallowvision.datasets import _readers

    root = class_folder(tmp_path / "flat", {"a": 20, "b": 20})
    decoded: list[Path] = []
    decode_file = _readers._decode_file

    def counted(path, **options):
        decoded.append(path)
        return decode_file(path, **options)

    monkeypatch.setattr(_readers, "_decode_file", counted)
    train, test = load(root, "train"), load(root, "test")
    assert len(train) + len(test) == 40 and len(decoded) == 40  # not once per split
    assert same(train, load(root, "train", cache=False))
    assert same(test, load(root, "test", cache=False))
    assert train.meta["resize"] == test.meta["resize"] == "stretch"


def test_idx_folder_cache_sees_its_new_test_files(tmp_path):
    root = mnist_folder(tmp_path / "idx", n_train=50, n_test=20)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (root / name).rename(tmp_path / name)  # train files only: a carved test split
    carved = load(root, "test")
    assert len(carved) == 10 and carved.meta["test_split"].startswith("carved")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).rename(root / name)
    official = load(root, "test")
    assert len(official) == 20 and "test_split" not in official.meta
    assert len(load(root, "train")) == 50  # no longer carved either


def test_single_file_cache_sees_its_labels_file_replaced(tmp_path):
    root = mnist_folder(tmp_path / "idx", n_train=30, n_test=10)
    images = root / "train-images-idx3-ubyte.gz"
    assert load(images).labels[:3].tolist() == [0, 1, 2]
    write_idx(root / "train-labels-idx1-ubyte.gz", np.full(30, 4, np.uint8))
    assert set(load(images).labels.tolist()) == {4}


def test_cli_data_info_after_the_folder_grew(tmp_path):
    from test_cli import cli

    root = class_folder(tmp_path / "f", {"a": 5, "b": 5})
    before = cli("data", "info", str(root), "--json")
    assert before.returncode == 0, before.stderr
    write_image(root / "c" / "0.png", 7)
    write_image(root / "c" / "1.png", 8)
    after = cli("data", "info", str(root), "--json")
    train = next(s for s in json.loads(after.stdout) if s["split"] == "train")
    assert set(train["class_counts"]) == {"a", "b", "c"}


# A change to the folder, as a careless user makes them between two loads.
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "rewrite", "new_class", "touch"]),
        st.integers(0, 3),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(OPERATIONS)
def test_cached_load_always_equals_a_fresh_decode(operations):
    # BMP files: a rewrite with other pixels keeps the file's size, and it comes within the
    # same timestamp tick, so only the content can tell the cache it is stale.
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "data"
        for cls in ("a", "b"):
            for i in range(4):
                write_image(root / cls / f"{i}.bmp", 40 * i + 1, fmt="BMP")
        load(root, image_size=None)
        for op, which, value in operations:
            classes = sorted(p for p in root.iterdir() if p.is_dir())
            cls = classes[which % len(classes)]
            files = sorted(cls.glob("*.bmp"))
            if op == "add":
                write_image(cls / f"x{value}.bmp", value, fmt="BMP")
            elif op == "remove" and len(files) > 3:
                files[which % len(files)].unlink()
            elif op == "rewrite":
                write_image(files[which % len(files)], value, fmt="BMP")
            elif op == "new_class":
                for i in range(4):
                    write_image(root / f"c{value}" / f"{i}.bmp", value, fmt="BMP")
            else:
                os.utime(files[which % len(files)])
            cached = load(root, image_size=None)
            fresh = load(root, image_size=None, cache=False)
            assert same(cached, fresh), (op, which, value)


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
@given(st.lists(st.binary(max_size=20), min_size=1, max_size=5), st.data())
def test_definition_changes_with_any_file_change(contents, data):
    """The cache key's definition differs after any change of content, name or file set."""
    from shallowvision.datasets._cache import source_definition

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for i, content in enumerate(contents):
            (root / f"{i}.bin").write_bytes(content)
        before = source_definition(root)
        assert before == source_definition(root)  # stable while nothing changes
        i = data.draw(st.integers(0, len(contents) - 1))
        change = data.draw(st.sampled_from(["content", "rename", "remove", "add"]))
        target = root / f"{i}.bin"
        if change == "content":
            new = data.draw(st.binary(max_size=20).filter(lambda b, old=contents[i]: b != old))
            target.write_bytes(new)
        elif change == "rename":
            target.rename(root / f"{i}-moved.bin")
        elif change == "remove":
            target.unlink()
        else:
            (root / "extra.bin").write_bytes(b"")
        assert source_definition(root) != before


# -- small careless inputs --------------------------------------------------------------------
def test_empty_dataset_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    class_folder(tmp_path, {"a": 3, "b": 3})  # the working directory would be a dataset
    with pytest.raises(DataError, match="no dataset given"):
        load("")
    with pytest.raises(DataError, match="no dataset given"):
        load("  ")
    from test_cli import cli

    line = one_error_line(cli("data", "info", ""))
    assert line.startswith("error: no dataset given (an empty name)")


def test_csv_with_a_byte_order_mark_is_read(tmp_path):
    rows = ["label," + ",".join(f"pixel{i}" for i in range(1, 5))]
    rows += [f"{i % 2},{i},{2 * i},{3 * i},{4 * i}" for i in range(10)]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode() + b"\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(rows) + "\n")
    with_bom = load(path, cache=False)
    assert np.array_equal(with_bom.images, load(plain, cache=False).images)
    assert with_bom.labels.tolist() == load(plain, cache=False).labels.tolist()


@pytest.mark.parametrize(
    ("suffix", "fmt", "options"),
    [
        (".tif", "TIFF", {}),
        (".tiff", "TIFF", {"compression": "tiff_lzw"}),
        (".webp", "WEBP", {"lossless": True}),
        (".gif", "GIF", {}),
        (".ppm", "PPM", {}),
    ],
)
def test_folders_read_every_format_pillow_opens(tmp_path, suffix, fmt, options):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(4, 7, 6), dtype=np.uint8)
    for i, image in enumerate(pixels):
        cls = "odd" if i % 2 else "even"
        for root, ext, kind, extra in (
            (tmp_path / "png", ".png", "PNG", {}),
            (tmp_path / "other", suffix, fmt, options),
        ):
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / cls / f"{i}{ext}", format=kind, **extra)
    other = load(tmp_path / "other", image_size=None, cache=False)
    reference = load(tmp_path / "png", image_size=None, cache=False)
    assert len(other) == len(reference) == 3  # 4 images less the carved test image
    assert np.array_equal(other.images, reference.images)  # the same grayscale pixels


def test_predict_reads_a_folder_of_tiff_and_webp(tmp_path, digits):
    from shallowvision.inference import read_inputs

    for i, fmt in enumerate(("TIFF", "WEBP", "GIF")):
        Image.fromarray(digits.images[i]).save(
            tmp_path / f"{i}.{fmt.lower()}", format=fmt, lossless=True
        )
    names, images = read_inputs([tmp_path], image_shape=(8, 8))
    assert [Path(n).name for n in names] == ["0.tiff", "1.webp", "2.gif"]
    assert np.array_equal(images, digits.images[:3])


def test_cache_rebuilt_after_a_folder_is_replaced_whole(tmp_path):
    root = class_folder(tmp_path / "d", {"a": 3, "b": 3})
    load(root, image_size=None)
    shutil.rmtree(root)
    class_folder(root, {"x": 2, "y": 2, "z": 2})
    assert load(root, image_size=None).class_names == ("x", "y", "z")
