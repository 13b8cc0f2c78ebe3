"""SHAP values per pixel for any fitted classifier or pipeline over flattened images.

The explainer follows the model: exact tree SHAP (:class:`shap.TreeExplainer`) for
random forests, extra trees, decision trees, histogram and classic gradient boosting,
XGBoost and LightGBM; linear SHAP (:class:`shap.LinearExplainer`) for linear models; a
model-agnostic explainer otherwise (:class:`shap.PartitionExplainer` over a spatial
hierarchy of the pixels, so neighbouring pixels are masked together). Tree and linear
explainers look past preprocessing that keeps pixels apart (scalers, selectors); a
step that mixes pixels (PCA, kernel maps) sends the whole pipeline to the model-agnostic
explainer, which works on the pixels themselves. Either way the values are per pixel.

They live with the features because the SHAP pixel selector scores pixels with them;
:mod:`shallowvision.explain` draws them and offers them under its own name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from shallowvision._optional import import_optional
from shallowvision._records import NOT_JSON, Record
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.features._base import infer_image_shape
from shallowvision.features._pixels import feature_pixels, split_pipeline

__all__ = [
    "EXPLAINERS",
    "ShapValues",
    "auto_n_explain",
    "choose_explainer",
    "expected_tree_shap_seconds",
    "shap_values",
    "stratified_sample",
]

#: SHAP explainers by name; ``"auto"`` picks tree, linear or partition from the model.
EXPLAINERS = ("auto", "tree", "linear", "partition")

# Tree models TreeExplainer reads exactly, with the space their raw output lives in.
_TREES = {
    "DecisionTreeClassifier": "probability",
    "RandomForestClassifier": "probability",
    "ExtraTreesClassifier": "probability",
    "GradientBoostingClassifier": "margin",
    "HistGradientBoostingClassifier": "margin",
    "XGBClassifier": "margin",
    "LGBMClassifier": "margin",
}


def _shap() -> ModuleType:
    """``shap``, the optional dependency behind every explanation."""
    return import_optional("shap")


@dataclass(frozen=True, eq=False, kw_only=True)
class ShapValues(Record):
    """SHAP values of some images, one per pixel and class.

    ``values[i, p, c]`` is how much pixel ``p`` moves image ``i``'s output for class
    ``c`` away from ``base_values[i, c]``; the two add up to the model's output
    (``output_space``: ``"probability"``, or ``"margin"`` for log-odds and decision
    scores). A binary model with a single output gets two columns, the second its own
    and the first its negation (1 minus it for probabilities), so every class has one.
    ``additivity_error`` is the largest gap between base value plus contributions
    and the model's actual output, measured on these images.
    """

    values: np.ndarray = field(metadata=NOT_JSON)
    base_values: np.ndarray
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    explainer: str
    output_space: str
    n_background: int
    max_evals: int | None
    additivity_error: float
    seconds: float

    def as_images(self) -> np.ndarray:
        """The values as ``(n_images, n_classes, height, width)``."""
        n, _, k = self.values.shape
        return self.values.transpose(0, 2, 1).reshape(n, k, *self.image_shape)


def stratified_sample(labels: np.ndarray, n: int, *, random_state: int = 0) -> np.ndarray:
    """Sorted indices of a seeded sample of ``n`` items (all if fewer), stratified by label."""
    from sklearn.utils import resample

    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    counts = np.bincount(np.unique(labels, return_inverse=True)[1])
    index = np.arange(len(labels))
    if counts.min() < 2 or n < len(counts):
        # Too few to stratify: a plain seeded draw.
        return np.sort(np.random.default_rng(random_state).choice(index, n, replace=False))
    chosen = resample(index, replace=False, n_samples=n, stratify=labels, random_state=random_state)
    return np.sort(np.asarray(chosen))


def _is_linear(final: Any) -> bool:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import (
        LogisticRegression,
        LogisticRegressionCV,
        RidgeClassifier,
        RidgeClassifierCV,
        SGDClassifier,
    )
    from sklearn.svm import LinearSVC

    return isinstance(
        final,
        LogisticRegression
        | LogisticRegressionCV
        | SGDClassifier
        | RidgeClassifier
        | RidgeClassifierCV
        | LinearSVC
        | LinearDiscriminantAnalysis,
    )


def choose_explainer(model: Any) -> str:
    """The explainer ``"auto"`` picks for a fitted model: ``tree``, ``linear`` or ``partition``."""
    steps, final = split_pipeline(model)
    n_in = getattr(model, "n_features_in_", None)
    if n_in is None or feature_pixels(steps, int(n_in)) is None:
        return "partition"
    if type(final).__name__ in _TREES:
        return "tree"
    if _is_linear(final):
        return "linear"
    return "partition"


#: Tree SHAP work (see :func:`tree_shap_work`) the automatic sample size allows in total:
#: about 3 s on two cores (below), so that a forest gets the fewest images; a forest of
#: 200 fully grown trees on 60,000 images is then explained in about a minute.
AUTO_WORK = 2e10
#: Seconds of tree SHAP per unit of :func:`tree_shap_work` and image, on two cores:
#: 1.16e-10 for the zoo's dt, 1.15e-10 for its rf and 1.27e-10 for its et, fitted on
#: 48,000 Fashion-MNIST images, 28 images each (benchmarks/RESULTS.md).
TREE_SHAP_SECONDS_PER_WORK = 1.3e-10
#: The automatic sample size's bounds: enough for a few images of every class of a
#: 10-class set at least, and no more than averaged maps need.
AUTO_N_EXPLAIN = (20, 200)


def tree_shap_work(model: Any) -> float | None:
    """Tree SHAP's work per image for a fitted scikit-learn tree model, or None for others.

    Path-dependent tree SHAP visits every leaf of every tree with work growing as the
    square of its depth, for every output at once: leaves x depth^2 x outputs summed
    over the trees. Fully grown forests (the zoo's rf and et) are the costly ones;
    boosted trees are shallow.
    """
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeClassifier

    _, final = split_pipeline(model)
    if isinstance(final, RandomForestClassifier | ExtraTreesClassifier):
        trees, outputs = list(final.estimators_), len(final.classes_)
    elif isinstance(final, DecisionTreeClassifier):
        trees, outputs = [final], len(final.classes_)
    elif isinstance(final, GradientBoostingClassifier):
        trees, outputs = list(np.ravel(final.estimators_)), 1
    else:
        return None
    return float(sum(t.tree_.n_leaves * max(t.tree_.max_depth, 1) ** 2 for t in trees) * outputs)


def expected_tree_shap_seconds(model: Any, n_images: int) -> float | None:
    """Seconds tree SHAP is expected to take on ``n_images`` images of a fitted model that
    :func:`tree_shap_work` prices, else None."""
    work = tree_shap_work(model) if choose_explainer(model) == "tree" else None
    return None if not work else n_images * work * TREE_SHAP_SECONDS_PER_WORK


def auto_n_explain(model: Any) -> int:
    """The sample size :func:`~shallowvision.explain.explain_model` uses by default.

    The largest of :data:`AUTO_N_EXPLAIN` for most models; for large scikit-learn
    forests, as many images as :data:`AUTO_WORK` allows (at least the smallest), so a
    forest of 200 fully grown trees on 60,000 images is explained in about a minute
    rather than ten. Deterministic: it depends on the model, not on the machine.
    """
    low, high = AUTO_N_EXPLAIN
    work = tree_shap_work(model) if choose_explainer(model) == "tree" else None
    if not work:
        return high
    return int(np.clip(AUTO_WORK // work, low, high))


def _margin(final: Any, X: np.ndarray) -> np.ndarray:
    """The raw output tree SHAP explains for boosting models: log-odds or softmax logits."""
    name = type(final).__name__
    if name == "XGBClassifier":
        return np.asarray(final.predict(X, output_margin=True), dtype=np.float64)
    if name == "LGBMClassifier":
        return np.asarray(final.predict(X, raw_score=True), dtype=np.float64)
    return np.asarray(final.decision_function(X), dtype=np.float64)


def _two_columns(values: np.ndarray, base: np.ndarray, output: np.ndarray, space: str):
    """A binary model's single output as two class columns (negated, or 1 minus, for class 0)."""
    if values.ndim == 3:
        return values, base, output
    base = base.reshape(len(values))
    output = output.reshape(len(values))
    values2 = np.stack([-values, values], axis=2)
    if space == "probability":
        return values2, np.column_stack([1 - base, base]), np.column_stack([1 - output, output])
    return values2, np.column_stack([-base, base]), np.column_stack([-output, output])


def _spatial_hierarchy(image_shape: tuple[int, int]) -> np.ndarray:
    """A linkage over pixel coordinates (Ward): neighbouring pixels merge first."""
    from scipy.cluster import hierarchy

    h, w = image_shape
    rows, cols = np.mgrid[0:h, 0:w]
    coords = np.column_stack([rows.ravel(), cols.ravel()]).astype(np.float64)
    # A tiny seeded jitter breaks the grid's exact distance ties the same way every time.
    coords += np.random.default_rng(0).normal(scale=1e-6, size=coords.shape)
    return hierarchy.linkage(coords, method="ward")


def shap_values(
    model: Any,
    X: np.ndarray,
    *,
    background: np.ndarray | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
    image_shape: tuple[int, int] | None = None,
    explainer: str = "auto",
    max_evals: int = 500,
) -> ShapValues:
    """SHAP values per pixel of ``X`` under a fitted ``model``.

    Parameters
    ----------
    model : fitted classifier or Pipeline
        Takes flattened images (as the zoo's pipelines do).
    X : array of shape (n, height * width) or (n, height, width)
        The images to explain.
    background : array, optional
        Reference images for the linear and model-agnostic explainers (the expected
        output is taken over them); tree SHAP follows the trees' own training counts
        and needs none. Required unless the explainer is ``"tree"``.
    class_names : sequence of str, optional
        One per class; default ``"0", "1", ...``.
    image_shape : (height, width), optional
        Default square (or taken from ``X`` when it is 3-D).
    explainer : {"auto", "tree", "linear", "partition"}
        ``"auto"`` picks with :func:`choose_explainer`.
    max_evals : int
        Model evaluations per image of the model-agnostic explainer.

    Returns
    -------
    ShapValues
    """
    shap = _shap()
    X = np.asarray(X)
    if X.ndim == 3:
        image_shape = image_shape or (X.shape[1], X.shape[2])
        X = X.reshape(len(X), -1)
    if X.ndim != 2 or len(X) == 0:
        raise DataError(f"X must hold at least one flattened image, got shape {X.shape}")
    n_in = getattr(model, "n_features_in_", X.shape[1])
    if X.shape[1] != n_in:
        raise DataError(f"X has {X.shape[1]} pixels, but the model was fitted on {n_in}")
    inferred = infer_image_shape(X.shape[1], image_shape)
    if len(inferred) != 2:
        raise ConfigError(f"pixel explanations need grey images, got image_shape {inferred}")
    shape = (inferred[0], inferred[1])
    if explainer not in EXPLAINERS:
        raise ConfigError(f"unknown explainer {explainer!r}; choose one of {', '.join(EXPLAINERS)}")
    chosen = choose_explainer(model) if explainer == "auto" else explainer
    if explainer != "auto" and chosen != "partition" and choose_explainer(model) != chosen:
        raise ConfigError(
            f"the {chosen} explainer does not apply to {type(split_pipeline(model)[1]).__name__} "
            f"behind {'its preprocessing' if split_pipeline(model)[0] else 'no preprocessing'}; "
            "use explainer='auto'"
        )
    bg = None
    if background is not None:
        bg = np.asarray(background).reshape(len(background), -1).astype(np.float64)
    steps, final = split_pipeline(model)
    start = time.perf_counter()
    if chosen == "partition":
        if bg is None:
            raise ConfigError("the model-agnostic explainer needs background images")
        values, base, output, space = _partition(
            shap, model, X.astype(np.float64), bg, shape, max_evals
        )
        n_bg = len(bg)
    else:
        # Tree and linear SHAP work on what the classifier sees; every feature is one pixel.
        pixels = feature_pixels(steps, X.shape[1])
        Xt = _transform(steps, X.astype(np.float64))
        if chosen == "tree":
            values, base, output, space = _tree(shap, final, Xt)
            n_bg = 0
        elif bg is None:
            raise ConfigError("the linear explainer needs background images")
        else:
            values, base, output, space = _linear(shap, final, Xt, _transform(steps, bg))
            n_bg = len(bg)
        full = np.zeros((len(X), X.shape[1], values.shape[2]), dtype=np.float64)
        full[:, pixels, :] = values
        values = full
    seconds = time.perf_counter() - start
    k = values.shape[2]
    names = (
        tuple(str(c) for c in class_names) if class_names is not None else tuple(map(str, range(k)))
    )
    if len(names) != k:
        raise DataError(f"the model has {k} outputs but {len(names)} class names were given")
    error = float(np.max(np.abs(base + values.sum(axis=1) - output)))
    return ShapValues(
        values=values.astype(np.float32),
        base_values=base,
        class_names=names,
        image_shape=shape,
        explainer=chosen,
        output_space=space,
        n_background=n_bg,
        max_evals=max_evals if chosen == "partition" else None,
        additivity_error=error,
        seconds=seconds,
    )


def _transform(steps: list[Any], X: np.ndarray) -> np.ndarray:
    for step in steps:
        X = step.transform(X)
    return np.asarray(X, dtype=np.float64)


def _tree(shap: ModuleType, final: Any, Xt: np.ndarray):
    space = _TREES[type(final).__name__]
    # Path-dependent tree SHAP: exact for the trees, no background needed.
    explanation = shap.TreeExplainer(final)(Xt, check_additivity=False)
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    output = (
        np.asarray(final.predict_proba(Xt), dtype=np.float64)
        if space == "probability"
        else _margin(final, Xt)
    )
    values, base, output = _two_columns(values, base, output, space)
    return values, base.reshape(len(Xt), -1), output, space


def _linear(shap: ModuleType, final: Any, Xt: np.ndarray, background: np.ndarray):
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explanation = shap.LinearExplainer(final, masker)(Xt)
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    output = np.asarray(final.decision_function(Xt), dtype=np.float64)
    values, base, output = _two_columns(values, base, output, "margin")
    return values, base.reshape(len(Xt), -1), output, "margin"


def _partition(
    shap: ModuleType,
    model: Any,
    X: np.ndarray,
    background: np.ndarray,
    image_shape: tuple[int, int],
    max_evals: int,
):
    if hasattr(model, "predict_proba"):
        predict, space = model.predict_proba, "probability"
    elif hasattr(model, "decision_function"):
        predict, space = model.decision_function, "margin"
    else:
        raise ConfigError(
            f"{type(model).__name__} gives neither probabilities nor decision scores: nothing to explain"
        )
    masker = shap.maskers.Partition(
        background, max_samples=len(background), clustering=_spatial_hierarchy(image_shape)
    )
    # Large batches: the explainer otherwise calls the model ten masks at a time.
    explanation = shap.PartitionExplainer(predict, masker)(
        X, max_evals=max_evals, batch_size=max_evals, silent=True
    )
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    output = np.asarray(predict(X), dtype=np.float64)
    values, base, output = _two_columns(values, base, output, space)
    return values, base.reshape(len(X), -1), output, space
