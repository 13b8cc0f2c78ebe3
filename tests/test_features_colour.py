"""Features of colour images: HOG on each pixel's strongest channel, colour histograms,
k-means patches of all three channels, and a shape that is given, never guessed."""

import numpy as np
import pytest

from shallowvision.exceptions import ConfigError
from shallowvision.features import (
    ColorHistogram,
    Deskewer,
    HOGTransformer,
    ImagePCA,
    PatchKMeansTransformer,
    PixelScaler,
    hog_images,
    infer_image_shape,
)


@pytest.fixture(scope="module")
def photo_crops() -> np.ndarray:
    """24 real 20x24 colour crops of scikit-learn's two sample photographs, floats in [0, 1]."""
    from sklearn.datasets import load_sample_images

    crops = [
        photo[top : top + 20, left : left + 24]
        for photo in load_sample_images().images
        for top in (40, 150, 260, 330)
        for left in (60, 300, 500)
    ]
    return np.stack(crops).astype(np.float32) / 255


# -- the shape: given, or a grey square ---------------------------------------------------------
def test_a_colour_width_without_a_shape_is_refused_where_neighbours_matter():
    X = np.zeros((4, 28 * 28 * 3), dtype=np.float32)
    for transformer in (HOGTransformer(), PatchKMeansTransformer(), ColorHistogram(), Deskewer()):
        with pytest.raises(ConfigError, match=r"image_shape=\(28, 28, 3\)"):
            transformer.fit(X)
    # Pixel-wise steps need no neighbours: they still take the width as one row.
    assert PixelScaler().fit(X).image_shape_ == (1, 28 * 28 * 3)
    # Grey squares are still inferred, and other widths still read as one row.
    assert infer_image_shape(784, spatial=True) == (28, 28)
    assert infer_image_shape(10, spatial=True) == (1, 10)
    assert infer_image_shape(2352, (28, 28, 3)) == (28, 28, 3)


@pytest.mark.parametrize("bad", [(28, 28, 2), (28, 28, 3, 1), (28,), (0, 28), "28x28"])
def test_an_image_shape_is_height_width_and_three_channels_at_most(bad):
    with pytest.raises(ConfigError, match="image_shape must be"):
        infer_image_shape(784, bad)


def test_a_shape_that_does_not_match_the_width_names_both():
    with pytest.raises(ConfigError, match="image_shape 28x28x3 has 2352 values but X has 784"):
        HOGTransformer(image_shape=(28, 28, 3)).fit(np.zeros((2, 784)))


def test_deskewing_refuses_colour():
    with pytest.raises(ConfigError, match="Deskewer works on grey images"):
        Deskewer(image_shape=(8, 8, 3)).fit(np.zeros((2, 192)))


# -- HOG ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "opencv"])
@pytest.mark.parametrize(("cell", "block", "norm"), [(4, 2, "L2-Hys"), (5, 1, "L1"), (3, 3, "L2")])
def test_colour_hog_equals_scikit_image(photo_crops, backend, cell, block, norm):
    feature = pytest.importorskip("skimage.feature")
    if backend == "opencv":
        pytest.importorskip("cv2")
    expected = np.stack(
        [
            feature.hog(
                image,
                pixels_per_cell=(cell, cell),
                cells_per_block=(block, block),
                block_norm=norm,
                channel_axis=-1,
            )
            for image in photo_crops
        ]
    )
    ours = hog_images(
        photo_crops, pixels_per_cell=cell, cells_per_block=block, block_norm=norm, backend=backend
    )
    assert ours.shape == expected.shape and ours.dtype == np.float32
    # OpenCV's angles are within about 0.3 degrees: a few gradients change bins.
    if backend == "numpy":
        np.testing.assert_allclose(ours, expected, atol=1e-6)
    else:
        assert np.abs(ours - expected).mean() < 1e-3


def test_colour_hog_takes_each_pixels_strongest_channel():
    # A red edge and a weaker blue edge at right angles: each pixel's gradient is the
    # red one where red changes, the blue one only where red is flat.
    image = np.zeros((1, 8, 8, 3), dtype=np.float32)
    image[0, :, 4:, 0] = 1.0  # red: vertical edge, horizontal gradient (0 degrees)
    image[0, 4:, :, 2] = 0.5  # blue: horizontal edge, vertical gradient (90 degrees)
    # The top-left 4x4 cell: red's gradient 1 at column 3 (4 pixels, bin 0), blue's 0.5 at
    # row 3 (columns 0-2: pixel (3, 3) keeps red's, the stronger; bin 4 of 9), L1-normalised.
    cells = hog_images(image, pixels_per_cell=4, cells_per_block=1, block_norm="L1")
    top_left = cells.reshape(2, 2, 9)[0, 0]
    np.testing.assert_allclose(top_left[[0, 4]], [4 / 5.5, 1.5 / 5.5], rtol=1e-4)
    assert np.count_nonzero(top_left) == 2
    # The same grey image in three channels is the grey HOG.
    grey = np.random.default_rng(0).random((3, 12, 12), dtype=np.float32)
    np.testing.assert_array_equal(
        hog_images(np.repeat(grey[..., None], 3, axis=-1)), hog_images(grey)
    )


def test_hog_transformer_on_flattened_colour(photo_crops):
    X = photo_crops.reshape(len(photo_crops), -1)
    hog = HOGTransformer(image_shape=(20, 24, 3), backend="numpy").fit(X)
    assert hog.image_shape_ == (20, 24, 3) and hog.n_output_features_ == 4 * 5 * 36
    np.testing.assert_array_equal(hog.transform(X), hog_images(photo_crops))


# -- colour histograms --------------------------------------------------------------------------
def test_lab_conversion_equals_scikit_image(photo_crops):
    color = pytest.importorskip("skimage.color")
    from shallowvision.features._color import rgb_to_lab

    ours = rgb_to_lab(photo_crops)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, color.rgb2lab(photo_crops.astype(np.float64)), atol=1e-4)


def test_colour_histograms_equal_numpy_histograms_region_by_region(photo_crops):
    color = pytest.importorskip("skimage.color")
    X = photo_crops.reshape(len(photo_crops), -1)
    hist = ColorHistogram(space="hsv", bins=(6, 4, 5), grid=(2, 3), image_shape=(20, 24, 3))
    out = hist.fit(X).transform(X)
    assert out.shape == (len(X), 6 * 15) and out.dtype == np.float32
    # The crops are 8-bit colours, so many lie exactly on a bin's edge (a saturation of
    # 15/60 on 1/4), where float rounding puts skimage's value either side; exactly, it
    # belongs to the bin above. Values off an edge are more than 1e-5 from it, and the
    # float32 crops are within 1e-7 of their 8-bit levels.
    hsv = np.minimum(color.rgb2hsv(photo_crops.astype(np.float64)) + 1e-6, 1.0)
    expected = [
        np.histogram(region[..., c], bins=b, range=(0, 1))[0] / region[..., c].size
        for image in hsv
        for rows in (slice(0, 10), slice(10, 20))
        for cols in (slice(0, 8), slice(8, 16), slice(16, 24))
        for region in [image[rows, cols]]
        for c, b in enumerate((6, 4, 5))
    ]
    np.testing.assert_allclose(out.ravel(), np.concatenate(expected), atol=1e-6)
    # Every channel's histogram in a region holds all the region's pixels.
    sums = [part.sum(axis=-1) for part in np.split(out.reshape(len(X), 6, 15), [6, 10], axis=-1)]
    np.testing.assert_allclose(np.stack(sums), 1.0, rtol=1e-6)


def test_colour_histograms_tell_hues_apart_that_grey_cannot():
    # Red and green of equal luma: the same grey, different hue bins.
    red, green = np.array([0.86, 0.30, 0.30]), np.array([0.30, 0.59, 0.30])
    images = np.stack([np.broadcast_to(c, (6, 6, 3)) for c in (red, green)]).astype(np.float32)
    out = ColorHistogram(bins=6, grid=1, image_shape=(6, 6, 3)).fit_transform(images.reshape(2, -1))
    assert not np.array_equal(out[0, :6], out[1, :6])  # hue
    assert out[0, 0] == 1.0 and out[1, 2] == 1.0  # red in the first sixth, green in the third
    grey = ColorHistogram(bins=6, grid=1).fit_transform(images.mean(axis=-1).reshape(2, -1))
    assert grey.shape == (2, 18) and np.all(grey[:, :6] == [1, 0, 0, 0, 0, 0])  # no hue


def test_colour_histograms_reject_bad_parameters():
    X = np.zeros((2, 12), dtype=np.float32)
    with pytest.raises(ConfigError, match="space must be one of hsv, lab, rgb"):
        ColorHistogram(space="yuv", image_shape=(2, 2, 3)).fit(X)
    with pytest.raises(ConfigError, match="bins must be a positive int or three"):
        ColorHistogram(bins=(4, 4), image_shape=(2, 2, 3)).fit(X)
    with pytest.raises(ConfigError, match="grid must be a positive int or a pair"):
        ColorHistogram(grid=0, image_shape=(2, 2, 3)).fit(X)


# -- k-means patches ----------------------------------------------------------------------------
def test_colour_patches_hold_three_channels_in_the_order_transform_reads_them(photo_crops):
    X = photo_crops.reshape(len(photo_crops), -1)
    patches = PatchKMeansTransformer(
        n_clusters=8, patch_size=4, pool=2, n_patches=2000, image_shape=(20, 24, 3), random_state=0
    ).fit(X)
    assert patches.centroids_.shape == (8, 3 * 16) and patches.whitening_.shape == (48, 48)
    out = patches.transform(X)
    assert out.shape == (len(X), 8 * 4) and out.dtype == np.float32
    # Images of one patch each: a code is the triangle activation of that very patch,
    # read as the dictionary was learnt (channel by channel).
    tiles = np.lib.stride_tricks.sliding_window_view(photo_crops, (4, 4), axis=(1, 2))
    tiles = tiles[:, ::4, ::4].transpose(0, 1, 2, 4, 5, 3).reshape(-1, 4, 4, 3)
    one = PatchKMeansTransformer(
        n_clusters=8, patch_size=4, pool=1, image_shape=(4, 4, 3), random_state=0
    ).fit(tiles.reshape(len(tiles), -1))
    patch = tiles[7]
    expected = {}
    for order, flat in (("channels", patch.transpose(2, 0, 1)), ("pixels", patch)):
        centred = flat.reshape(-1) - flat.mean()
        centred /= np.sqrt((centred**2).mean() + 0.01)
        distances = np.linalg.norm(
            (centred - one.patch_mean_) @ one.whitening_ - one.centroids_, axis=1
        )
        expected[order] = np.sqrt(np.maximum(distances.mean() - distances, 0))
    code = one.transform(patch.reshape(1, -1))[0]
    np.testing.assert_allclose(code, expected["channels"], atol=2e-4)
    assert np.abs(code - expected["pixels"]).max() > 1e-2


def test_pca_components_are_drawn_as_colour_images(photo_crops):
    X = photo_crops.reshape(len(photo_crops), -1)
    pca = ImagePCA(n_components=3, image_shape=(20, 24, 3)).fit(X)
    assert pca.components_as_images().shape == (3, 20, 24, 3)
