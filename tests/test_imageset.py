import numpy as np
import pytest

from shallowvision import DataError
from shallowvision.datasets import ImageSet


def make(images, labels, names=("a", "b", "c")):
    return ImageSet(images, labels, names, name="toy")


def test_shapes_and_views(small_arrays):
    images, labels = small_arrays
    s = make(images, labels)
    assert len(s) == 60 and s.image_shape == (6, 5) and s.n_classes == 3
    assert s.X.shape == (60, 30) and s.X.dtype == np.uint8
    assert np.shares_memory(s.X, s.images)
    assert s.class_counts().tolist() == [20, 20, 20]


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((4, 3), np.uint8), np.zeros(4, int), "shape"),
        (np.zeros((4, 3, 3), np.float32), np.zeros(4, int), "uint8"),
        (np.zeros((4, 3, 3), np.uint8), np.zeros(5, int), "4 images but 5 labels"),
        (np.zeros((4, 3, 3), np.uint8), np.array([0, 1, 2, 3]), "labels span 0..3"),
    ],
)
def test_invalid_arrays(images, labels, message):
    with pytest.raises(DataError, match=message):
        make(images, labels)


def test_subsample_is_seeded_and_stratified(small_arrays):
    s = make(*small_arrays)
    a = s.subsample(n_per_class=7, random_state=1)
    b = s.subsample(n_per_class=7, random_state=1)
    c = s.subsample(n_per_class=7, random_state=2)
    assert a.class_counts().tolist() == [7, 7, 7]
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert s.subsample(fraction=0.25).class_counts().tolist() == [5, 5, 5]
    assert s.subsample(n_per_class=1000).class_counts().tolist() == [20, 20, 20]
    with pytest.raises(DataError, match="exactly one"):
        s.subsample()


def test_subsample_of_n_images_keeps_class_shares_and_nests():
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=1000, p=[0.6, 0.3, 0.1])
    # Each image's first pixel is its index: the draws can be compared image by image.
    images = np.zeros((1000, 2, 2), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(1000) % 256, np.arange(1000) // 256
    s = make(images, labels)

    def kept(subset):
        return set((subset.images[:, 0, 0] + 256 * subset.images[:, 0, 1].astype(int)).tolist())

    counts = s.class_counts()
    previous: set[int] = set()
    for n in (10, 77, 200, 513, 999):
        subset = s.subsample(n_images=n, random_state=4)
        assert len(subset) == n
        assert np.all(np.abs(subset.class_counts() - counts * n / 1000) <= 1.5)
        assert previous <= kept(subset)  # smaller draws are subsets of larger ones
        previous = kept(subset)
    assert kept(s.subsample(n_images=200, random_state=4)) == kept(
        s.subsample(n_images=200, random_state=4)
    )
    assert kept(s.subsample(n_images=200, random_state=5)) != kept(
        s.subsample(n_images=200, random_state=4)
    )
    assert s.subsample(n_images=1000) is s and s.subsample(n_images=5000) is s
    with pytest.raises(DataError, match="exactly one of n_per_class, fraction or n_images"):
        s.subsample(n_images=10, fraction=0.5)
    with pytest.raises(DataError, match="n_images must be at least 1, got 0"):
        s.subsample(n_images=0)


def test_split_off_is_disjoint_stratified_and_complete(small_arrays):
    images, labels = small_arrays
    s = make(images, labels)
    rest, held = s.split_off(0.25, random_state=3)
    assert len(rest) == 45 and len(held) == 15 and held.split == "validation"
    assert held.class_counts().tolist() == [5, 5, 5]
    # Every original image lands in exactly one part.
    together = np.concatenate([rest.X, held.X])
    assert sorted(map(bytes, together)) == sorted(map(bytes, s.X))
    _, held2 = s.split_off(0.25, random_state=3)
    assert np.array_equal(held.images, held2.images)
    with pytest.raises(DataError, match="cannot hold out"):
        s.split_off(1.0)


def test_split_off_uneven_classes_keeps_shares():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    s = make(np.zeros((100, 2, 2), np.uint8), labels)
    _, held = s.split_off(10)
    assert held.class_counts().tolist() == [5, 3, 2]


def test_one_vs_rest_by_name_and_index(small_arrays):
    s = make(*small_arrays)
    by_name = s.one_vs_rest("B")
    by_index = s.one_vs_rest(1)
    by_digit_string = s.one_vs_rest("1")
    assert by_name.class_names == ("not b", "b")
    assert by_name.class_counts().tolist() == [40, 20]
    assert np.array_equal(by_name.labels, by_index.labels)
    assert np.array_equal(by_name.labels, by_digit_string.labels)
    assert by_name.meta["original_class_names"] == ["a", "b", "c"]
    with pytest.raises(DataError, match="unknown class 'shirt'"):
        s.one_vs_rest("shirt")
    with pytest.raises(DataError, match="out of range"):
        s.one_vs_rest(3)


def test_check_trainable(small_arrays):
    images, _ = small_arrays
    with pytest.raises(DataError, match="single class"):
        make(images, np.zeros(60, int)).check_trainable()
    with pytest.raises(DataError, match="no images"):
        make(images[:0], np.zeros(0, int)).check_trainable()


def test_fingerprint_depends_on_content(small_arrays):
    images, labels = small_arrays
    a = make(images, labels)
    assert a.fingerprint() == make(images.copy(), labels.copy()).fingerprint()
    changed = images.copy()
    changed[0, 0, 0] ^= 1
    assert a.fingerprint() != make(changed, labels).fingerprint()
