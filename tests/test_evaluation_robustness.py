"""Corruptions' exact effects, and accuracy under corruption."""

from __future__ import annotations

import numpy as np
import pytest

from shallowvision.evaluation import (
    blur,
    contrast,
    corrupt,
    evaluate_robustness,
    gaussian_noise,
    get_corruption_names,
    invert,
    rotate,
    shift,
)
from shallowvision.exceptions import ConfigError, DataError


def _dot(n: int = 1, at: tuple[int, int] = (10, 12)) -> np.ndarray:
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, at[0], at[1]] = 200
    return images


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_shift_moves_a_known_pixel_by_severity_pixels(severity):
    images = _dot(400)
    out = shift(images, severity, random_state=0)
    rows, cols = np.nonzero(out.reshape(400, -1) == 200)
    assert np.array_equal(rows, np.arange(400))  # exactly one bright pixel per image
    dy, dx = np.divmod(cols, 28)[0] - 10, np.divmod(cols, 28)[1] - 12
    assert set(zip(dy.tolist(), dx.tolist(), strict=True)) == {
        (a, b)
        for a in (-severity, 0, severity)
        for b in (-severity, 0, severity)
        if (a, b) != (0, 0)
    }
    assert out.sum() == images.sum()


def test_shift_fills_with_zero_and_loses_what_leaves():
    images = _dot(50, at=(0, 0))
    out = shift(images, 1, random_state=1)
    # Half-ish of the directions push the corner pixel out of the image.
    lost = out.reshape(50, -1).max(axis=1) == 0
    assert 0 < lost.sum() < 50


def test_inversion_twice_is_identity_and_exact():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 6, 7), dtype=np.uint8)
    np.testing.assert_array_equal(invert(images), 255 - images.astype(int))
    np.testing.assert_array_equal(invert(invert(images)), images)
    with pytest.raises(ConfigError, match="severity 2 is out of range for 'invert'"):
        invert(images, 2)


def test_corruptions_are_pure_seeded_and_keep_shape_and_dtype():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 8, 9), dtype=np.uint8)
    before = images.copy()
    for name in get_corruption_names():
        a = corrupt(images, name, 1, random_state=5)
        b = corrupt(images, name, 1, random_state=5)
        assert a.dtype == np.uint8 and a.shape == images.shape
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(images, before)
    assert not np.array_equal(gaussian_noise(images, 1, 1), gaussian_noise(images, 1, 2))
    assert not np.array_equal(shift(images, 1, 1), shift(images, 1, 2))


def test_noise_has_the_promised_spread():
    grey = np.full((50, 28, 28), 128, dtype=np.uint8)
    for severity, sigma in ((1, 0.05), (2, 0.10), (3, 0.20)):
        diff = gaussian_noise(grey, severity, 0).astype(float) - 128
        assert abs(diff.mean()) < 0.5
        assert diff.std() == pytest.approx(sigma * 255, rel=0.03)


def test_blur_keeps_flat_images_and_spreads_a_dot():
    flat = np.full((2, 10, 10), 90, dtype=np.uint8)
    np.testing.assert_array_equal(blur(flat, 3), flat)
    out = blur(_dot(), 2).astype(int)
    assert out.max() < 200 and out[0, 10, 12] == out.max()
    assert out.sum() == pytest.approx(200, rel=0.05)


def test_contrast_keeps_the_mean_and_shrinks_the_spread():
    rng = np.random.default_rng(0)
    images = rng.integers(50, 200, (4, 28, 28), dtype=np.uint8)
    out = contrast(images, 1)  # keeps 0.4 of each pixel's deviation
    assert out.mean(axis=(1, 2)) == pytest.approx(images.mean(axis=(1, 2)), abs=0.5)
    assert out.std(axis=(1, 2)) == pytest.approx(0.4 * images.std(axis=(1, 2)), abs=0.5)


def test_rotation_keeps_a_centred_disc_and_turns_a_bar():
    yy, xx = np.mgrid[:29, :29] - 14
    disc = ((yy**2 + xx**2) <= 36).astype(np.uint8)[None] * 255
    assert np.abs(rotate(disc, 3, 0).astype(int) - disc).mean() < 3
    bar = np.zeros((1, 29, 29), dtype=np.uint8)
    bar[0, 14, 2:27] = 255
    turned = rotate(bar, 3, 0)  # 30 degrees: the bar's ends leave row 14
    assert turned[0, 14, 2] < 50 and turned[0, 14, 14] > 200


def test_bad_corruption_requests_say_what_is_allowed():
    images = _dot()
    with pytest.raises(ConfigError, match="unknown corruption 'fog'; choose from shift, rotate"):
        corrupt(images, "fog")
    with pytest.raises(ConfigError, match="severity 4 is out of range for 'shift': use 1..3"):
        shift(images, 4)
    with pytest.raises(DataError, match="uint8 batch"):
        shift(images.astype(float), 1)


def test_evaluate_robustness_table_and_curves(digits_model):
    test = digits_model.test
    result = evaluate_robustness(digits_model.model, test.images, test.labels, random_state=0)
    assert result.clean_accuracy == pytest.approx(digits_model.model.score(test.X, test.labels))
    assert len(result.rows) == 5 * 3 + 1
    by = {(r.corruption, r.severity): r for r in result.rows}
    assert by[("invert", 1)].accuracy < 0.5
    assert by[("shift", 3)].accuracy < by[("shift", 1)].accuracy < result.clean_accuracy
    assert by[("blur", 2)].drop == pytest.approx(result.clean_accuracy - by[("blur", 2)].accuracy)
    severity, accuracy = result.curves()["rotate"]
    np.testing.assert_array_equal(severity, [0, 1, 2, 3])
    assert accuracy[0] == result.clean_accuracy
    again = evaluate_robustness(digits_model.model, test.images, test.labels, random_state=0)
    assert again.to_dict() == result.to_dict()
    one = evaluate_robustness(
        digits_model.model, test.images, test.labels, corruptions=["gaussian_noise"], severities=[2]
    )
    # Each (corruption, severity) has its own seed: running it alone gives the same number.
    assert one.rows[0].accuracy == by[("gaussian_noise", 2)].accuracy
