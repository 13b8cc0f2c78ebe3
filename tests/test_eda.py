"""The exploratory analysis: its numbers against numpy and scikit-learn, planted duplicates,
known images, other image sizes and class counts, its figures and its command."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances

from shallowvision.datasets import ImageSet, load
from shallowvision.eda import (
    CentreOfMassDisplay,
    ClassBalanceDisplay,
    ClassImagesDisplay,
    DifferencesDisplay,
    DistributionDisplay,
    DuplicatesDisplay,
    ExplainedVarianceDisplay,
    ImageGridDisplay,
    PixelHistogramDisplay,
    ProjectionDisplay,
    analyze,
    eda_figures,
    image_grid_figure,
    summary_text,
    write_eda,
)
from shallowvision.eda._duplicates import near_pairs
from shallowvision.eda._scan import principal_axes, project, scan_train
from shallowvision.exceptions import ConfigError, DataError


@pytest.fixture(scope="module")
def digits_test():
    return load("digits", "test")


@pytest.fixture(scope="module")
def result(digits, digits_test):
    return analyze(digits, digits_test, compare_class="8", n_samples=5, n_atypical=4)


def _class_members(images: ImageSet, c: int) -> np.ndarray:
    return images.images[images.labels == c].astype(np.float64)


# -- numbers ----------------------------------------------------------------------------------
def test_class_counts_and_balance(result, digits, digits_test):
    b = result.balance
    np.testing.assert_array_equal(b.train_counts, np.bincount(digits.labels, minlength=10))
    np.testing.assert_array_equal(b.test_counts, np.bincount(digits_test.labels, minlength=10))
    assert b.balanced and b.imbalance_ratio == pytest.approx(146 / 139)
    assert result.findings()[1] == "train is balanced: 139 to 146 images per class"


def test_mean_and_variance_images_equal_numpy(result, digits):
    ci = result.class_images
    for c in range(10):
        members = _class_members(digits, c)
        np.testing.assert_allclose(ci.mean[c], members.mean(axis=0), rtol=0, atol=1e-9)
        np.testing.assert_allclose(ci.variance[c], members.var(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        ci.overall_mean, digits.images.astype(np.float64).mean(axis=0), atol=1e-9
    )


def test_ink_statistics_equal_numpy(result, digits):
    ink, x = result.ink, digits.images.reshape(len(digits), -1).astype(np.float64)
    for c in range(10):
        members = x[digits.labels == c]
        assert ink.mean_intensity.mean[c] == pytest.approx(members.mean(), abs=1e-9)
        assert ink.nonzero_share.mean[c] == pytest.approx((members > 0).mean(), abs=1e-12)
        per_image = members.mean(axis=1)
        np.testing.assert_allclose(
            ink.mean_intensity.quantiles[c], np.quantile(per_image, [0.05, 0.25, 0.5, 0.75, 0.95])
        )
        assert ink.mean_intensity.counts[c].sum() == len(members)
    assert ink.n_blank == 0 and ink.centre_x.n_undefined == 0


def test_pixel_histogram_equals_bincount(result, digits):
    for c in (0, 7):
        expected = np.bincount(digits.images[digits.labels == c].ravel(), minlength=256)
        np.testing.assert_array_equal(result.pixels.counts[c], expected)
    assert result.pixels.share_zero == pytest.approx((digits.images == 0).mean())


def test_pca_matches_scikit_learn(result, digits):
    pca = PCA().fit(digits.X.astype(np.float64))
    np.testing.assert_allclose(
        result.pca.explained_variance_ratio[:20], pca.explained_variance_ratio_[:20], rtol=1e-4
    )
    assert result.pca.components_needed[3] == int(
        np.searchsorted(np.cumsum(pca.explained_variance_ratio_), 0.95) + 1
    )
    # The 2-D projection is scikit-learn's up to the sign of each axis.
    expected = pca.transform(digits.X[result.pca.indices].astype(np.float64))[:, :2]
    np.testing.assert_allclose(np.abs(result.pca.coordinates), np.abs(expected), atol=0.02)
    assert len(result.pca.indices) == len(digits)  # fewer images than n_projection


def test_class_differences(result, digits):
    d = result.differences
    means = result.class_images.mean.reshape(10, -1)
    expected = np.abs(means[:, None, :] - means[None, :, :]).mean(axis=2)
    np.testing.assert_allclose(d.distance, expected, atol=1e-9)
    off = expected + np.diag(np.full(10, np.inf))
    a, b = np.unravel_index(np.argmin(off), off.shape)
    closest = d.most_similar[0]
    assert {closest.first_index, closest.second_index} == {a, b}
    np.testing.assert_allclose(closest.image, np.abs(means[a] - means[b]).reshape(8, 8))
    assert d.compare_class == "8" and len(d.against_others) == 9
    distances = [p.distance for p in d.against_others]
    assert distances == sorted(distances) and distances[0] == pytest.approx(np.sort(off[8])[0])
    nearest = d.against_others[0].second
    assert f"8's mean image is closest to {nearest}'s" in " ".join(result.findings())


def test_samples_are_seeded_and_atypical_are_farthest(result, digits):
    g = result.samples
    assert g.indices.shape == (10, 5) and g.images.shape == (10, 5, 8, 8)
    for c in range(10):
        assert (digits.labels[g.indices[c]] == c).all()
        np.testing.assert_array_equal(g.images[c], digits.images[g.indices[c]])
    again = analyze(digits, n_samples=5, compare_class="8").samples
    np.testing.assert_array_equal(again.indices, g.indices)
    other = analyze(digits, n_samples=5, random_state=1).samples
    assert not np.array_equal(other.indices, g.indices)
    x = digits.X.astype(np.float64)
    for c in (0, 5):
        members = np.flatnonzero(digits.labels == c)
        rms = np.sqrt(((x[members] - x[members].mean(axis=0)) ** 2).mean(axis=1))
        top = members[np.argsort(-rms, kind="stable")[:4]]
        np.testing.assert_array_equal(result.atypical.indices[c], top)
        np.testing.assert_allclose(
            result.atypical.scores[c], np.sort(rms)[::-1][:4] / np.median(rms), rtol=1e-5
        )


def test_centre_of_mass_and_spread_of_known_images():
    images = np.zeros((3, 5, 7), dtype=np.uint8)
    images[0, 1, 4] = 200  # row 1, column 4
    images[0, 3, 0] = 100  # row 3, column 0
    images[1, 2, 3] = 50  # a single pixel: its own centre, no spread
    # images[2] stays blank
    s = ImageSet(images, np.array([0, 1, 1]), ("a", "b"), name="known")
    r = analyze(s, n_samples=1, n_projection=3)
    ink = r.ink
    assert ink.centre_x.mean[0] == pytest.approx((200 * 4 + 100 * 0) / 300)
    assert ink.centre_y.mean[0] == pytest.approx((200 * 1 + 100 * 3) / 300)
    cx, cy = 8 / 3, 5 / 3
    var = (200 * ((4 - cx) ** 2 + (1 - cy) ** 2) + 100 * ((0 - cx) ** 2 + (3 - cy) ** 2)) / 300
    assert ink.spread.mean[0] == pytest.approx(np.sqrt(var))
    assert (ink.centre_x.mean[1], ink.centre_y.mean[1], ink.spread.mean[1]) == (3.0, 2.0, 0.0)
    assert ink.n_blank == 1 and list(ink.blank_index) == [2]
    assert ink.centre_x.n_undefined == 1 and ink.mean_intensity.n_undefined == 0
    assert "1 blank training image (every pixel 0)" in r.findings()


# -- duplicates -------------------------------------------------------------------------------
def _planted(digits: ImageSet, digits_test: ImageSet) -> tuple[ImageSet, ImageSet]:
    train, test = digits.images.copy(), digits_test.images.copy()
    labels, test_labels = digits.labels.copy(), digits_test.labels.copy()
    train[20], labels[20] = train[10], labels[10]  # exact copy within train
    test[5], test_labels[5] = train[30], labels[30]  # exact copy of a training image in test
    noise = np.where(np.arange(64).reshape(8, 8) % 2, 4, -4)
    train[50] = np.clip(train[40].astype(int) + noise, 0, 255)  # near copy within train...
    labels[50] = (labels[40] + 1) % 10  # ...with another label
    test[7], test_labels[7] = np.clip(train[60].astype(int) + noise, 0, 255), labels[60]
    return (
        dataclasses.replace(digits, images=train, labels=labels),
        dataclasses.replace(digits_test, images=test, labels=test_labels),
    )


def test_planted_duplicates_are_found(digits, digits_test):
    train, test = _planted(digits, digits_test)
    r = analyze(train, test, near_threshold=6.0)
    exact_train = r.duplicates_of("exact", "train")
    assert (exact_train.n_pairs, exact_train.n_images, exact_train.n_label_conflicts) == (1, 2, 0)
    assert (exact_train.first_index[0], exact_train.second_index[0]) == (10, 20)
    np.testing.assert_array_equal(exact_train.images[0, 0], exact_train.images[0, 1])
    near_train = r.duplicates_of("near", "train")
    assert (near_train.n_pairs, near_train.n_label_conflicts) == (1, 1)
    assert (near_train.first_index[0], near_train.second_index[0]) == (40, 50)
    rms = np.sqrt(((train.images[40].astype(float) - train.images[50]) ** 2).mean())
    assert near_train.distance[0] == pytest.approx(rms) and 0 < rms <= 6.0
    exact_test = r.duplicates_of("exact", "train-test")
    assert (exact_test.n_pairs, exact_test.n_images) == (1, 1)
    assert (exact_test.first_index[0], exact_test.second_index[0]) == (30, 5)
    near_test = r.duplicates_of("near", "train-test")
    assert near_test.n_pairs == 1 and (near_test.first_index[0], near_test.second_index[0]) == (
        60,
        7,
    )
    findings = r.findings()
    assert "1 exact duplicate between train and test (1 test image)" in findings
    assert any(
        f.startswith("1 near-duplicate pair within train") and "1 with different labels" in f
        for f in findings
    )
    # The unplanted data has none.
    clean = analyze(digits, digits_test)
    assert all(d.n_pairs == 0 for d in clean.duplicates)


def test_exact_groups_count_pairs_and_label_conflicts(digits):
    images, labels = digits.images.copy(), digits.labels.copy()
    images[[1, 2, 3]] = images[0]  # a group of four identical images
    labels[[0, 1, 2, 3]] = [0, 0, 1, 1]
    s = dataclasses.replace(digits, images=images, labels=labels)
    d = analyze(s).duplicates_of("exact", "train")
    # 6 pairs in the group; 4 of them join a 0 with a 1.
    assert (d.n_pairs, d.n_images, d.n_label_conflicts) == (6, 4, 4)
    assert list(d.first_index[:2]) == [0, 0] and d.first_label[0] != d.second_label[0]


@pytest.mark.parametrize("threshold", [20.0, 45.0])
def test_near_search_misses_nothing(digits, digits_test, threshold):
    """The candidates on a few components contain every pair within the threshold in
    pixel space: the search returns exactly the brute-force answer."""
    scan = scan_train(digits.images, digits.labels, 10)
    _, axes = principal_axes(scan.covariance)
    coords = project(digits.images, scan.overall_mean(), axes[:, :32])[0]
    test_coords = project(digits_test.images, scan.overall_mean(), axes[:, :32])[0]
    x, t = digits.X.astype(np.float64), digits_test.X.astype(np.float64)
    rms = pairwise_distances(x) / 8
    expected = {
        (i, j) for i, j in zip(*np.nonzero((rms <= threshold) & (rms > 0)), strict=True) if i < j
    }
    i, j, d = near_pairs(coords, digits.X, threshold)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected and len(expected) > 5
    np.testing.assert_allclose(d, rms[i, j])
    cross = pairwise_distances(x, t) / 8
    expected = set(zip(*np.nonzero((cross <= threshold) & (cross > 0)), strict=True))
    i, j, _ = near_pairs(coords, digits.X, threshold, test_coords, digits_test.X)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == {(int(a), int(b)) for a, b in expected}


# -- other datasets ---------------------------------------------------------------------------
@pytest.mark.fashion
def test_fashion_subset():
    train = load("fashion-mnist").subsample(n_per_class=200, random_state=0)
    test = load("fashion-mnist", "test").subsample(n_per_class=50)
    r = analyze(train, test, compare_class="Shirt")
    findings = r.findings()
    assert findings[1] == "train is balanced: 200 images per class"
    assert findings[2] == "test is balanced: 50 images per class"
    shirt = train.images[train.labels == 6].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(r.class_images.mean[6], shirt, atol=1e-9)
    others = r.differences.against_others
    assert others[0].first == "Shirt" and others[0].second in ("T-shirt/top", "Pullover", "Coat")
    assert f"Shirt's mean image is closest to {others[0].second}'s" in " ".join(findings)
    assert r.image_shape == (28, 28) and r.samples.images.shape == (10, 8, 28, 28)
    assert 0.4 < r.pca.explained_variance_ratio[:2].sum() < 0.6
    assert r.ink.centre_y.mean[1] == pytest.approx(13.5, abs=1.5)  # trousers are centred
    names = [name for name, _ in eda_figures(r)]
    assert names[:3] == ["class_balance", "samples", "pixel_histogram"]
    assert "against_others" in names and "pca_projection" in names


def test_image_folder_of_another_size(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("circle", "bar", "dot")):
        (tmp_path / name).mkdir()
        for i in range(12):
            pixels = rng.integers(0, 60, size=(12, 20), dtype=np.uint8)
            pixels[2 + c * 3 : 5 + c * 3, 2 + i : 8 + i] = 250
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    train = load(tmp_path, image_size=None)
    test = load(tmp_path, "test", image_size=None)
    r = analyze(train, test, n_samples=3)
    assert r.image_shape == (12, 20) and train.class_names == ("bar", "circle", "dot")
    assert r.class_images.mean.shape == (3, 12, 20) and r.samples.images.shape[2:] == (12, 20)
    np.testing.assert_allclose(
        r.class_images.mean[0], train.images[train.labels == 0].astype(float).mean(axis=0)
    )
    assert r.ink.centre_x.bin_edges[-1] == 19.5 and r.ink.centre_y.bin_edges[-1] == 11.5
    assert r.n_train + r.n_test == 36
    # Images are drawn at their own 12 x 20 pixels, one tile per image.
    display = ImageGridDisplay(r.samples).plot()
    canvas = display.ax_.images[0].get_array()
    gap = max(1, 12 // 8)
    assert canvas.shape == (3 * (12 + gap) - gap, 3 * (20 + gap) - gap)
    variance = ClassImagesDisplay(r.class_images).plot(kind="variance").ax_.images[0].get_array()
    assert variance.shape == (12, 3 * (20 + 4) - 4)  # one row, 4 px for the captions between


def _synthetic(n_classes: int, per_class: int, seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), per_class)
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for c in range(n_classes):
        row, col = divmod(c, 7)
        images[labels == c, 2 + row * 3 : 5 + row * 3, 2 + col * 3 : 6 + col * 3] = 200 + c
    return ImageSet(images, labels, tuple(f"c{c}" for c in range(n_classes)), name="synthetic-47")


def test_47_classes():
    train, test = _synthetic(47, 20, 0), _synthetic(47, 5, 1)
    r = analyze(train, test, n_samples=4, n_atypical=3)
    assert r.samples.indices.shape == (47, 4) and r.atypical.indices.shape == (47, 3)
    assert r.differences.distance.shape == (47, 47) and len(r.differences.against_others) == 46
    assert r.balance.describe("train") == "train is balanced: 20 images per class"
    assert r.pixels.counts.shape == (47, 256)
    for c in (0, 46):
        np.testing.assert_allclose(
            r.class_images.mean[c], train.images[train.labels == c].astype(float).mean(axis=0)
        )
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert len(text) < 2_500_000
    assert len(image_grid_figure(r.samples).layout.annotations) == 47  # a label per row
    ax_image = ImageGridDisplay(r.samples).plot().ax_.images[0].get_array()
    assert ax_image.shape[1] == 4 * (28 + 3) - 3


# -- the record, its JSON and its findings ----------------------------------------------------
def test_to_dict_is_json_ready_small_and_rounded(result):
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert len(text) < 300_000
    assert data["findings"] == result.findings()
    assert "timings" not in data and set(result.timings) >= {"scan", "duplicates"}
    mean = np.asarray(data["class_images"]["mean"], dtype=float)
    np.testing.assert_allclose(mean, result.class_images.mean, atol=5e-4)
    assert data["balance"]["train_counts"][0] == 142
    assert len(data["duplicates"]) == 4 and data["settings"]["compare_class"] == "8"
    assert summary_text(result).splitlines()[0] == f"- {result.findings()[0]}"


def test_empty_class_and_imbalance(digits):
    keep = np.flatnonzero(
        (digits.labels != 3) & ((digits.labels != 5) | (np.arange(len(digits)) % 10 == 0))
    )
    s = digits.take(keep)
    r = analyze(s)
    assert r.balance.empty_classes == ("3",) and not r.balance.balanced
    line = r.balance.describe("train")
    assert line.startswith("train is imbalanced: ") and "; no images of 3" in line
    assert np.isnan(r.class_images.mean[3]).all() and r.samples.indices[3].tolist() == [-1] * 8
    assert all(p.first != "3" and p.second != "3" for p in r.differences.most_similar)
    json.dumps(r.to_dict(), allow_nan=False)


def test_bad_input_is_refused(digits, digits_test):
    other = ImageSet(np.zeros((4, 5, 5), np.uint8), np.array([0, 1, 0, 1]), ("a", "b"))
    with pytest.raises(DataError, match="test images are 5x5 but training images are 8x8"):
        analyze(
            digits,
            dataclasses.replace(
                other, class_names=digits.class_names, labels=np.zeros(4, np.int64)
            ),
        )
    with pytest.raises(DataError, match="classes"):
        analyze(digits, dataclasses.replace(digits_test, class_names=tuple("abcdefghij")))
    with pytest.raises(ConfigError, match="near_threshold must be positive"):
        analyze(digits, near_threshold=0)
    with pytest.raises(DataError, match="unknown class 'eleven'"):
        analyze(digits, compare_class="eleven")
    with pytest.raises(DataError, match="no images"):
        analyze(digits.take([]))


# -- figures ----------------------------------------------------------------------------------
def test_displays_draw_on_given_axes(result):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert ClassBalanceDisplay(result.balance).plot(ax=ax).ax_ is ax
    assert (
        len(ax.patches) == 10
        and len(ClassBalanceDisplay(result.balance).plot().test_ax_.patches) == 10
    )
    d = DistributionDisplay(result.ink.mean_intensity).plot()
    assert [t.get_text() for t in d.ax_.get_xticklabels()][-1] == "all"
    assert (
        len(CentreOfMassDisplay(result.ink, result.class_images.overall_mean).plot().ax_.lines)
        >= 10
    )
    assert PixelHistogramDisplay(result.pixels).plot().ax_.get_yscale() == "log"
    mean = ClassImagesDisplay(result.class_images).plot().ax_.images[0].get_array()
    assert mean.shape == (2 * (8 + 2) - 2, 5 * (8 + 2) - 2)  # 8x8 tiles with a caption row
    np.testing.assert_allclose(mean[:8, :8], result.class_images.mean[0])
    with pytest.raises(DataError, match="kind must be"):
        ClassImagesDisplay(result.class_images).plot(kind="median")
    others = DifferencesDisplay(result.differences).plot(view="others")
    assert "8 against each other class" in others.ax_.get_title()
    assert ExplainedVarianceDisplay(result.pca).plot().ax_.get_xscale() == "log"
    assert len(ProjectionDisplay(result.pca).plot().ax_.collections) == 10
    with pytest.raises(DataError, match="mean image has shape"):
        CentreOfMassDisplay(result.ink, np.zeros((3, 3)))


def test_duplicates_display_and_figure(digits, digits_test):
    r = analyze(*_planted(digits, digits_test))
    display = DuplicatesDisplay(r.duplicates_of("near", "train")).plot()
    assert display.ax_.get_title().startswith("1 near-duplicate pair within train")
    texts = [t.get_text() for t in display.ax_.texts]
    assert texts[:2] == [f"train #40\n{r.duplicates_of('near', 'train').first_label[0]}", texts[1]]
    names = [n for n, _ in eda_figures(r)]
    assert names[-4:] == [
        "duplicates_exact_train",
        "duplicates_near_train",
        "duplicates_exact_train_test",
        "duplicates_near_train_test",
    ]


def test_class_centres_are_told_apart_by_colour_not_by_names_that_pile_up(result):
    fig = dict(eda_figures(result))["centre_of_mass"]
    centres = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in centres] == list(result.ink.class_names)
    assert all(t.mode == "markers" and t.showlegend for t in centres)
    assert len({t.marker.color for t in centres}) == len(centres)


def test_plotly_figures_and_pngs(result, tmp_path):
    figures = dict(eda_figures(result))
    assert set(figures) >= {
        "class_balance",
        "samples",
        "pixel_histogram",
        "ink_mean_intensity",
        "ink_spread",
        "centre_of_mass",
        "mean_images",
        "variance_images",
        "similar_pairs",
        "against_others",
        "pca_variance",
        "pca_projection",
        "atypical",
    }
    assert not any(name.startswith("duplicates") for name in figures)  # none in digits
    heatmap = figures["mean_images"].data[0]
    # Two rows of five 8x8 means, a caption line under each row, a pixel between columns.
    assert heatmap.type == "heatmap" and np.asarray(heatmap.z).shape == (18, 44)
    assert figures["class_balance"].data[0].y.sum() == pytest.approx(1.0)
    box = figures["ink_mean_intensity"].data[0]
    assert list(box.x)[-1] == "all" and box.median[0] == pytest.approx(
        result.ink.mean_intensity.quantiles[0, 2]
    )
    # Each level's marker sits on the cumulative curve at the components that reach it.
    cumulative, _, levels = figures["pca_variance"].data
    assert list(levels.x) == list(result.pca.components_needed)
    np.testing.assert_allclose(levels.y, np.asarray(cumulative.y)[np.asarray(levels.x) - 1])
    assert all(y >= level for y, level in zip(levels.y, result.pca.variance_levels, strict=True))
    assert max(figures["pca_variance"].layout.xaxis.tickvals) <= len(cumulative.y)
    # Levels a few components apart are labelled on alternate sides of the curve.
    assert list(levels.textposition[:2]) == ["top left", "bottom right"]
    for fig in figures.values():
        json.loads(fig.to_json())
    written = write_eda(result, tmp_path / "eda")
    assert set(written) == set(figures) | {"eda", "summary"}
    assert json.loads((tmp_path / "eda" / "eda.json").read_text())["n_train"] == 1438
    assert (tmp_path / "eda" / "summary.txt").read_text() == summary_text(result)
