"""Explain a fitted model on a set of images: per-class SHAP images, per-image overlays and
pixel importances, gathered in one JSON-ready record."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shallowvision._records import NOT_JSON, Record
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import DataError
from shallowvision.explain._shap import ShapValues, auto_n_explain, shap_values, stratified_sample

__all__ = [
    "Explanation",
    "ImageExplanation",
    "PixelImportance",
    "explain_model",
    "impurity_importance",
    "permutation_importance_image",
]


@dataclass(frozen=True, eq=False, kw_only=True)
class ImageExplanation(Record):
    """One image's SHAP values for its predicted and its true class, at the image's size.

    ``reason`` is ``"chosen"`` (asked for by index) or ``"misclassified"``; ``score`` is
    the model's probability (or decision score) of the predicted class.
    """

    index: int
    reason: str
    true: str
    predicted: str
    score: float
    pixels: np.ndarray
    predicted_values: np.ndarray
    true_values: np.ndarray

    @property
    def correct(self) -> bool:
        return self.true == self.predicted


@dataclass(frozen=True, eq=False, kw_only=True)
class PixelImportance(Record):
    """A per-pixel importance image: ``values`` (and ``std`` over repeats, if any).

    ``kind`` is ``"permutation"`` (drop in accuracy when the pixel is shuffled, on
    ``n_images`` images, ``n_repeats`` times) or ``"impurity"`` (the model's own mean
    decrease in impurity, or gain, summed over its trees).
    """

    kind: str
    values: np.ndarray
    std: np.ndarray | None = None
    n_images: int | None = None
    n_repeats: int | None = None
    source: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, eq=False, kw_only=True)
class Explanation(Record):
    """Everything :func:`explain_model` found, drawn at the images' height x width.

    Attributes
    ----------
    class_mean_abs : ndarray, shape (n_classes, height, width)
        Mean absolute SHAP value of each class's output over the explained images: where the
        model looks to score that class.
    mean_abs : ndarray, shape (height, width)
        The same, averaged over classes.
    class_mean : ndarray, shape (n_classes, height, width)
        Mean SHAP value of each class's output over the explained images of that class:
        red pixels push towards the class, blue ones away from it (NaN where the sample
        holds no image of the class).
    images : tuple of ImageExplanation
        The chosen images, then the most confidently misclassified ones.
    permutation, impurity : PixelImportance or None
        None when not computed, or (impurity) when the model has no per-pixel
        impurity importances (linear models, k-NN, pipelines with PCA).
    shap : ShapValues
        Every SHAP value (not in :meth:`to_dict`: it is large).
    """

    model: str
    dataset: str
    split: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    explainer: str
    output_space: str
    n_images: int
    n_explain: int
    n_background: int
    max_evals: int | None
    explained_indices: np.ndarray
    base_values: np.ndarray
    additivity_error: float
    class_mean_abs: np.ndarray
    class_mean: np.ndarray
    mean_abs: np.ndarray
    images: tuple[ImageExplanation, ...]
    permutation: PixelImportance | None
    impurity: PixelImportance | None
    seconds: dict[str, float]
    random_state: int
    shap: ShapValues | None = field(default=None, repr=False, metadata=NOT_JSON)

    def chosen(self) -> tuple[ImageExplanation, ...]:
        """The images explained because they were asked for."""
        return tuple(i for i in self.images if i.reason == "chosen")

    def misclassified(self) -> tuple[ImageExplanation, ...]:
        """The misclassified images explained, most confident first."""
        return tuple(i for i in self.images if i.reason == "misclassified")


def _estimator(model: Any) -> Any:
    # A SavedModel (persistence) carries its pipeline in .estimator.
    return getattr(model, "estimator", model) if hasattr(model, "manifest") else model


def impurity_importance(model: Any, image_shape: tuple[int, int]) -> PixelImportance | None:
    """The model's own impurity importances as an image, or None when it has none per pixel.

    Parameters
    ----------
    model : fitted classifier or Pipeline
    image_shape : (height, width)
    """
    from shallowvision.features._pixels import pixel_importances

    estimator = _estimator(model)
    found = pixel_importances(
        estimator, image_shape[0] * image_shape[1], attributes=("feature_importances_",)
    )
    if found is None:
        return None
    values, _ = found
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return PixelImportance(
        kind="impurity",
        values=values.reshape(image_shape),
        source=f"{type(final).__name__}.feature_importances_",
    )


def permutation_importance_image(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, int],
    *,
    n_repeats: int = 1,
    random_state: int = 0,
) -> PixelImportance:
    """Drop in accuracy when each pixel is shuffled across ``X``, as an image.

    The numbers of :func:`sklearn.inspection.permutation_importance` (accuracy, the
    same shuffles for the same ``random_state``), computed in a few batched prediction
    calls (:func:`shallowvision.features._pixels.pixel_permutation_importance`).

    Parameters
    ----------
    model : fitted classifier, Pipeline or SavedModel
    X : array of shape (n, height * width)
        Held-out images (never the training images: importance there rewards overfitting).
    y : array of shape (n,)
    image_shape : (height, width)
    n_repeats : int
        Shuffles per pixel.
    random_state : int
    """
    from shallowvision.features._pixels import pixel_permutation_importance

    start = time.perf_counter()
    mean, std = pixel_permutation_importance(
        _estimator(model), X, y, n_repeats=n_repeats, random_state=random_state
    )
    return PixelImportance(
        kind="permutation",
        values=mean.reshape(image_shape),
        std=std.reshape(image_shape),
        n_images=len(X),
        n_repeats=n_repeats,
        source="permutation importance (accuracy)",
        seconds=time.perf_counter() - start,
    )


def _top_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = scores.argmax(axis=1)
    return pred, scores[np.arange(len(scores)), pred]


def explain_model(
    model: Any,
    data: ImageSet,
    *,
    name: str = "model",
    n_explain: int | None = None,
    n_background: int = 100,
    indices: Sequence[int] = (),
    n_misclassified: int = 8,
    permutation: bool = True,
    n_permutation: int = 500,
    n_repeats: int = 1,
    explainer: str = "auto",
    max_evals: int = 500,
    random_state: int = 0,
) -> Explanation:
    """Explain a fitted model on the images of ``data``.

    SHAP values are computed for a stratified sample of ``n_explain`` images plus the
    chosen ``indices`` and the ``n_misclassified`` most confidently misclassified
    images of ``data``; the background (linear and model-agnostic explainers) is a
    further stratified sample of ``n_background`` images. Permutation importance
    shuffles every pixel across a stratified sample of ``n_permutation`` images.
    The defaults explain the zoo's tree models trained on all of Fashion-MNIST in under
    two minutes on two cores (see ``benchmarks/RESULTS.md``): 200 images, fewer for
    large forests (:func:`~shallowvision.explain._shap.auto_n_explain`). Model-agnostic
    explanations cost about ``max_evals`` model calls per image: give them fewer images.

    Parameters
    ----------
    model : fitted classifier, Pipeline or SavedModel
        Takes flattened images of ``data``'s shape.
    data : ImageSet
        Images the model was not trained on (validation or test).
    name : str
        The model's name in the record.
    n_explain : int, optional
        Images whose SHAP values are averaged; default 200, or fewer for large forests.
    n_background : int
        Background images of the linear and model-agnostic explainers.
    indices : sequence of int
        Images of ``data`` to explain and draw whatever their prediction.
    n_misclassified : int
        Most confidently misclassified images to explain and draw.
    permutation : bool
        Compute the permutation-importance image.
    n_permutation, n_repeats : int
        Images and shuffles per pixel of permutation importance.
    explainer : {"auto", "tree", "linear", "partition"}
    max_evals : int
        Model calls per image of the model-agnostic explainer.
    random_state : int
        Seed of every sample and shuffle.

    Returns
    -------
    Explanation
    """
    from shallowvision.models import predict_scores

    estimator = _estimator(model)
    if n_explain is None:
        n_explain = auto_n_explain(estimator)
    if len(data) == 0:
        raise DataError(f"{data.name} ({data.split}) has no images to explain")
    for label, value in (
        ("n_explain", n_explain),
        ("n_background", n_background),
        ("n_permutation", n_permutation),
        ("n_repeats", n_repeats),
        ("max_evals", max_evals),
    ):
        if value < 1:
            raise DataError(f"{label} must be at least 1, got {value}")
    if n_misclassified < 0:
        raise DataError(f"n_misclassified must be 0 or more, got {n_misclassified}")
    bad = [i for i in indices if not 0 <= int(i) < len(data)]
    if bad:
        raise DataError(
            f"image index {bad[0]} is out of range 0..{len(data) - 1} of {data.name} ({data.split})"
        )
    X, y = np.ascontiguousarray(data.X), data.y
    image_shape = data.check_gray("explain")
    n_in = getattr(estimator, "n_features_in_", X.shape[1])
    if n_in != X.shape[1]:
        raise DataError(
            f"{data.name} has {image_shape[0]}x{image_shape[1]} images ({X.shape[1]} pixels), "
            f"but the model was trained on {n_in} pixels"
        )
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    scores, _ = predict_scores(estimator, X)
    seconds["predict"] = time.perf_counter() - start
    if scores.shape[1] != data.n_classes:
        raise DataError(
            f"the model scores {scores.shape[1]} classes but {data.name} has {data.n_classes}"
        )
    pred, top = _top_scores(scores)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-top[wrong], kind="stable")][:n_misclassified]
    chosen = np.asarray([int(i) for i in dict.fromkeys(int(i) for i in indices)], dtype=np.intp)
    sample = stratified_sample(y, n_explain, random_state=random_state)
    drawn = np.concatenate([chosen, wrong[~np.isin(wrong, chosen)]])
    explained = np.unique(np.concatenate([sample, drawn]))
    background = stratified_sample(y, n_background, random_state=random_state + 1)

    sv = shap_values(
        estimator,
        X[explained],
        background=X[background],
        class_names=data.class_names,
        image_shape=image_shape,
        explainer=explainer,
        max_evals=max_evals,
    )
    seconds["shap"] = sv.seconds
    maps = sv.as_images()  # (n, k, h, w)
    in_sample = np.isin(explained, sample)
    class_mean_abs = np.abs(maps[in_sample]).mean(axis=0)
    labels = y[explained]
    class_mean = np.full(class_mean_abs.shape, np.nan)
    for c in range(data.n_classes):
        own = in_sample & (labels == c)
        if own.any():
            class_mean[c] = maps[own, c].mean(axis=0)
    row = {int(i): r for r, i in enumerate(explained)}
    names = data.class_names
    images = tuple(
        ImageExplanation(
            index=int(i),
            reason="chosen" if n < len(chosen) else "misclassified",
            true=names[y[i]],
            predicted=names[pred[i]],
            score=float(top[i]),
            pixels=np.asarray(data.images[i]),
            predicted_values=maps[row[int(i)], pred[i]],
            true_values=maps[row[int(i)], y[i]],
        )
        for n, i in enumerate(drawn)
    )
    perm = None
    if permutation:
        rows = stratified_sample(y, n_permutation, random_state=random_state + 2)
        perm = permutation_importance_image(
            estimator,
            X[rows],
            y[rows],
            image_shape,
            n_repeats=n_repeats,
            random_state=random_state,
        )
        seconds["permutation"] = perm.seconds
    return Explanation(
        model=name,
        dataset=data.name,
        split=data.split,
        class_names=tuple(names),
        image_shape=image_shape,
        explainer=sv.explainer,
        output_space=sv.output_space,
        n_images=len(data),
        n_explain=int(in_sample.sum()),
        n_background=sv.n_background,
        max_evals=sv.max_evals,
        explained_indices=explained,
        base_values=sv.base_values.mean(axis=0),
        additivity_error=sv.additivity_error,
        class_mean_abs=class_mean_abs,
        class_mean=class_mean,
        mean_abs=class_mean_abs.mean(axis=0),
        images=images,
        permutation=perm,
        impurity=impurity_importance(estimator, image_shape),
        seconds=seconds,
        random_state=random_state,
        shap=sv,
    )
