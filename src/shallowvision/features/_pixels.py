"""Trace a fitted pipeline's features back to the pixels they come from.

Importances and SHAP values are computed on what the classifier sees; drawn as images
they must be per pixel. Steps that keep each feature a function of one pixel (scalers,
selectors, ``"passthrough"``) allow that exactly; steps that mix pixels (PCA, kernel
maps) do not, and callers then fall back to model-agnostic methods on the pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "feature_pixels",
    "keeps_pixels",
    "pixel_importances",
    "pixel_permutation_importance",
    "split_pipeline",
]


def split_pipeline(model: Any) -> tuple[list[Any], Any]:
    """``(preprocessing steps, final estimator)`` of a pipeline; ``([], model)`` otherwise.

    Nested pipelines are flattened; ``"passthrough"`` and ``None`` steps are dropped.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return [], model
    steps: list[Any] = []
    for _, step in model.steps[:-1]:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            inner, last = split_pipeline(step)
            steps += [*inner, last]
        else:
            steps.append(step)
    inner, final = split_pipeline(model.steps[-1][1])
    return steps + inner, final


def keeps_pixels(step: Any) -> bool:
    """Whether every feature a transformer outputs is a function of one input pixel.

    True for scalers (each pixel rescaled on its own) and selectors (a subset of pixels);
    False for anything else, such as PCA or kernel maps, which mix pixels.
    """
    from sklearn.feature_selection import SelectorMixin
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    from shallowvision.features._scaling import PixelScaler

    return isinstance(
        step,
        PixelScaler | StandardScaler | MinMaxScaler | MaxAbsScaler | RobustScaler | SelectorMixin,
    )


def feature_pixels(steps: list[Any], n_pixels: int) -> np.ndarray | None:
    """The pixel each feature after ``steps`` comes from, or None if some step mixes pixels.

    Parameters
    ----------
    steps : list of fitted transformers
        As returned by :func:`split_pipeline`.
    n_pixels : int
        Width of the pipeline's input.

    Returns
    -------
    ndarray of int, shape (n_features_out,), or None
    """
    from sklearn.feature_selection import SelectorMixin

    index = np.arange(n_pixels)
    for step in steps:
        if not keeps_pixels(step):
            return None
        if isinstance(step, SelectorMixin):
            index = index[step.get_support()]
    return index


def pixel_importances(
    model: Any, n_pixels: int, *, attributes: tuple[str, ...] = ("feature_importances_", "coef_")
) -> tuple[np.ndarray, str] | None:
    """Per-pixel importances a fitted model carries itself, and the attribute they come from.

    ``feature_importances_`` (trees: mean decrease in impurity) is used as it is; a
    ``coef_`` matrix gives the sum over classes of the absolute coefficients (as
    :class:`sklearn.feature_selection.SelectFromModel` does). Pixels the pipeline
    drops get 0. None when the model has none of ``attributes`` or its preprocessing
    mixes pixels.
    """
    steps, final = split_pipeline(model)
    pixels = feature_pixels(steps, n_pixels)
    if pixels is None:
        return None
    for attribute in attributes:
        try:
            if attribute == "feature_importances_" and type(final).__name__ == "LGBMClassifier":
                # LightGBM counts splits by default; the total gain is the impurity measure.
                values = final.booster_.feature_importance(importance_type="gain")
            else:
                values = getattr(final, attribute)
            values = np.asarray(values, dtype=np.float64)
        except (AttributeError, ValueError):  # absent, or unfitted / not applicable
            continue
        if values.ndim == 2:
            values = np.abs(values).sum(axis=0)
        if values.shape != pixels.shape:
            continue
        out = np.zeros(n_pixels)
        out[pixels] = values
        return out, attribute
    return None


def pixel_permutation_importance(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_repeats: int = 1,
    random_state: int | None = 0,
    max_rows: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Permutation importance of every pixel for accuracy: mean and standard deviation.

    The numbers are those of :func:`sklearn.inspection.permutation_importance` with
    ``scoring="accuracy"`` and the same ``random_state`` (the same shuffles of the
    same columns), but the permuted copies of ``X`` go to the model many pixels at a
    time, in blocks of at most ``max_rows`` rows: hundreds of pixels cost a few
    prediction calls instead of one call each, which dominates on images.

    Parameters
    ----------
    estimator : fitted classifier
    X : array of shape (n_images, n_pixels)
        Held-out images.
    y : array of shape (n_images,)
    n_repeats : int
        Shuffles per pixel.
    random_state : int, optional
    max_rows : int
        Rows per prediction call (memory: ``max_rows * n_pixels`` values of X's dtype).

    Returns
    -------
    mean, std : ndarray of shape (n_pixels,)
        Drop in accuracy over the repeats.
    """
    from sklearn.utils import check_random_state

    X = np.asarray(X)
    y = np.asarray(y)
    n, n_pixels = X.shape
    # As scikit-learn does: one seed drawn from random_state, the same for every column,
    # whose successive shuffles compound from one repeat to the next.
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    shuffler = check_random_state(seed)
    index, order = np.arange(n), np.arange(n)
    orders = []
    for _ in range(n_repeats):
        shuffler.shuffle(index)
        order = order[index]
        orders.append(order.copy())
    baseline = float(np.mean(np.asarray(estimator.predict(X)) == y))
    per_call = max(1, max_rows // max(n, 1))
    drops = np.empty((n_pixels, n_repeats))
    for r, order in enumerate(orders):
        for first in range(0, n_pixels, per_call):
            pixels = np.arange(first, min(first + per_call, n_pixels))
            block = np.tile(X, (len(pixels), 1))
            for t, p in enumerate(pixels):
                block[t * n : (t + 1) * n, p] = X[order, p]
            predicted = np.asarray(estimator.predict(block)).reshape(len(pixels), n)
            drops[pixels, r] = baseline - (predicted == y).mean(axis=1)
    return drops.mean(axis=1), drops.std(axis=1)
