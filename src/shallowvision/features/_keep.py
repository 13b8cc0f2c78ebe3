"""What pixel selection is asked for, checked before any data is read: the method's name
and how many pixels to keep.

Configs and the command line check these while refusing bad arguments, so nothing here
loads scikit-learn; :mod:`shallowvision.features._select` builds the selectors.
"""

from __future__ import annotations

import math

import numpy as np

from shallowvision.exceptions import ConfigError, did_you_mean

__all__ = ["SELECTION_METHODS", "check_selection_method", "n_to_keep"]

#: The pixel-selection methods, as :func:`~shallowvision.features.make_selector` names them.
SELECTION_METHODS = ("variance", "mi", "rfe", "rfecv", "model", "permutation", "shap")


def check_selection_method(method: str) -> str:
    """``method`` as a key of :data:`SELECTION_METHODS` (trimmed, lower case).

    Raises
    ------
    ConfigError
        For an unknown method, naming the close ones and every method.
    """
    key = method.strip().lower()
    if key not in SELECTION_METHODS:
        hint = did_you_mean(key, SELECTION_METHODS)
        raise ConfigError(
            f"unknown selection method {method!r}: {hint}methods are {', '.join(SELECTION_METHODS)}"
        )
    return key


def n_to_keep(keep: float, n_features: int) -> int:
    """The number of features ``keep`` asks for: a share (0 < keep < 1) or a count (>= 1).

    A share keeps ``round(keep * n_features)`` features, at least one.

    Raises
    ------
    ConfigError
        For a non-positive or non-whole count, or a count above ``n_features``.
    """
    if isinstance(keep, bool) or not isinstance(keep, int | float | np.integer | np.floating):
        raise ConfigError(f"keep must be a share in (0, 1) or a count >= 1, got {keep!r}")
    if 0 < keep < 1:
        return max(1, math.floor(keep * n_features + 0.5))
    if keep >= 1 and float(keep).is_integer():
        if keep > n_features:
            raise ConfigError(f"keep={int(keep)} features, but the images have only {n_features}")
        return int(keep)
    raise ConfigError(f"keep must be a share in (0, 1) or a whole count >= 1, got {keep!r}")
