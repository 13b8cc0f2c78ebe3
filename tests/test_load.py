import dataclasses
import gzip
import hashlib
import inspect
import os
import time

import numpy as np
import pytest

from conftest import FASHION_DIR, write_idx
from shallowvision import ConfigError, DataError
from shallowvision.datasets import (
    _registry,
    cache_dir,
    get_dataset_spec,
    list_datasets,
    load,
    load_splits,
)


def mnist_folder(root, n_train=40, n_test=20, side=28, n_classes=10, gz=True):
    """An MNIST-format folder with the official file names."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            root / f"{prefix}-images-idx3-ubyte{ext}",
            rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        )
        write_idx(
            root / f"{prefix}-labels-idx1-ubyte{ext}", (np.arange(n) % n_classes).astype(np.uint8)
        )
    return root


# -- named datasets ---------------------------------------------------------------------------
def test_unknown_name_suggests_close_matches():
    with pytest.raises(DataError, match=r"unknown dataset 'kmnst': did you mean 'kmnist'"):
        load("kmnst")
    with pytest.raises(DataError, match=r"did you mean 'emnist-letters'"):
        get_dataset_spec("emnist_leters")


def test_registry_has_every_family_with_checksums():
    for name in ("fashion-mnist", "mnist", "kmnist"):
        spec = get_dataset_spec(name)
        assert set(spec.files) == {"train_images", "train_labels", "test_images", "test_labels"}
        assert all(len(f.sha256) == 64 for f in spec.files.values())
        assert spec.mirrors
    assert get_dataset_spec("fashion-mnist").class_names[6] == "Shirt"
    balanced = get_dataset_spec("emnist-balanced").class_names
    assert len(balanced) == 47 and balanced[:11] == tuple("0123456789A") and balanced[-1] == "t"
    assert get_dataset_spec("emnist-letters").class_names == tuple("abcdefghijklmnopqrstuvwxyz")
    assert len(get_dataset_spec("emnist-byclass").class_names) == 62
    assert get_dataset_spec("emnist-digits").files["archive"].name == "gzip.zip"


def test_digits_fixed_split():
    train, test = load("digits"), load("digits", "test")
    assert (len(train), len(test)) == (1438, 359)
    assert train.image_shape == (8, 8) and train.images.max() == 255
    # The test split does not depend on the run's seed.
    assert np.array_equal(load("digits", "test", random_state=5).images, test.images)
    overlap = set(map(bytes, train.X)) & set(map(bytes, test.X))
    assert len(overlap) < 5  # only genuine duplicate digits, never shared rows


def test_named_dataset_checksum_mismatch_names_the_file(tmp_path):
    mnist_folder(tmp_path / "mnist")
    with pytest.raises(
        DataError,
        match=r"mnist/train-images-idx3-ubyte.gz: checksum mismatch \(SHA-256 [0-9a-f]{64}, expected 440fcabf",
    ):
        load("mnist", data_dir=tmp_path)


def test_named_dataset_unverified_copy_loads_when_asked(tmp_path):
    mnist_folder(tmp_path / "kmnist")
    train = load("kmnist", data_dir=tmp_path, verify=False, cache=False)
    assert len(train) == 40 and train.class_names[1] == "ki" and train.meta["verified"] is False


def test_image_label_count_mismatch(tmp_path):
    root = mnist_folder(tmp_path)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(39, np.uint8))
    with pytest.raises(DataError, match="40 images but 39 labels"):
        load(root / "train-images-idx3-ubyte.gz")


def test_emnist_from_zip_and_from_extracted_members(tmp_path):
    from test_readers import emnist_zip

    upright = np.zeros((26, 28, 28), np.uint8)
    upright[:, :3, :] = 255
    emnist_zip(
        tmp_path / "emnist" / "gzip.zip" if (tmp_path / "emnist").mkdir() is None else None,
        "letters",
        upright,
        np.arange(1, 27, dtype=np.uint8),
    )
    with pytest.raises(DataError, match="gzip.zip: checksum mismatch"):
        load("emnist-letters", data_dir=tmp_path)
    letters = load("emnist-letters", data_dir=tmp_path, verify=False, cache=False)
    assert letters.labels.tolist() == list(range(26))
    assert letters.class_names[letters.labels[0]] == "a"
    assert letters.images[0, :3].all() and not letters.images[0, 3:].any()

    members = tmp_path / "extracted"
    members.mkdir()
    for part in ("train", "test"):
        write_idx(
            members / f"emnist-balanced-{part}-images-idx3-ubyte.gz",
            upright[:5].transpose(0, 2, 1).copy(),
        )
        write_idx(
            members / f"emnist-balanced-{part}-labels-idx1-ubyte.gz",
            np.array([0, 10, 36, 46, 3], np.uint8),
        )
    balanced = load("emnist-balanced", "test", data_dir=members, cache=False)
    assert [balanced.class_names[i] for i in balanced.labels] == ["0", "A", "a", "t", "3"]
    assert balanced.images[0, :3].all()


@pytest.mark.fashion
def test_fashion_from_system_copy_is_verified_and_cached():
    first = load("fashion-mnist")
    assert first.images.shape == (60000, 28, 28) and first.meta["verified"] is True
    assert first.class_counts().tolist() == [6000] * 10
    assert first.source.startswith(str(FASHION_DIR))
    start = time.perf_counter()
    again = load("fashion-mnist")
    elapsed = time.perf_counter() - start
    assert isinstance(again.images, np.memmap)
    assert np.array_equal(again.labels, first.labels)
    assert again.sha256 == first.sha256
    assert elapsed < 0.5  # a memory map, not a decode (the benchmark measures the real figure)


@pytest.mark.fashion
def test_fashion_decompressed_copy_matches_published_payload(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name[:-3]).write_bytes(gzip.decompress((FASHION_DIR / name).read_bytes()))
    test = load("fashion-mnist", "test", data_dir=tmp_path, cache=False)
    assert test.source == str(folder / "t10k-images-idx3-ubyte") and test.meta["verified"] is True
    # One flipped byte is a mismatch, and the error names the data-dir copy (searched first).
    raw = bytearray((folder / "t10k-labels-idx1-ubyte").read_bytes())
    raw[-1] ^= 1
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"fashion-mnist/t10k-labels-idx1-ubyte: checksum mismatch"):
        load("fashion-mnist", "test", data_dir=tmp_path, cache=False)


def test_list_datasets_reports_locations(tmp_path):
    rows = {r["name"]: r for r in list_datasets(data_dir=tmp_path)}
    assert len(rows) == 10 and rows["digits"]["available"] is True
    assert (
        rows["emnist-balanced"]["n_classes"] == 47 and rows["emnist-balanced"]["n_train"] == 112800
    )
    assert rows["mnist"]["available"] is False
    mnist_folder(tmp_path / "mnist")
    assert list_datasets(data_dir=tmp_path)[2]["location"] == f"data-dir: {tmp_path / 'mnist'}"


# -- downloads --------------------------------------------------------------------------------
@pytest.fixture
def served_mnist(tmp_path, http_server, monkeypatch):
    """mnist re-pointed at files served on 127.0.0.1, with their true checksums."""
    source = mnist_folder(tmp_path / "served")
    files = {}
    for role, remote in get_dataset_spec("mnist").files.items():
        data = (source / remote.name).read_bytes()
        http_server.files[f"/b/{remote.name}"] = data
        files[role] = dataclasses.replace(
            remote, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )
    spec = dataclasses.replace(
        get_dataset_spec("mnist"),
        files=files,
        mirrors=(f"{http_server.base}/a/", f"{http_server.base}/b/"),
        system_dirs=(),
    )
    monkeypatch.setitem(_registry._REGISTRY, "mnist", spec)
    monkeypatch.setenv("SHALLOWVISION_CACHE", str(tmp_path / "cache"))
    return http_server


def test_download_falls_back_to_next_mirror_verifies_and_caches(served_mnist, tmp_path):
    train = load("mnist")
    assert len(train) == 40 and train.meta["verified"] is True
    assert "/a/train-images-idx3-ubyte.gz" in served_mnist.requests  # first mirror: 404
    stored = cache_dir() / "datasets" / "mnist"
    assert sorted(p.name for p in stored.iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    n_requests = len(served_mnist.requests)
    assert len(load("mnist")) == 40 and len(served_mnist.requests) == n_requests


def test_download_checksum_mismatch_removes_the_file(served_mnist):
    served_mnist.files["/b/train-images-idx3-ubyte.gz"] = b"\x1f\x8b corrupted bytes"
    with pytest.raises(
        DataError,
        match=r"train-images-idx3-ubyte.gz: checksum mismatch .* the corrupt download was removed",
    ):
        load("mnist")
    stored = cache_dir() / "datasets" / "mnist"
    assert not list(stored.glob("*images*"))


def test_download_truncated_transfer_is_removed(served_mnist):
    path = "/b/train-images-idx3-ubyte.gz"
    served_mnist.files[path] = ("truncate", served_mnist.files[path])
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz"):
        load("mnist")
    assert not [p for p in (cache_dir() / "datasets" / "mnist").iterdir() if "images" in p.name]


def test_download_off_and_user_mirror(served_mnist, monkeypatch):
    with pytest.raises(
        DataError, match=r"mnist: train-images-idx3-ubyte.gz not found in .* \(downloads are off\)"
    ):
        load("mnist", download=False)
    monkeypatch.setenv("SHALLOWVISION_MIRROR", f"{served_mnist.base}/b")
    assert len(load("mnist", "test")) == 20
    assert served_mnist.requests[0] == "/b/t10k-images-idx3-ubyte.gz"


# -- datasets given by path -------------------------------------------------------------------
def test_idx_folder_and_file(tmp_path):
    root = mnist_folder(tmp_path / "d", gz=False)
    assert len(load(root)) == 40 and len(load(root, "test")) == 20
    via_file = load(root / "t10k-images-idx3-ubyte", "test")
    assert (
        via_file.class_names == tuple(str(i) for i in range(10))
        and via_file.name == "t10k-images-idx3-ubyte"
    )


def test_csv_pair_and_single_csv_carves_a_fixed_test_split(tmp_path):
    from test_readers import csv_text

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    labels = np.arange(50) % 5
    (tmp_path / "fashion-mnist_train.csv").write_text(csv_text(images, labels))
    (tmp_path / "fashion-mnist_test.csv").write_text(csv_text(images[:10], labels[:10]))
    assert len(load(tmp_path / "fashion-mnist_train.csv", "test")) == 10
    assert len(load(tmp_path, "train")) == 50
    assert load(tmp_path, "train").name == "fashion-mnist"

    alone = tmp_path / "solo"
    alone.mkdir()
    (alone / "data.csv").write_text(csv_text(images, labels))
    train, test = load(alone / "data.csv"), load(alone / "data.csv", "test", random_state=9)
    assert (len(train), len(test)) == (40, 10)
    assert test.class_counts().tolist() == [2] * 5
    assert not set(map(bytes, train.X)) & set(map(bytes, test.X))
    assert test.meta["test_split"] == "carved 20% with seed 0"


def test_npz_without_test_split(tmp_path, small_arrays):
    images, labels = small_arrays
    np.savez(tmp_path / "d.npz", x_train=images, y_train=labels)
    assert len(load(tmp_path / "d.npz", "test")) == 12


def test_image_folder_dataset_with_and_without_splits(tmp_path):
    from test_readers import write_folder

    flat = write_folder(tmp_path / "flat", per_class=10)
    assert load(flat, image_size=(16, 16)).images.shape == (16, 16, 16)
    split = tmp_path / "split"
    write_folder(split / "train", per_class=4)
    write_folder(split / "test", per_class=2)
    test = load(split, "test", image_size=None)
    assert test.images.shape == (4, 10, 12) and test.class_names == ("cat", "dog")


def test_cache_is_refreshed_when_the_source_changes(tmp_path):
    root = mnist_folder(tmp_path / "d")
    first = load(root)
    assert not isinstance(first.images, np.memmap)
    assert isinstance(load(root).images, np.memmap)
    time.sleep(0.01)
    write_idx(root / "train-images-idx3-ubyte.gz", np.full((40, 28, 28), 7, np.uint8))
    os.utime(root / "train-images-idx3-ubyte.gz")
    assert load(root).images.max() == 7


# -- options ----------------------------------------------------------------------------------
def test_validation_split_options(tmp_path):
    root = mnist_folder(tmp_path / "d", n_train=200)
    with pytest.raises(DataError, match="pass validation_size"):
        load(root, "validation")
    with pytest.raises(ConfigError, match="unknown split 'valid'"):
        load(root, "valid")
    splits = load_splits(root, validation_size=0.25, random_state=3)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (150, 50, 20)
    assert splits.validation.class_counts().tolist() == [5] * 10
    assert not set(map(bytes, splits.train.X)) & set(map(bytes, splits.validation.X))
    again = load(root, "validation", validation_size=0.25, random_state=3)
    assert np.array_equal(again.images, splits.validation.images)
    small = load_splits(root, validation_size=0.25, n_per_class=2, positive="3")
    assert [len(s) for s in small] == [20, 20, 20]
    # --n-per-class cuts the images models learn from; the test split stays whole.
    few = load_splits(root, validation_size=0.25, n_per_class=1, random_state=3)
    assert [len(s) for s in few] == [10, 10, 20]
    assert np.array_equal(few.test.images, splits.test.images)
    fewer = load_splits(root, validation_size=0.25, test_n_per_class=1, random_state=3)
    assert [len(s) for s in fewer] == [150, 50, 10]
    assert fewer.test.class_counts().tolist() == [1] * 10
    assert small.train.class_names == ("not 3", "3") and small.train.class_counts().tolist() == [
        18,
        2,
    ]


def test_load_splits_takes_every_option_of_load_with_the_same_default():
    def keywords(function):
        params = inspect.signature(function).parameters.values()
        return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}

    of_load, of_splits = keywords(load), keywords(load_splits)
    assert of_splits.pop("validation_size") == 0.1  # load's is None: it loads one split
    of_load.pop("validation_size")
    assert of_splits.pop("test_n_per_class") is None  # the test split's own subsample
    assert of_splits == of_load


def test_load_splits_passes_each_option_to_every_split(tmp_path):
    root = mnist_folder(tmp_path / "d", n_train=200)
    with pytest.raises(TypeError, match="unexpected keyword argument 'split'"):
        load_splits(root, split="test")
    splits = load_splits(root, fraction=0.5, random_state=1, cache=False)
    assert [len(s) for s in splits] == [90, 10, 20]  # the test split stays whole
    assert splits.test.labels.tolist() == load(root, "test").labels.tolist()
