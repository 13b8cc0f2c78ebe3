import numpy as np
import pytest

from shallowvision.features import (
    Deskewer,
    HOGTransformer,
    deskew_images,
    hog_images,
    shear_images,
)


@pytest.fixture(scope="module")
def garments() -> np.ndarray:
    """40 real 28x28 Fashion-MNIST images as floats in [0, 1]."""
    from shallowvision.datasets import load

    return load("fashion-mnist", n_per_class=4, random_state=0).images.astype(np.float32) / 255


@pytest.mark.fashion
@pytest.mark.parametrize(
    ("cell", "block", "norm"),
    [(4, 2, "L2-Hys"), (7, 2, "L1"), (3, 3, "L2"), (5, 2, "L1-sqrt"), ((4, 7), (2, 1), "L2-Hys")],
)
def test_hog_equals_scikit_image(garments, cell, block, norm):
    feature = pytest.importorskip("skimage.feature")
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = np.stack(
        [
            feature.hog(
                image,
                orientations=9,
                pixels_per_cell=pair(cell),
                cells_per_block=pair(block),
                block_norm=norm,
            )
            for image in garments
        ]
    )
    ours = hog_images(garments, pixels_per_cell=cell, cells_per_block=block, block_norm=norm)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_hog_of_a_vertical_edge_by_hand():
    # Left half 0, right half 1: the central difference along columns is 1 at columns 3
    # and 4 and zero elsewhere, so each 4x4 cell holds 4 pixels of magnitude 1 at 0
    # degrees: a mean of 4/16 in bin 0. One 2x2 block, L1-normalised over 4 * 0.25 = 1.
    image = np.zeros((1, 8, 8), dtype=np.float32)
    image[:, :, 4:] = 1.0
    out = hog_images(image, pixels_per_cell=4, cells_per_block=2, block_norm="L1")
    assert out.shape == (1, 2 * 2 * 9)
    cells = out.reshape(2, 2, 9)
    np.testing.assert_allclose(cells[..., 0], 0.25, rtol=1e-4)
    np.testing.assert_array_equal(cells[..., 1:], 0.0)
    # The transposed image has horizontal gradients of 90 degrees: bin 4 of 9.
    cells = hog_images(image.transpose(0, 2, 1), pixels_per_cell=4, block_norm="L1")
    np.testing.assert_allclose(cells.reshape(2, 2, 9)[..., 4], 0.25, rtol=1e-4)


def test_signed_hog_tells_the_two_sides_of_an_edge_apart():
    # Dark-to-light (left to right) is 0 degrees; light-to-dark is 180 degrees, which
    # unsigned HOG folds onto 0. Signed HOG with 18 bins of 20 degrees: bins 0 and 9.
    rising = np.zeros((1, 8, 8), dtype=np.float32)
    rising[:, :, 4:] = 1.0
    falling = 1.0 - rising
    unsigned = [hog_images(i, orientations=9, block_norm="L1") for i in (rising, falling)]
    np.testing.assert_array_equal(unsigned[0], unsigned[1])
    for image, bin_ in ((rising, 0), (falling, 9)):
        cells = hog_images(image, orientations=18, signed=True, block_norm="L1").reshape(2, 2, 18)
        np.testing.assert_allclose(cells[..., bin_], 0.25, rtol=1e-4)
        assert cells.sum() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("backend", ["numpy", "opencv"])
def test_hog_in_threads_equals_one_pass(digits, backend):
    if backend == "opencv":
        pytest.importorskip("cv2")
    images = np.tile(digits.images.astype(np.float32) / 16, (3, 1, 1))[:3000]
    one = hog_images(images, backend=backend, signed=True, orientations=12)
    # 3,000 images in two threads: chunks of 1,500, the last one shorter.
    two = hog_images(images, backend=backend, signed=True, orientations=12, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    hog = HOGTransformer(backend=backend, n_jobs=2).fit(images.reshape(3000, -1))
    np.testing.assert_array_equal(
        hog.transform(images.reshape(3000, -1)), hog_images(images, backend=backend)
    )


@pytest.mark.fashion
@pytest.mark.parametrize("signed", [False, True])
def test_opencv_backend_agrees_with_numpy(garments, signed):
    pytest.importorskip("cv2")
    numpy_ = hog_images(garments, backend="numpy", signed=signed)
    opencv = hog_images(garments, backend="opencv", signed=signed)
    # OpenCV's angles are good to about 0.3 degrees: a few gradients change bin.
    assert np.mean(np.abs(numpy_ - opencv) > 1e-3) < 0.005
    assert np.abs(numpy_ - opencv).mean() < 1e-3


def test_hog_transformer_shapes_for_8x8_28x28_and_non_square(digits):
    hog = HOGTransformer(backend="numpy").fit(digits.X)
    # 8x8 digits: 2x2 cells of 4 pixels, one block.
    assert hog.image_shape_ == (8, 8) and hog.n_output_features_ == 36
    assert hog.transform(digits.X[:5]).shape == (5, 36)
    # 7-pixel cells are clipped to the 8x8 image: one cell, one block of one cell.
    assert HOGTransformer(pixels_per_cell=7).fit(digits.X).n_output_features_ == 9
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, size=(6, 12 * 20)).astype(np.float32)
    tall = HOGTransformer(image_shape=(12, 20), backend="numpy").fit(wide)
    # 3x5 cells, 2x4 blocks of 2x2 cells, 9 bins.
    assert tall.n_output_features_ == 2 * 4 * 2 * 2 * 9
    expected = hog_images(wide.reshape(6, 12, 20), backend="numpy")
    np.testing.assert_array_equal(tall.transform(wide), expected)
    names = tall.get_feature_names_out()
    assert names[0] == "hogtransformer0" and len(names) == tall.n_output_features_
    with pytest.raises(ValueError, match="X has 64 features, but HOGTransformer is expecting 240"):
        tall.transform(digits.X[:2])


def test_hog_parameters_are_validated_in_fit(digits):
    with pytest.raises(ValueError, match="block_norm must be one of"):
        HOGTransformer(block_norm="L3").fit(digits.X)
    with pytest.raises(ValueError, match="pixels_per_cell must be a positive int"):
        HOGTransformer(pixels_per_cell=0).fit(digits.X)
    with pytest.raises(ValueError, match="backend must be one of"):
        HOGTransformer(backend="cuda").fit(digits.X)


def _skew(images: np.ndarray) -> np.ndarray:
    """cov(row, col) / var(row) of each image's intensity."""
    _n, h, w = images.shape
    r, c = np.mgrid[0:h, 0:w]
    m = images.sum(axis=(1, 2))
    mr = (images * r).sum(axis=(1, 2)) / m
    mc = (images * c).sum(axis=(1, 2)) / m
    cov = (images * (r - mr[:, None, None]) * (c - mc[:, None, None])).sum(axis=(1, 2)) / m
    var = (images * (r - mr[:, None, None]) ** 2).sum(axis=(1, 2)) / m
    return cov / var


def _upright_digit() -> np.ndarray:
    """A 28x28 '1' with a foot and a flag, drawn upright (no slant)."""
    image = np.zeros((28, 28), dtype=np.float32)
    image[5:23, 13:15] = 1.0  # the stem
    image[21:23, 9:19] = 1.0  # the foot
    image[5:8, 11:13] = 1.0  # the flag
    image[5:8, 15:17] = 1.0  # mirrored, so the upright digit has no skew
    return image


def test_deskewing_restores_an_artificially_sheared_digit():
    upright = _upright_digit()[None]
    assert abs(_skew(upright)[0]) < 1e-6
    for slant in (-0.4, 0.3):
        # shear_images samples column c - slant * (r - centre): the strokes lean by `slant`.
        sheared = shear_images(upright, -slant)
        assert _skew(sheared)[0] == pytest.approx(slant, abs=0.03)
        restored = deskew_images(sheared, centre=False)
        assert abs(_skew(restored)[0]) < 0.02
        # Back to the upright digit, up to the blur of two bilinear resamplings.
        error = np.abs(restored - upright).mean()
        assert error < 0.03
        assert np.abs(sheared - upright).mean() > 3 * error
        # Centred, the sheared and the upright digit deskew to the same image.
        centred = np.abs(deskew_images(sheared) - deskew_images(upright)).mean()
        assert centred < 0.03


def test_deskewer_centres_and_keeps_shape(digits):
    out = Deskewer().fit_transform(digits.X.astype(np.float32))
    assert out.shape == digits.X.shape and out.dtype == np.float32
    images = out.reshape(-1, 8, 8)
    assert np.abs(_skew(images)).mean() < 0.25 * np.abs(_skew(digits.images.astype(float))).mean()
    # Centre of mass moved to the middle (3.5, 3.5), up to what falls off the border.
    rows = (images.sum(axis=2) * np.arange(8)).sum(axis=1) / images.sum(axis=(1, 2))
    assert np.abs(rows - 3.5).mean() < 0.25
    blank = np.zeros((2, 64), dtype=np.float32)
    np.testing.assert_array_equal(Deskewer().fit_transform(blank), blank)
    with pytest.raises(ValueError, match="max_skew must be non-negative"):
        Deskewer(max_skew=-1).fit(digits.X)
