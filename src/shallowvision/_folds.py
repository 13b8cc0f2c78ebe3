"""How many stratified folds a split's labels allow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shallowvision.exceptions import DataError

__all__ = ["fold_count"]


def fold_count(y: Any, wanted: int, *, what: str, class_names: Sequence[str] | None = None) -> int:
    """``wanted`` stratified folds, or fewer when the smallest class has fewer images.

    Stratified k-fold needs at least k images of every class; small data gets as many
    folds as its smallest class allows, down to 2.

    Raises
    ------
    DataError
        If a class has a single image, so no two folds can both hold it; the message
        names ``what`` needed the folds and the class.
    """
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    if len(counts) == 0:
        raise DataError(f"{what}: no images to split into folds")
    smallest = int(counts.min())
    if smallest < 2:
        label = labels[int(counts.argmin())]
        name = class_names[int(label)] if class_names is not None else str(label)
        raise DataError(
            f"{what} needs at least 2 images of every class for cross-validation; "
            f"class {name} has {smallest}"
        )
    return min(int(wanted), smallest)
