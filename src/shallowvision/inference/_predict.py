"""Predictions with the top-k classes, from a saved model and uint8 images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shallowvision.persistence import SavedModel

__all__ = ["Predictions", "predict_top_k"]


@dataclass(frozen=True)
class Predictions:
    """Labels, every class's score and the top-k classes for a batch of images.

    ``scores`` (n, n_classes) are probabilities when ``scores_kind`` is ``"proba"``,
    else the model's decision scores (``"decision"``).
    """

    labels: np.ndarray
    top_k: np.ndarray
    top_scores: np.ndarray
    class_names: list[str]
    scores_kind: str
    scores: np.ndarray

    def records(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """One JSON-ready dict per image."""
        key = "probability" if self.scores_kind == "proba" else "score"
        rows = []
        for i, label in enumerate(self.labels):
            row: dict[str, Any] = {} if names is None else {"input": names[i]}
            row.update(label=int(label), class_name=self.class_names[label])
            row["top"] = [
                {"label": int(k), "class_name": self.class_names[k], key: round(float(s), 6)}
                for k, s in zip(self.top_k[i], self.top_scores[i], strict=True)
            ]
            rows.append(row)
        return rows

    def table_rows(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """One flat dict per image, for a table (CSV): the label and class name, then
        each of the top-k classes' name and score as ``top1_class_name``,
        ``top1_probability`` (or ``top1_score``) ..."""
        return [
            {k: v for k, v in row.items() if k != "top"}
            | {
                f"top{i + 1}_{k}": v
                for i, top in enumerate(row["top"])
                for k, v in top.items()
                if k != "label"
            }
            for row in self.records(names)
        ]


def predict_top_k(model: SavedModel, images: np.ndarray, *, k: int = 3) -> Predictions:
    """Predict ``images`` (uint8, (n, h, w) or flattened) and keep the ``k`` best classes.

    Labels are the model's own ``predict``; the top-k list ranks its probabilities,
    or its decision scores for models without probabilities.
    """
    scores, kind = model.predict_scores(images)
    labels = model.predict(images)
    k = max(1, min(k, scores.shape[1]))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return Predictions(
        labels=labels.astype(np.int64),
        top_k=order,
        top_scores=np.take_along_axis(scores, order, axis=1),
        class_names=model.class_names,
        scores_kind=kind,
        scores=scores,
    )
