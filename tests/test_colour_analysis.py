"""Analysis of colour images: EDA per channel, explanations per pixel over the colour
picture, whole-pixel selection, colour corruptions and colour drawings.

The constructed sets put the colour signal where a test can find it: classes of flat
known colours (per-channel means), and a patch whose colour (at equal luma) is the only
difference between two classes, in a field of grey noise.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError, DataError

#: Two colours of equal luma (115.6 and 115.3): a grey conversion cannot tell them apart.
PATCH_COLOURS = np.array([[200, 80, 80], [90, 90, 232]])


def flat_colours(per_class=6, side=5):
    """Three classes of flat colours, each image a known colour plus a known step."""
    base = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]])
    images, labels = [], []
    for c, colour in enumerate(base):
        for i in range(per_class):
            images.append(np.broadcast_to(colour + 2 * i, (side, side, 3)))
            labels.append(c)
    return ImageSet(np.array(images, dtype=np.uint8), np.array(labels), ("r", "g", "b"))


def patch_set(n=80, side=12, seed=0):
    """Grey noise; the top-left 4x4 pixels are red or blue (equal luma) by class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    grey = rng.integers(60, 200, (n, side, side, 1))
    images = np.repeat(grey, 3, axis=3).astype(np.float64)
    images[:, :4, :4] = PATCH_COLOURS[y][:, None, None, :] + rng.normal(0, 6, (n, 4, 4, 3))
    pixels = np.clip(images.round(), 0, 255).astype(np.uint8)
    return ImageSet(pixels, y, ("red", "blue"), name="patch")


# -- EDA --------------------------------------------------------------------------------------
def test_colour_eda_counts_each_channel_and_hue_per_class():
    from shallowvision.eda import analyze

    data = flat_colours()
    result = analyze(data)
    assert result.image_shape == (5, 5, 3) and result.color == "rgb"
    steps = 2 * np.arange(6).mean()  # the mean of the added steps 0, 2, ..., 10
    expected = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]]) + steps
    np.testing.assert_allclose(result.colour.channel_means, expected)
    # Each channel's histogram: class r's red values are 200, 202, ..., 210, 25 pixels each.
    channels = result.pixels.channels
    assert channels.shape == (3, 3, 256)
    np.testing.assert_array_equal(np.flatnonzero(channels[0, 0]), 200 + 2 * np.arange(6))
    assert channels[0, 0, 200] == 25 and channels[0, 1].sum() == 6 * 25
    # The pooled histogram counts every channel value.
    np.testing.assert_array_equal(result.pixels.counts, channels.sum(axis=1))
    # Hues: red near 0, green near 120, blue near 240 degrees; nothing grey.
    np.testing.assert_allclose(result.colour.dominant_hue, [5, 125, 245])
    np.testing.assert_array_equal(result.colour.grey_share, 0)
    assert result.colour.hue_counts.sum(axis=1).tolist() == [150, 150, 150]
    # Colour mean and variance images, and the variance summed over the channels.
    ci = result.class_images
    assert ci.mean.shape == (3, 5, 5, 3) and ci.variance.shape == (3, 5, 5, 3)
    np.testing.assert_allclose(ci.mean[1, 2, 2], expected[1])
    np.testing.assert_allclose(ci.total_variance[0], 3 * np.var(2 * np.arange(6)))
    # Mean differences are averaged over the channels: r vs g differ by 170 in two of three.
    pair = next(p for p in result.differences.most_similar if {p.first, p.second} == {"r", "g"})
    assert pair.image.shape == (5, 5)
    assert pair.distance == pytest.approx(2 * 170 / 3)
    findings = "\n".join(result.findings())
    assert "colour images of 5x5 pixels" in findings and "commonest hue: r 5°" in findings


def test_colour_duplicates_compare_every_channel():
    from shallowvision.eda import analyze

    data = flat_colours()
    images = data.images.copy()
    images[1] = images[0]  # an exact copy
    images[3] = (201, 31, 57)
    images[2] = (31, 201, 57)  # the same values, red and green swapped
    result = analyze(ImageSet(images, data.labels, data.class_names), near_threshold=0.5)
    exact = result.duplicates_of("exact", "train")
    assert exact.n_pairs == 1 and {exact.first_index[0], exact.second_index[0]} == {0, 1}
    assert exact.images.shape == (1, 2, 5, 5, 3)
    # Swapped channels are neither an exact nor a near duplicate.
    near = result.duplicates_of("near", "train")
    assert not {2, 3} & (set(near.first_index) | set(near.second_index))


def test_colour_eda_writes_colour_figures_and_json(tmp_path):
    from shallowvision.eda import analyze, eda_figures, write_eda

    result = analyze(flat_colours())
    written = write_eda(result, tmp_path)
    assert {"channel_histograms", "hue_histogram", "mean_images", "samples"} <= set(written)
    stored = json.loads((tmp_path / "eda.json").read_text())
    assert np.array(stored["class_images"]["mean"]).shape == (3, 5, 5, 3)
    assert np.array(stored["colour"]["channel_means"]).shape == (3, 3)
    names = [name for name, _ in eda_figures(result)]
    assert names[:5] == [
        "class_balance",
        "samples",
        "pixel_histogram",
        "channel_histograms",
        "hue_histogram",
    ]
    # The sample grid is one picture of the colour images, not a heat map.
    samples = dict(eda_figures(result))["samples"]
    assert samples.data[0].type == "image" and samples.data[0].source.startswith("data:image/png")


def test_grey_eda_has_no_colour_parts(digits):
    from shallowvision.eda import analyze, eda_figures

    result = analyze(digits.subsample(n_per_class=10))
    assert result.colour is None and result.pixels.channels is None
    stored = result.to_dict()
    assert "colour" not in stored and "channels" not in stored["pixels"]
    names = {name for name, _ in eda_figures(result)}
    assert not names & {"channel_histograms", "hue_histogram"}


# -- drawing ----------------------------------------------------------------------------------
def test_colour_mosaic_keeps_the_colours_and_leaves_the_gaps_transparent():
    from shallowvision._plotting import mosaic, rgba_canvas

    images = np.zeros((2, 2, 3, 3), dtype=np.uint8)
    images[0] = (255, 0, 0)
    images[1] = (0, 0, 255)
    canvas, corners = mosaic(images, np.arange(2), n_cols=2, gap=1)
    assert canvas.shape == (2, 7, 3) and corners == [(0, 0), (0, 4)]
    rgba = rgba_canvas(canvas)
    np.testing.assert_array_equal(rgba[0, 0], [1, 0, 0, 1])
    np.testing.assert_array_equal(rgba[1, 5], [0, 0, 1, 1])
    assert rgba[0, 3, 3] == 0  # the gap


def test_gallery_draws_colour_images_in_colour():
    from shallowvision.evaluation import GalleryDisplay, confidently_wrong

    data = flat_colours()
    proba = np.full((len(data), 3), 0.1)
    proba[np.arange(len(data)), (data.labels + 1) % 3] = 0.8  # every image wrong
    gallery = confidently_wrong(data.labels, proba, class_names=data.class_names, max_images=4)
    display = GalleryDisplay(gallery, data.images).plot()
    drawn = display.ax_.images[0].get_array()
    assert drawn.shape[-1] == 4  # RGBA, not a colour map over one channel
    np.testing.assert_allclose(drawn[0, 0, :3], data.images[gallery.indices[0], 0, 0] / 255)


# -- explanations -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["lr", "rf", "nb"])
def test_colour_explanations_are_pixel_maps_that_find_the_coloured_patch(name):
    from shallowvision.explain import explain_model
    from shallowvision.models import get_model

    train, test = patch_set(), patch_set(40, seed=1)
    model = get_model(name, n_jobs=1).fit(train.X, train.y)
    e = explain_model(
        model,
        test,
        name=name,
        n_explain=20,
        n_background=20,
        n_permutation=40,
        max_evals=300,
        indices=[0],
    )
    assert e.explainer == {"lr": "linear", "rf": "tree", "nb": "partition"}[name]
    assert e.image_shape == (12, 12)
    assert e.class_mean_abs.shape == (2, 12, 12) and e.mean_abs.shape == (12, 12)
    assert e.permutation.values.shape == (12, 12)
    assert e.additivity_error < 1e-6
    patch = np.zeros((12, 12), dtype=bool)
    patch[:4, :4] = True
    assert e.mean_abs[patch].mean() > 5 * e.mean_abs[~patch].mean()
    chosen = e.chosen()[0]
    assert chosen.pixels.shape == (12, 12, 3) and chosen.predicted_values.shape == (12, 12)


def test_whole_pixels_pack_and_permute_the_three_values_together():
    from shallowvision.explain import permutation_importance_image
    from shallowvision.explain._explain import WholePixels

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (7, 5 * 3), dtype=np.uint8)
    np.testing.assert_array_equal(WholePixels.unpack(WholePixels.pack(X).astype(float)), X)
    unpacked = WholePixels.unpack(WholePixels.pack(X))
    assert unpacked.dtype == np.uint8
    np.testing.assert_array_equal(unpacked, X)

    class ReadsOnePixel:
        """Predicts from pixel 2 alone: its red value above its blue one."""

        n_features_in_ = 15

        def predict(self, rows):
            rows = np.asarray(rows).reshape(len(rows), 5, 3).astype(int)
            return (rows[:, 2, 0] > rows[:, 2, 2]).astype(int)

    y = ReadsOnePixel().predict(X)
    X_balanced = np.concatenate([X, X[:, ::-1]])
    y_balanced = ReadsOnePixel().predict(X_balanced)
    found = permutation_importance_image(
        ReadsOnePixel(), X_balanced, y_balanced, (1, 5, 3), n_repeats=5, random_state=0
    )
    assert found.values.shape == (1, 5)
    assert found.values[0, 2] > 0 and np.all(found.values[0, [0, 1, 3, 4]] == 0)
    assert len(y) == 7


# -- pixel selection --------------------------------------------------------------------------
def test_selection_on_colour_keeps_whole_pixels():
    from shallowvision.models import evaluate_selection

    train, validation = patch_set(), patch_set(40, seed=1)
    result = evaluate_selection("model", 16, "rf", train, validation, random_state=0)
    assert result.mask.shape == (12, 12) and result.scores.shape == (12, 12)
    assert result.n_kept == 16 and result.n_features == 144
    assert result.mask[:4, :4].all()  # the coloured patch is what is kept
    support = result.selector.get_support().reshape(144, 3)
    assert (support.all(axis=1) | ~support.any(axis=1)).all()  # three values or none
    assert result.selector.transform(validation.X).shape == (40, 48)
    assert result.kept_pixels.accuracy >= 0.95


# -- corruptions ------------------------------------------------------------------------------
def test_colour_corruptions_values():
    from shallowvision.evaluation import (
        color_jitter,
        corrupt,
        get_corruption_names,
        grayscale,
        hue_shift,
        saturation,
    )
    from shallowvision.evaluation._robustness import adjust_hue, adjust_saturation

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 7, 8, 3), dtype=np.uint8)
    f = x.astype(np.float64)
    # A hue turn of 0 (or a full turn) changes nothing.
    assert np.abs(adjust_hue(f, 0) - f).max() < 1e-3
    assert np.abs(adjust_hue(f, 360) - f).max() < 1e-3
    # A turn of 120 degrees moves pure red to pure green, and keeps grey grey.
    np.testing.assert_allclose(adjust_hue(np.array([[[255.0, 0, 0]]]), 120), [[[0, 255, 0]]])
    np.testing.assert_allclose(adjust_hue(np.full((1, 1, 3), 77.0), 120), 77, atol=1e-3)
    # Saturation 0 gives the grey level in every channel; 1 changes nothing.
    grey = adjust_saturation(f, 0.0)
    np.testing.assert_allclose(grey[..., 0], f @ [0.299, 0.587, 0.114])
    np.testing.assert_allclose(grey[..., 0], grey[..., 2])
    np.testing.assert_allclose(adjust_saturation(f, 1.0), f)
    # Grey conversion: equal channels at the luma Pillow gives.
    from PIL import Image

    g = grayscale(x)
    assert g.shape == x.shape and (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    pillow = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in x])
    np.testing.assert_array_equal(g[..., 0], pillow)
    # Severities grow: less saturation kept, more hue turned; seeded and pure.
    spread = [np.abs(saturation(x, s).astype(int) - g).mean() for s in (1, 2, 3)]
    assert spread[0] > spread[1] > spread[2]
    turned = [np.abs(hue_shift(x, s, 0).astype(int) - x).mean() for s in (1, 2, 3)]
    assert turned[0] < turned[1] < turned[2]
    before = x.copy()
    for name in get_corruption_names("rgb"):
        a, b = corrupt(x, name, 1, 3), corrupt(x, name, 1, 3)
        assert a.shape == x.shape and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(color_jitter(x, 2, 1), color_jitter(x, 2, 2))


def test_grey_corruptions_work_per_channel_and_colour_ones_need_colour():
    from shallowvision.evaluation import blur, contrast, get_corruption_names, hue_shift, shift

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4, 9, 9, 3), dtype=np.uint8)
    # Each channel is corrupted as the same grey images would be (same seed, same shift).
    for function in (shift, blur, contrast):
        together = function(x, 2, 7)
        for ch in range(3):
            np.testing.assert_array_equal(together[..., ch], function(x[..., ch].copy(), 2, 7))
    assert get_corruption_names() == [
        "shift",
        "rotate",
        "gaussian_noise",
        "blur",
        "contrast",
        "invert",
    ]
    assert get_corruption_names("rgb")[6:] == [
        "hue_shift",
        "saturation",
        "color_jitter",
        "grayscale",
    ]
    with pytest.raises(DataError, match="hue_shift changes colours"):
        hue_shift(x[..., 0], 1)


def test_robustness_of_a_colour_model_runs_the_colour_corruptions():
    from shallowvision.evaluation import evaluate_robustness
    from shallowvision.models import get_model

    train, test = patch_set(), patch_set(40, seed=1)
    model = get_model("lr").fit(train.X, train.y)
    result = evaluate_robustness(model, test.images, test.labels, random_state=0)
    by = {(r.corruption, r.severity): r.accuracy for r in result.rows}
    assert {c for c, _ in by} >= {"hue_shift", "saturation", "color_jitter", "grayscale"}
    assert result.clean_accuracy == 1.0
    # The classes differ only in colour at equal luma: grey leaves a coin toss.
    assert by[("grayscale", 1)] <= 0.75
    with pytest.raises(ConfigError, match="grayscale changes colours, and these images are grey"):
        evaluate_robustness(
            model, test.images[..., 0], test.labels, corruptions=["grayscale"], random_state=0
        )


# -- a whole run ------------------------------------------------------------------------------
def test_a_colour_run_explores_explains_and_corrupts_in_colour(tmp_path):
    from PIL import Image

    from shallowvision.run import build_config, run_study

    data = patch_set(120)
    for c, name in enumerate(data.class_names):
        (tmp_path / "patches" / name).mkdir(parents=True)
        for i in np.flatnonzero(data.labels == c):
            Image.fromarray(data.images[i]).save(tmp_path / "patches" / name / f"{i}.png")
    config = build_config(
        overrides={
            "data": {"dataset": str(tmp_path / "patches")},
            "compare": {"models": ["lr", "nb"]},
            "tune": {"enabled": False},
            "explain": {"n_explain": 10, "n_background": 10, "n_permutation": 20},
        }
    )
    run_dir = run_study(config, out_dir=tmp_path / "runs", run_id="colour")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for stage in ("eda", "explain", "select", "robustness", "errors", "report"):
        assert manifest["stages"][stage]["status"] == "done", stage

    def result(stage):
        return json.loads((run_dir / "stages" / f"{stage}.json").read_text())["result"]

    eda = result("eda")
    assert eda["eda"]["image_shape"] == [12, 12, 3]
    means = np.array(eda["eda"]["colour"]["channel_means"])
    red, blue = (eda["eda"]["class_names"].index(name) for name in ("red", "blue"))
    # The patch (16 of 144 pixels) tints the red class red and the blue class blue.
    assert means[red, 0] > means[red, 2] and means[blue, 2] > means[blue, 0]
    assert {"eda-channel_histograms", "eda-hue_histogram"} <= set(eda["charts"])
    rows = result("robustness")["models"][0]["rows"]
    by = {(r["corruption"], r["severity"]): r["accuracy"] for r in rows}
    assert by[("grayscale", 1)] <= 0.75 and ("hue_shift", 1) in by
    explanation = json.loads((run_dir / "explanation.json").read_text())
    mean_abs = np.array(explanation["mean_abs"])
    assert mean_abs.shape == (12, 12) and mean_abs[:4, :4].mean() > 3 * mean_abs[4:, 4:].mean()
    selection = result("select")["selection"]
    assert np.array(selection["mask"]).shape == (12, 12)
    samples = json.loads((run_dir / "figures" / "eda-samples.json").read_text())
    assert samples["data"][0]["type"] == "image"
    report = (run_dir / "report.html").read_text()
    assert "12x12 colour images" in report and "chart-eda-hue_histogram" in report


def test_eda_of_wide_colour_images_samples_its_principal_axes_quickly():
    """64x64 colour is 12,288 values per image: no full covariance (1.2 GB, minutes of
    eigenvectors); the leading axes come from a sample and match the exact ones."""
    import time

    from shallowvision.eda._scan import (
        MAX_COVARIANCE_VALUES,
        sampled_principal_axes,
        scan_train,
    )

    rng = np.random.default_rng(0)
    n, side = 300, 64
    # Images built from 5 smooth colour patterns plus noise: a few strong axes.
    patterns = rng.integers(0, 256, (5, side, side, 3)).astype(np.float32)
    weights = rng.random((n, 5)).astype(np.float32)
    images = np.clip(
        np.einsum("nk,khwc->nhwc", weights, patterns) / 2.5 + rng.normal(0, 4, (n, side, side, 3)),
        0,
        255,
    ).astype(np.uint8)
    labels = np.arange(n) % 3
    started = time.perf_counter()
    scan = scan_train(images, labels, 3)
    values, axes = sampled_principal_axes(
        images, scan.overall_mean(), n_components=8, random_state=0
    )
    assert time.perf_counter() - started < 30
    assert scan.covariance is None and side * side * 3 > MAX_COVARIANCE_VALUES
    # The same leading variances as an exact decomposition of these images' covariance.
    flat = images.reshape(n, -1).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    exact = np.linalg.svd(centred, compute_uv=False) ** 2 / n
    assert values[:5] == pytest.approx(exact[:5], rel=1e-3)
    assert scan.total_variance() == pytest.approx(exact.sum(), rel=1e-6)
    assert np.allclose(axes.T @ axes, np.eye(axes.shape[1]), atol=1e-4)
