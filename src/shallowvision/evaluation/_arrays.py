"""Array helpers shared by the evaluation modules."""

from __future__ import annotations

import numpy as np

__all__ = ["thin_indices", "top_label"]


def top_label(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class (the first highest column) and its probability, the confidence."""
    pred = proba.argmax(axis=1)
    return pred, proba[np.arange(len(proba)), pred]


def thin_indices(n: int, max_points: int, keep: int | None = None) -> np.ndarray:
    """At most about ``max_points`` evenly spaced indices of ``0..n-1``, with both ends and ``keep``.

    Curves with one point per image are thinned this way before they are stored or
    drawn; the summary numbers are always computed from every point.
    """
    if n <= max_points:
        return np.arange(n)
    idx = np.round(np.linspace(0, n - 1, max_points - 1)).astype(np.intp)
    extra = np.array([] if keep is None else [keep], dtype=np.intp)
    return np.unique(np.r_[idx, extra])
