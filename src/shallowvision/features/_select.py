"""Pixel selection: scikit-learn selectors that keep an exact number of pixels and draw their mask.

Every selector scores each pixel (variance, mutual information with the class, RFE
rank, a model's impurity or permutation importance, mean ``|SHAP|``), keeps the ``keep``
best and remembers the image shape, so :meth:`~PixelSelectorMixin.mask_as_image` and
:meth:`~PixelSelectorMixin.scores_as_image` draw the choice at the images' height x width.
``keep`` is a share of the pixels (below 1) or a count (1 or more); the mask holds
exactly that many pixels (ties go to the lower pixel index), except for RFECV, which
chooses its own count by cross-validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from shallowvision.exceptions import ConfigError, DataError
from shallowvision.features._base import ImageShapeMixin
from shallowvision.features._keep import SELECTION_METHODS, check_selection_method, n_to_keep

__all__ = [
    "ModelSelector",
    "MutualInfoSelector",
    "PixelSelectorMixin",
    "RFESelector",
    "ShapSelector",
    "VarianceSelector",
    "get_selection_method_names",
    "make_selector",
]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` highest scores; ties (and NaN, last) go to the lower index."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:k]] = True
    return mask


def _default_forest(random_state: int | None) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=100, min_samples_leaf=2, random_state=random_state)


def _scoring_model(selector: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """The selector's model fitted on ``(X, y)``: a fitted clone, or the estimator itself if prefit."""
    if selector.prefit:
        from sklearn.utils.validation import check_is_fitted

        if selector.estimator is None:
            raise ConfigError(f"{type(selector).__name__}(prefit=True) needs a fitted estimator")
        check_is_fitted(selector.estimator)
        if getattr(selector.estimator, "n_features_in_", X.shape[1]) != X.shape[1]:
            raise DataError(
                f"X has {X.shape[1]} features, but the prefit estimator was fitted with "
                f"{selector.estimator.n_features_in_}"
            )
        return selector.estimator
    estimator = (
        clone(selector.estimator)
        if selector.estimator is not None
        else _default_forest(selector.random_state)
    )
    return estimator.fit(X, y)


class PixelSelectorMixin(ImageShapeMixin, SelectorMixin):
    """What the selectors share: score every pixel in ``_score``, keep the ``keep`` best.

    Attributes set by ``fit``: ``scores_`` (one per pixel, higher is better),
    ``support_`` (the boolean mask), ``n_features_kept_``, ``image_shape_``.
    """

    keep: float
    _supervised = True

    def fit(self, X, y=None):
        """Score the pixels of ``X`` (flattened images) and keep the best; return self."""
        if self._supervised:
            X, y = self._validate_labelled_images(X, y)
            check_classification_targets(y)
            n_classes = len(np.unique(y))
            if n_classes < 2:
                raise DataError(
                    f"{type(self).__name__} scores pixels by how they separate classes, but y has 1 class"
                )
        else:
            X = self._validate_images(X, reset=True, dtype="numeric")
        k = n_to_keep(self.keep, X.shape[1])
        scores, k = self._score(X, y, k)
        self.scores_ = np.asarray(scores, dtype=np.float64)
        self.support_ = _top_k(self.scores_, k)
        self.n_features_kept_ = int(k)
        return self

    def _score(self, X: np.ndarray, y: Any, k: int) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def mask_as_image(self) -> np.ndarray:
        """The kept pixels as a boolean image of shape ``image_shape_``."""
        return self.get_support().reshape(self.image_shape_)

    def scores_as_image(self) -> np.ndarray:
        """Every pixel's score as a float image of shape ``image_shape_``."""
        check_is_fitted(self, "scores_")
        return self.scores_.reshape(self.image_shape_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._supervised
        return tags


class VarianceSelector(PixelSelectorMixin, BaseEstimator):
    """Keep the pixels whose intensity varies most across images.

    A variance threshold set where it keeps exactly ``keep`` pixels (``threshold_``):
    the always-blank borders of digit and garment images go first.

    Parameters
    ----------
    keep : float, default=0.3
        Share (< 1) or count (>= 1) of pixels kept.
    image_shape : (height, width) or None
        Shape the rows were flattened from; None means square images.
    """

    _supervised = False

    def __init__(self, *, keep: float = 0.3, image_shape: tuple[int, int] | None = None) -> None:
        self.keep = keep
        self.image_shape = image_shape

    def _score(self, X, y, k):
        variances = np.var(X, axis=0, dtype=np.float64)
        self.threshold_ = float(np.sort(variances)[::-1][k - 1])
        return variances, k


class MutualInfoSelector(PixelSelectorMixin, BaseEstimator):
    """Keep the pixels sharing the most information with the class (``SelectKBest`` on
    :func:`sklearn.feature_selection.mutual_info_classif`).

    Parameters
    ----------
    keep : float, default=0.3
    n_neighbors : int, default=3
        Neighbours of the k-NN entropy estimate.
    random_state : int, optional
        Seed of the estimator's small noise.
    image_shape : (height, width) or None
    """

    def __init__(
        self,
        *,
        keep: float = 0.3,
        n_neighbors: int = 3,
        random_state: int | None = None,
        image_shape: tuple[int, int] | None = None,
    ) -> None:
        self.keep = keep
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.image_shape = image_shape

    def _score(self, X, y, k):
        from functools import partial

        from sklearn.feature_selection import SelectKBest, mutual_info_classif

        score = partial(
            mutual_info_classif, n_neighbors=self.n_neighbors, random_state=self.random_state
        )
        best = SelectKBest(score, k=k).fit(X.astype(np.float64, copy=False), y)
        return best.scores_, k


def _rfe_getter(estimator: Any) -> str:
    """RFE's ``importance_getter`` for an estimator, reaching into a pipeline's last step."""
    from sklearn.pipeline import Pipeline

    from shallowvision.features._pixels import keeps_pixels, split_pipeline

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    attribute = "feature_importances_" if hasattr(type(final), "feature_importances_") else "coef_"
    if not isinstance(estimator, Pipeline):
        return "auto"
    steps, _ = split_pipeline(estimator)
    # A pixel-mixing step (PCA) leaves no per-pixel importances to eliminate by.
    if not all(keeps_pixels(s) for s in steps):
        raise ConfigError(
            f"RFE ranks pixels by the model's own importances, but {type(final).__name__} sees "
            "mixed pixels (a PCA or kernel step); choose a model without one, or the "
            "'permutation' or 'shap' method"
        )
    return f"named_steps.{estimator.steps[-1][0]}.{attribute}"


class RFESelector(PixelSelectorMixin, BaseEstimator):
    """Recursive feature elimination (:class:`sklearn.feature_selection.RFE`): refit the
    model and drop the least important pixels until ``keep`` remain.

    With ``cv``, :class:`~sklearn.feature_selection.RFECV` chooses the count by
    stratified cross-validation, considering no fewer than ``keep`` pixels.

    Parameters
    ----------
    estimator : classifier, optional
        With ``feature_importances_`` or ``coef_`` per pixel (a zoo pipeline without PCA
        works); default extremely randomised trees.
    keep : float, default=0.3
    step : float or int, default=0.1
        Share (< 1) or number of pixels dropped at each round.
    cv : int, optional
        Folds for RFECV; None runs plain RFE.
    scoring : str, optional
        RFECV's scoring (default accuracy).
    random_state : int, optional
        Seed of the default estimator and of RFECV's folds.
    n_jobs : int, optional
        RFECV's folds in parallel.
    image_shape : (height, width) or None
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        keep: float = 0.3,
        step: float | int = 0.1,
        cv: int | None = None,
        scoring: str | None = None,
        random_state: int | None = None,
        n_jobs: int | None = None,
        image_shape: tuple[int, int] | None = None,
    ) -> None:
        self.estimator = estimator
        self.keep = keep
        self.step = step
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.image_shape = image_shape

    def _score(self, X, y, k):
        from sklearn.feature_selection import RFE, RFECV
        from sklearn.model_selection import StratifiedKFold

        estimator = (
            clone(self.estimator)
            if self.estimator is not None
            else _default_forest(self.random_state)
        )
        getter = _rfe_getter(estimator)
        if self.cv is None:
            rfe = RFE(estimator, n_features_to_select=k, step=self.step, importance_getter=getter)
        else:
            folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
            rfe = RFECV(
                estimator,
                step=self.step,
                min_features_to_select=k,
                cv=folds,
                scoring=self.scoring,
                n_jobs=self.n_jobs,
                importance_getter=getter,
            )
        self.rfe_ = rfe.fit(X, y)
        # Rank 1 is kept; later-eliminated pixels rank better, so -rank orders them all.
        return -self.rfe_.ranking_.astype(np.float64), int(self.rfe_.n_features_)


class ModelSelector(PixelSelectorMixin, BaseEstimator):
    """Keep the pixels a fitted model finds most important.

    ``importance="impurity"`` reads the model's own ``feature_importances_`` (mean
    decrease in impurity; the sum of absolute coefficients for linear models), as
    :class:`sklearn.feature_selection.SelectFromModel` does; ``"permutation"`` fits the
    model on part of the images and measures, on the rest, how much accuracy drops when
    each pixel is shuffled (the numbers of :func:`sklearn.inspection.permutation_importance`,
    computed in a few batched prediction calls).

    Parameters
    ----------
    estimator : classifier, optional
        Default extremely randomised trees.
    keep : float, default=0.3
    importance : {"impurity", "permutation"}
    n_repeats : int, default=3
        Shuffles per pixel for permutation importance.
    validation_fraction : float, default=0.25
        Share of the images held out for permutation importance (stratified).
    random_state : int, optional
    prefit : bool, default=False
        ``estimator`` is already fitted on the images ``fit`` gets: read its
        importances without fitting it again (impurity importance only).
    image_shape : (height, width) or None
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        keep: float = 0.3,
        importance: str = "impurity",
        n_repeats: int = 3,
        validation_fraction: float = 0.25,
        random_state: int | None = None,
        prefit: bool = False,
        image_shape: tuple[int, int] | None = None,
    ) -> None:
        self.estimator = estimator
        self.keep = keep
        self.importance = importance
        self.n_repeats = n_repeats
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.prefit = prefit
        self.image_shape = image_shape

    def _score(self, X, y, k):
        from shallowvision.features._pixels import pixel_importances

        if self.importance not in ("impurity", "permutation"):
            raise ConfigError(
                f"importance must be 'impurity' or 'permutation', got {self.importance!r}"
            )
        if self.importance == "impurity":
            self.estimator_ = _scoring_model(self, X, y)
            found = pixel_importances(self.estimator_, X.shape[1])
            if found is None:
                raise ConfigError(
                    f"{type(self.estimator_).__name__} has no per-pixel importances of its own "
                    "(no feature_importances_ or coef_, or a step that mixes pixels); use "
                    "importance='permutation' or the 'shap' method"
                )
            return found[0], k
        if self.prefit:
            raise ConfigError(
                "permutation importance is measured on images the model did not see, so it "
                "fits its own model: use prefit=False"
            )
        estimator = (
            clone(self.estimator)
            if self.estimator is not None
            else _default_forest(self.random_state)
        )
        from sklearn.model_selection import train_test_split

        from shallowvision.features._pixels import pixel_permutation_importance

        X_fit, X_held, y_fit, y_held = train_test_split(
            X,
            y,
            test_size=self.validation_fraction,
            stratify=y,
            random_state=self.random_state,
        )
        self.estimator_ = estimator.fit(X_fit, y_fit)
        mean, self.importances_std_ = pixel_permutation_importance(
            self.estimator_,
            X_held,
            y_held,
            n_repeats=self.n_repeats,
            random_state=self.random_state,
        )
        return mean, k


class ShapSelector(PixelSelectorMixin, BaseEstimator):
    """Keep the pixels with the largest mean absolute SHAP value over a sample of training images.

    The model is fitted on all of ``X`` (or taken as it is, ``prefit``); SHAP values
    (averaged over images and classes)
    come from :func:`shallowvision.explain.shap_values`: exact tree SHAP for tree models,
    linear SHAP for linear ones, a model-agnostic explainer otherwise.

    Parameters
    ----------
    estimator : classifier, optional
        Default extremely randomised trees.
    keep : float, default=0.3
    n_explain : int, optional
        Training images explained (a stratified sample); default 200, fewer for large
        forests (as :func:`shallowvision.explain.explain_model` chooses).
    n_background : int, default=100
        Background images of the linear and model-agnostic explainers.
    random_state : int, optional
        Seed of the default estimator and the samples.
    prefit : bool, default=False
        ``estimator`` is already fitted on the images ``fit`` gets: explain it as it is.
    image_shape : (height, width) or None
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        keep: float = 0.3,
        n_explain: int | None = None,
        n_background: int = 100,
        random_state: int | None = None,
        prefit: bool = False,
        image_shape: tuple[int, int] | None = None,
    ) -> None:
        self.estimator = estimator
        self.keep = keep
        self.n_explain = n_explain
        self.n_background = n_background
        self.random_state = random_state
        self.prefit = prefit
        self.image_shape = image_shape

    def _score(self, X, y, k):
        from shallowvision.features._shap import auto_n_explain, shap_values, stratified_sample

        self.estimator_ = _scoring_model(self, X, y)
        seed = 0 if self.random_state is None else self.random_state
        n_explain = self.n_explain or auto_n_explain(self.estimator_)
        explained = stratified_sample(y, n_explain, random_state=seed)
        background = stratified_sample(y, self.n_background, random_state=seed + 1)
        result = shap_values(
            self.estimator_,
            X[explained],
            background=X[background],
            image_shape=self.image_shape_,
        )
        return np.abs(result.values).mean(axis=(0, 2)), k


# method name (each of SELECTION_METHODS) -> (selector class, fixed parameters)
_METHODS: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "variance": (VarianceSelector, {}),
    "mi": (MutualInfoSelector, {}),
    "rfe": (RFESelector, {}),
    "rfecv": (RFESelector, {"cv": 5}),
    "model": (ModelSelector, {"importance": "impurity"}),
    "permutation": (ModelSelector, {"importance": "permutation"}),
    "shap": (ShapSelector, {}),
}


def get_selection_method_names() -> list[str]:
    """Names of the pixel-selection methods :func:`make_selector` knows."""
    return list(SELECTION_METHODS)


def make_selector(
    method: str,
    *,
    keep: float = 0.3,
    estimator: Any = None,
    random_state: int | None = 0,
    image_shape: tuple[int, int] | None = None,
    n_neighbors: int | None = None,
    step: float | int | None = None,
    cv: int | None = None,
    scoring: str | None = None,
    n_jobs: int | None = None,
    importance: str | None = None,
    n_repeats: int | None = None,
    validation_fraction: float | None = None,
    n_explain: int | None = None,
    n_background: int | None = None,
    prefit: bool | None = None,
) -> Any:
    """An unfitted selector by method name.

    Parameters
    ----------
    method : str
        ``variance``, ``mi`` (mutual information), ``rfe``, ``rfecv``, ``model``
        (impurity importance), ``permutation`` (permutation importance) or ``shap``.
    keep : float
        Share (< 1) or count (>= 1) of pixels kept.
    estimator : classifier, optional
        The model that scores pixels for rfe, rfecv, model, permutation and shap.
    random_state : int, optional
    image_shape : (height, width), optional
    n_neighbors, step, cv, scoring, n_jobs, importance, n_repeats, validation_fraction, \
n_explain, n_background, prefit : optional
        Parameters of the selector class the method builds (e.g. ``n_explain=100`` for
        ``shap``); left as None, the class's own default. Setting one the class does
        not have raises :class:`~shallowvision.exceptions.ConfigError`.
    """
    key = check_selection_method(method)
    cls, fixed = _METHODS[key]
    given = {
        "n_neighbors": n_neighbors,
        "step": step,
        "cv": cv,
        "scoring": scoring,
        "n_jobs": n_jobs,
        "importance": importance,
        "n_repeats": n_repeats,
        "validation_fraction": validation_fraction,
        "n_explain": n_explain,
        "n_background": n_background,
        "prefit": prefit,
    }
    options = {name: value for name, value in given.items() if value is not None}
    params: dict[str, Any] = {"keep": keep, "image_shape": image_shape, **fixed, **options}
    names = cls._get_param_names()
    if "estimator" in names:
        params["estimator"] = estimator
    elif estimator is not None:
        raise ConfigError(f"the {key!r} method scores pixels without a model; drop the estimator")
    if "random_state" in names:
        params["random_state"] = random_state
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has no parameter {', '.join(unknown)}; its parameters are {', '.join(names)}"
        )
    return cls(**params)
