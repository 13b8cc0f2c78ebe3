"""The metric core: every score a comparison row or an evaluation record reports.

Evaluation owns these functions and builds its records on them; its public
:func:`~shallowvision.evaluation.summary_metrics` is :func:`summary_metrics`. They live
below both evaluation and models because a comparison row is scored where its model
was fitted (in a worker process, on a cluster), inside models, which may not import
evaluation. So a comparison table, ``metrics.json`` and an evaluation record give the
same number for the same predictions, to the last bit.

Inputs are assumed valid here: evaluation checks them at its boundary
(``evaluation._validation``); comparison rows come from the model's own outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "brier_per_class",
    "label_metrics",
    "log_loss",
    "macro",
    "multiclass_brier",
    "roc_auc_per_class",
    "summary_metrics",
]


def macro(values: np.ndarray, support: np.ndarray) -> float:
    """The macro average: the mean over the classes that have images in ``y_true``.

    A class without images there, or whose value is undefined (NaN), is left out; NaN
    when no class is left.
    """
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values) & (support > 0)
    return float(values[ok].mean()) if ok.any() else float("nan")


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """The share of images whose predicted class is the true one."""
    from sklearn import metrics as skm

    return float(skm.accuracy_score(y, pred))


def label_metrics(
    y: np.ndarray, pred: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support of every class, from predicted class indices.

    A class that is never predicted (or never true) counts as 0 where its value is
    undefined (scikit-learn's ``zero_division=0``). Balanced accuracy is the
    :func:`macro` average of the recalls.
    """
    from sklearn import metrics as skm

    return skm.precision_recall_fscore_support(
        y, pred, labels=np.arange(n_classes), zero_division=0.0
    )


def roc_auc_per_class(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The one-vs-rest ROC AUC of every column of ``scores``, NaN for a class with no
    positive or no negative image.

    Each is scikit-learn's ``roc_auc_score`` of the class against the rest, the area
    under its ``roc_curve``; evaluation's ROC curves have the same areas.
    """
    from sklearn import metrics as skm

    n_classes = scores.shape[1]
    support = np.bincount(y, minlength=n_classes)
    auc = np.full(n_classes, np.nan)
    for k in np.flatnonzero((support > 0) & (support < len(y))):
        auc[k] = skm.roc_auc_score(y == k, scores[:, k])
    return auc


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Cross-entropy of probabilities whose rows sum to 1, with one column per class."""
    from sklearn import metrics as skm

    return float(skm.log_loss(y, proba, labels=np.arange(proba.shape[1])))


def _squared_distances(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return (proba - np.eye(proba.shape[1])[y]) ** 2


def multiclass_brier(y: np.ndarray, proba: np.ndarray) -> float:
    """The multiclass Brier score: the mean over images of the squared distance between
    the probability vector and the one-hot truth (0..2)."""
    return float(np.mean(np.sum(_squared_distances(y, proba), axis=1)))


def brier_per_class(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The one-vs-rest Brier score of each class; they sum to :func:`multiclass_brier` up
    to rounding."""
    return _squared_distances(y, proba).mean(axis=0)


def summary_metrics(
    y_true: Any, labels: Any, scores: np.ndarray | None, kind: str, n_classes: int
) -> dict[str, float | None]:
    """The summary metrics of one model's predictions: the columns of a comparison table.

    Accuracy, balanced accuracy and the macro precision, recall and F1 come from the
    predicted ``labels`` (the model's own ``predict``); macro averages are taken over
    the classes that have images in ``y_true``. ROC AUC is the macro average of
    one-vs-rest AUCs computed from ``scores`` (probabilities or decision scores), never
    from hard labels; for a binary task it is the positive class's. Log loss and Brier
    score need probabilities and are None for decision scores. A model that only gives
    labels (``scores=None``, kind ``"labels"``, e.g. hard voting) has none of the three.

    Parameters
    ----------
    y_true, labels : array-like of int, shape (n_samples,)
        True and predicted class indices.
    scores : ndarray of float, shape (n_samples, n_classes), or None
        Probabilities (kind ``"proba"``) or decision scores (kind ``"decision"``).
    kind : {"proba", "decision", "labels"}
    n_classes : int

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``precision_macro``, ``recall_macro``,
        ``f1_macro``, ``roc_auc``, ``log_loss`` and ``brier``: floats, or None where
        the predictions cannot give them.
    """
    y = np.asarray(y_true)
    pred = np.asarray(labels)
    precision, recall, f1, support = label_metrics(y, pred, n_classes)
    out: dict[str, float | None] = {
        "accuracy": accuracy(y, pred),
        "balanced_accuracy": macro(recall, support),
        "precision_macro": macro(precision, support),
        "recall_macro": macro(recall, support),
        "f1_macro": macro(f1, support),
        "roc_auc": None,
        "log_loss": None,
        "brier": None,
    }
    if scores is None:
        return out
    auc = roc_auc_per_class(y, scores)
    if n_classes == 2:
        out["roc_auc"] = None if np.isnan(auc[1]) else float(auc[1])
    elif np.count_nonzero(support) > 1:
        out["roc_auc"] = macro(auc, support)
    if kind == "proba":
        # float32 models return rows that miss 1 by more than log_loss tolerates.
        proba = np.clip(scores, 0.0, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        out["log_loss"] = log_loss(y, proba)
        out["brier"] = multiclass_brier(y, proba)
    return out
