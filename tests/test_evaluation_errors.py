"""Error analysis from stored predictions: confusion, pairs, galleries, overlap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from shallowvision.evaluation import (
    GalleryDisplay,
    confidently_wrong,
    confusion,
    error_overlap,
    misclassified_gallery,
    most_confused_pairs,
)
from shallowvision.exceptions import DataError


def test_confusion_counts_normalised_rows_and_error_rates(digits_model):
    y, pred = digits_model.y, digits_model.proba.argmax(axis=1)
    c = confusion(y, pred, class_names=digits_model.class_names)
    np.testing.assert_array_equal(c.counts, confusion_matrix(y, pred))
    np.testing.assert_allclose(c.normalized.sum(axis=1), 1.0)
    np.testing.assert_allclose(c.error_rate, 1 - np.diag(c.counts) / np.bincount(y))


def test_a_class_without_images_has_no_rate():
    c = confusion([0, 0, 1], [0, 1, 1], class_names=["a", "b", "c"])
    assert np.isnan(c.error_rate[2]) and np.all(np.isnan(c.normalized[2]))
    assert c.to_dict()["error_rate"] == [0.5, 0.0, None]


def test_most_confused_pairs_by_hand():
    # 3 -> 5 twice, 1 -> 7 twice (ties keep class order: (1, 7) first), 0 -> 6 once.
    y = np.array([3, 3, 1, 1, 0, 2, 2])
    pred = np.array([5, 5, 7, 7, 6, 2, 2])
    c = confusion(y, pred, class_names=list("0123456789"))
    pairs = most_confused_pairs(c, top=5)
    assert [(p.true, p.predicted, p.count) for p in pairs] == [
        ("1", "7", 2),
        ("3", "5", 2),
        ("0", "6", 1),
    ]
    assert pairs[0].rate == 1.0


def test_gallery_of_a_pair_is_sorted_by_confidence(digits_model):
    y, p = digits_model.y, digits_model.proba
    pairs = most_confused_pairs(confusion(y, p.argmax(axis=1)), top=1)
    t, q = pairs[0].true_index, pairs[0].predicted_index
    g = misclassified_gallery(
        y, p, true_class=t, predicted_class=q, class_names=digits_model.class_names
    )
    assert g.n_matching == pairs[0].count
    assert np.all(y[g.indices] == t) and np.all(p[g.indices].argmax(axis=1) == q)
    assert np.all(np.diff(g.confidence) <= 0)
    np.testing.assert_allclose(g.true_proba, p[g.indices, t])


def test_confidently_wrong_are_the_most_confident_errors(digits_model):
    y, p = digits_model.y, digits_model.proba
    g = confidently_wrong(y, p, max_images=5)
    wrong = np.flatnonzero(p.argmax(axis=1) != y)
    assert g.n_matching == len(wrong)
    assert g.confidence[0] == pytest.approx(p[wrong].max())
    assert set(g.indices) <= set(wrong)


def test_error_overlap_by_hand():
    y = np.array([0, 1, 2, 0, 1, 2])
    a = np.array([1, 1, 2, 0, 0, 2])  # wrong on 0, 4
    b = np.array([1, 1, 0, 0, 0, 2])  # wrong on 0, 2, 4
    c = np.eye(3)[[1, 1, 2, 0, 1, 0]] * 0.8 + 0.2 / 3  # probabilities; wrong on 0, 5
    o = error_overlap(y, {"a": a, "b": b, "c": c})
    np.testing.assert_array_equal(o.both_wrong, [[2, 2, 1], [2, 3, 1], [1, 1, 2]])
    assert o.jaccard[0, 1] == pytest.approx(2 / 3)
    np.testing.assert_array_equal(o.all_wrong, [0])
    # Images 1, 3 right for all; 2, 5 wrong for one; 4 for two; 0 for all three.
    np.testing.assert_array_equal(o.n_wrong_counts, [2, 2, 1, 1])
    with pytest.raises(DataError, match="model 'd' has 2 predictions for 6 images"):
        error_overlap(y, {"d": [0, 1]})


def test_gallery_draws_images_at_their_own_height_and_width(small_arrays):
    images, labels = small_arrays  # 6 x 5 images
    proba = np.full((60, 3), 0.1)
    proba[np.arange(60), (labels + 1) % 3] = 0.8  # every prediction wrong
    display = GalleryDisplay.from_predictions(labels, proba, images, max_images=4)
    canvas = display.ax_.images[0].get_array()
    g = display.gallery
    gap = round(0.6 * 6)
    assert canvas.shape == (6, 4 * 5 + 3 * gap)
    for i, idx in enumerate(g.indices):
        left = i * (5 + gap)
        np.testing.assert_array_equal(canvas[:6, left : left + 5], images[idx])
    texts = [t.get_text() for t in display.ax_.texts]
    assert texts[0] == f"true {g.true[0]}\npred {g.predicted[0]} 0.80"
