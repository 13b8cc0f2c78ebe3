"""The comparison tables and the evaluation records report the same numbers.

A comparison row (``summary_metrics``: compare, tune, the run's metrics.json and the
report's tables) and the evaluation records (``classification_metrics``, ``ranking_metrics``) are
computed on the same predictions here and must agree to the last bit; the rows are also
pinned to the scikit-learn formulas they report, so moving the code changes no number.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from shallowvision.evaluation import (
    brier_decomposition,
    classification_metrics,
    compare_calibration,
    ranking_metrics,
    summary_metrics,
)


@pytest.fixture(scope="module")
def predictions(digits_model):
    """Labels from the model's own predict, scores from its float32 probabilities (rows
    that miss 1 by a few 1e-8, as many models give them)."""
    X = digits_model.test.X
    return (
        digits_model.y,
        np.asarray(digits_model.model.predict(X)),
        np.asarray(digits_model.proba, dtype=np.float64),
    )


@pytest.mark.parametrize("exact", [False, True], ids=["float32 rows", "rows summing to 1"])
def test_a_comparison_row_has_the_numbers_of_the_evaluation(predictions, exact):
    y, _, proba = predictions
    if exact:
        proba = proba / proba.sum(axis=1, keepdims=True)
    labels = proba.argmax(axis=1)  # classification_metrics predicts the likeliest class
    row = summary_metrics(y, labels, proba, "proba", 10)
    m = classification_metrics(y, proba)
    assert row["accuracy"] == m.accuracy
    assert row["balanced_accuracy"] == m.balanced_accuracy
    assert row["precision_macro"] == m.precision.macro
    assert row["recall_macro"] == m.recall.macro
    assert row["f1_macro"] == m.f1.macro
    assert row["roc_auc"] == m.ranking.roc_auc.macro
    assert row["log_loss"] == m.log_loss
    assert row["brier"] == m.brier


def test_every_record_reports_one_brier_score(digits_model):
    y, proba = digits_model.y, digits_model.proba
    m = classification_metrics(y, proba)
    assert brier_decomposition(y, proba).brier == m.brier
    calibrated = compare_calibration(
        digits_model.model,
        digits_model.calibration,
        digits_model.test,
        method="temperature",
    )
    assert calibrated.table["brier"]["before"] == m.brier
    # The per-class scores add up to it, up to rounding.
    assert m.brier_per_class.sum() == pytest.approx(m.brier, rel=1e-14)


def test_decision_scores_give_the_evaluations_roc_auc(digits_model):
    y = digits_model.y
    decision = digits_model.model.decision_function(digits_model.test.X)
    row = summary_metrics(y, decision.argmax(axis=1), decision, "decision", 10)
    assert row["roc_auc"] == ranking_metrics(y, decision).roc_auc.macro
    assert row["log_loss"] is None and row["brier"] is None


def test_a_binary_rows_roc_auc_is_the_positive_classs(predictions):
    y, _, proba = predictions
    positive = (y == 8).astype(np.int64)
    p8 = proba[:, 8]
    scores = np.column_stack([1 - p8, p8])
    row = summary_metrics(positive, (p8 > 0.5).astype(np.int64), scores, "proba", 2)
    assert row["roc_auc"] == ranking_metrics(positive, scores).positive_roc_auc
    assert row["roc_auc"] == skm.roc_auc_score(positive, p8)


def test_comparison_rows_are_the_scikit_learn_formulas(predictions):
    y, labels, proba = predictions
    row = summary_metrics(y, labels, proba, "proba", 10)
    every = np.arange(10)
    p, r, f, _ = skm.precision_recall_fscore_support(
        y, labels, labels=every, average="macro", zero_division=0
    )
    onehot = np.eye(10)[y]
    normalized = proba / proba.sum(axis=1, keepdims=True)
    assert row == {
        "accuracy": skm.accuracy_score(y, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, labels),
        "precision_macro": p,
        "recall_macro": r,
        "f1_macro": f,
        "roc_auc": float(np.mean([skm.roc_auc_score(y == k, proba[:, k]) for k in every])),
        "log_loss": skm.log_loss(y, normalized, labels=every),
        "brier": float(np.mean(np.sum((normalized - onehot) ** 2, axis=1))),
    }


def test_a_row_from_labels_alone_has_no_score_metrics(predictions):
    y, labels, _ = predictions
    row = summary_metrics(y, labels, None, "labels", 10)
    assert row["accuracy"] == skm.accuracy_score(y, labels)
    assert row["roc_auc"] is None and row["log_loss"] is None and row["brier"] is None


def test_a_class_without_evaluated_images_is_left_out_of_the_macro_averages():
    y = np.array([0, 0, 1, 1, 0, 1])
    # Eighths: rows that sum to 1 exactly, so no renormalisation splits a tie.
    proba = (
        np.array(
            [[6, 1, 1], [4, 2, 2], [1, 6, 1], [2, 4, 2], [4, 1, 3], [1, 2, 5]], dtype=np.float64
        )
        / 8
    )
    labels = proba.argmax(axis=1)  # the last image is predicted as class 2, which has none
    row = summary_metrics(y, labels, proba, "proba", 3)
    m = classification_metrics(y, proba)
    assert row["precision_macro"] == m.precision.macro
    assert row["recall_macro"] == m.recall.macro == row["balanced_accuracy"]
    # Classes 0 and 1 have F1 1 and 4/5; class 2, with no image, is not a third term.
    assert row["f1_macro"] == m.f1.macro == pytest.approx(0.9)
    assert row["roc_auc"] == m.ranking.roc_auc.macro


def test_the_models_older_name_is_the_same_function():
    from shallowvision import models

    assert models.score_rows is summary_metrics
