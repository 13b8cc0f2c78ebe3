"""Explain a fitted model on a set of images: per-class SHAP images, per-image overlays and
pixel importances, gathered in one JSON-ready record.

A pixel is the unit of every map, in grey and in colour. On colour images the model sees
three values per pixel; tree and linear SHAP values and impurity importances of the
three are summed (Shapley values add up), and the model-agnostic explainer and
permutation importance mask or shuffle a pixel's three values together, through
:class:`WholePixels`, which shows the model one packed value per pixel.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shallowvision._records import NOT_JSON, Record
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import DataError
from shallowvision.explain._shap import (
    ShapValues,
    auto_n_explain,
    choose_explainer,
    shap_values,
    stratified_sample,
)

__all__ = [
    "N_MISCLASSIFIED",
    "Explanation",
    "ImageExplanation",
    "PixelImportance",
    "WholePixels",
    "explain_model",
    "impurity_importance",
    "permutation_importance_image",
]

#: The most confidently misclassified images :func:`explain_model` explains by default.
N_MISCLASSIFIED = 8


@dataclass(frozen=True, eq=False, kw_only=True)
class ImageExplanation(Record):
    """One image's SHAP values for its predicted and its true class, at the image's size.

    ``pixels`` is the image, ``(height, width)`` or ``(height, width, 3)`` in colour; the
    values are ``(height, width)`` either way (a colour pixel's three values summed).

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
    image_shape : (height, width)
        The maps' shape; colour images have one value per pixel too (see the module).
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


class WholePixels:
    """A fitted model shown whole pixels: each colour pixel packed into one number.

    Column ``p`` of the packed images holds pixel ``p``'s red, green and blue values as
    ``65536 r + 256 g + b``; ``predict``, ``predict_proba`` and ``decision_function``
    (those the model has) unpack the columns and call the model. Whatever masks or
    shuffles a column (model-agnostic SHAP, permutation importance) then moves a pixel's
    three values together.

    Parameters
    ----------
    estimator : fitted classifier
        Takes flattened colour images, ``(n, height * width * 3)`` uint8.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        n_values = getattr(estimator, "n_features_in_", None)
        if n_values is not None:
            self.n_features_in_ = int(n_values) // 3
        for name in ("predict", "predict_proba", "decision_function"):
            if hasattr(estimator, name):
                setattr(self, name, self._unpacking(getattr(estimator, name)))

    @staticmethod
    def pack(X: np.ndarray) -> np.ndarray:
        """Flattened colour images ``(n, n_pixels * 3)`` as one int32 per pixel ``(n, n_pixels)``."""
        rgb = np.asarray(X).reshape(len(X), -1, 3).astype(np.int32)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]

    @staticmethod
    def unpack(packed: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`pack`: uint8 images ``(n, n_pixels * 3)``."""
        v = np.asarray(packed)
        if not np.issubdtype(v.dtype, np.integer):
            # Explainers hand the columns back as floats; every value is a whole number.
            v = np.rint(v).astype(np.int32)
        # One channel at a time into the uint8 result: permutation importance unpacks
        # blocks of 20,000 images, where wider temporaries took gigabytes at 64x64.
        rgb = np.empty((*v.shape, 3), dtype=np.uint8)
        for channel, shift in enumerate((16, 8, 0)):
            rgb[..., channel] = (v >> shift) & 255
        return rgb.reshape(len(v), -1)

    def _unpacking(self, method: Any) -> Any:
        def call(packed: np.ndarray) -> Any:
            return method(self.unpack(packed))

        return call


def _values_per_pixel(values: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Per-value numbers ``(n_values,)`` as an image ``(height, width)``, a colour
    pixel's three values summed."""
    image = values.reshape(image_shape)
    return image.sum(axis=2) if image.ndim == 3 else image


def impurity_importance(model: Any, image_shape: tuple[int, ...]) -> PixelImportance | None:
    """The model's own impurity importances as an image, or None when it has none per pixel.

    Parameters
    ----------
    model : fitted classifier or Pipeline
    image_shape : (height, width), or (height, width, 3) for colour images
        A colour pixel's importance is the sum of its three values' importances.
    """
    from shallowvision.features._pixels import pixel_importances

    estimator = _estimator(model)
    found = pixel_importances(
        estimator, int(np.prod(image_shape)), attributes=("feature_importances_",)
    )
    if found is None:
        return None
    values, _ = found
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return PixelImportance(
        kind="impurity",
        values=_values_per_pixel(values, image_shape),
        source=f"{type(final).__name__}.feature_importances_",
    )


def permutation_importance_image(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, ...],
    *,
    n_repeats: int = 1,
    random_state: int = 0,
) -> PixelImportance:
    """Drop in accuracy when each pixel is shuffled across ``X``, as an image.

    The numbers of :func:`sklearn.inspection.permutation_importance` (accuracy, the
    same shuffles for the same ``random_state``), computed in a few batched prediction
    calls (:func:`shallowvision.features._pixels.pixel_permutation_importance`). A colour
    pixel's three values are shuffled together (see :class:`WholePixels`).

    Parameters
    ----------
    model : fitted classifier, Pipeline or SavedModel
    X : array of shape (n, height * width) or (n, height * width * 3)
        Held-out images (never the training images: importance there rewards overfitting).
    y : array of shape (n,)
    image_shape : (height, width), or (height, width, 3) for colour images
    n_repeats : int
        Shuffles per pixel.
    random_state : int
    """
    from shallowvision.features._pixels import pixel_permutation_importance

    start = time.perf_counter()
    estimator = _estimator(model)
    if len(image_shape) == 3:
        estimator, X = WholePixels(estimator), WholePixels.pack(X)
    mean, std = pixel_permutation_importance(
        estimator, X, y, n_repeats=n_repeats, random_state=random_state
    )
    size = tuple(image_shape[:2])
    return PixelImportance(
        kind="permutation",
        values=mean.reshape(size),
        std=std.reshape(size),
        n_images=len(X),
        n_repeats=n_repeats,
        source="permutation importance (accuracy)",
        seconds=time.perf_counter() - start,
    )


def pixel_shap_values(
    model: Any,
    X: np.ndarray,
    *,
    background: np.ndarray,
    class_names: tuple[str, ...],
    image_shape: tuple[int, ...],
    explainer: str = "auto",
    max_evals: int = 500,
) -> ShapValues:
    """:func:`~shallowvision.explain._shap.shap_values` with one value per pixel, in colour too.

    On colour images (``image_shape`` of 3), tree and linear SHAP values of a pixel's three
    values are summed; the model-agnostic explainer masks whole pixels (their three
    values together, on a hierarchy of the pixels' positions).
    """
    size = (int(image_shape[0]), int(image_shape[1]))
    if len(image_shape) != 3:
        return shap_values(
            model,
            X,
            background=background,
            class_names=class_names,
            image_shape=size,
            explainer=explainer,
            max_evals=max_evals,
        )
    chosen = choose_explainer(model) if explainer == "auto" else explainer
    if chosen == "partition":
        return shap_values(
            WholePixels(model),
            WholePixels.pack(X),
            background=WholePixels.pack(background),
            class_names=class_names,
            image_shape=size,
            explainer="partition",
            max_evals=max_evals,
        )
    # Every value of a row is one column of a (height, width * 3) image, which the exact
    # explainers accept as it is; the sum over each pixel's three follows.
    sv = shap_values(
        model,
        X,
        background=background,
        class_names=class_names,
        image_shape=(size[0], size[1] * 3),
        explainer=explainer,
        max_evals=max_evals,
    )
    n, _, k = sv.values.shape
    summed = sv.values.reshape(n, size[0] * size[1], 3, k).sum(axis=2)
    return dataclasses.replace(sv, values=summed, image_shape=size)


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
    n_misclassified: int = N_MISCLASSIFIED,
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
        Images the model was not trained on (validation or test), grey or colour (maps
        of colour images have one value per pixel, see the module).
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
    image_shape = data.image_size
    n_in = getattr(estimator, "n_features_in_", X.shape[1])
    if n_in != X.shape[1]:
        colour = " colour" if data.color == "rgb" else ""
        raise DataError(
            f"{data.name} has {image_shape[0]}x{image_shape[1]}{colour} images ({X.shape[1]} "
            f"values), but the model was trained on {n_in}"
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

    sv = pixel_shap_values(
        estimator,
        X[explained],
        background=X[background],
        class_names=data.class_names,
        image_shape=data.image_shape,
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
            data.image_shape,
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
        impurity=impurity_importance(estimator, data.image_shape),
        seconds=seconds,
        random_state=random_state,
        shap=sv,
    )
