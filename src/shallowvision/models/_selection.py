"""Pixel selection judged honestly: a model retrained on the kept pixels against all pixels."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shallowvision._records import NOT_JSON, Record
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError
from shallowvision.models._compare import ModelScore, fit_and_score, score_fitted
from shallowvision.models._registry import get_model_spec
from shallowvision.models._scores import is_fitted

__all__ = ["SelectionResult", "evaluate_selection", "save_selection", "selection_figures"]

#: Methods that score pixels with a model (the one being retrained, by default).
_MODEL_METHODS = ("rfe", "rfecv", "model", "permutation", "shap")
#: Of those, the ones that read a model fitted on all the training images as it is.
_PREFIT_METHODS = ("model", "shap")


@dataclass(frozen=True, eq=False, kw_only=True)
class SelectionResult(Record):
    """A selection method's pixels and what keeping only them does to a model.

    Attributes
    ----------
    keep : float
        What was asked: a share (< 1) or a count (>= 1).
    n_features, n_kept : int
        Pixels in the images, and pixels kept (exactly as asked, except for RFECV,
        which picks its own count). A colour pixel is kept or dropped whole, its three
        values together.
    share_kept : float
        ``n_kept / n_features``.
    mask : ndarray of bool, shape (height, width)
        The kept pixels, drawn as an image.
    scores : ndarray, shape (height, width)
        The method's score of every pixel (higher is better).
    all_pixels, kept_pixels : ModelScore
        The model trained on all pixels and on the kept ones, scored on the same
        validation images: accuracy, macro F1, fit and predict seconds.
    delta : dict
        Kept minus all: accuracy, macro F1, fit and predict seconds.
    selection_seconds : float
        Time to fit the selector (scoring the pixels) on the training images; for the
        ``model`` and ``shap`` methods it reads the model already fitted on all pixels
        (whose fit time is in ``all_pixels``).
    selector, model : fitted estimators (not in :meth:`to_dict`)
        The selector and the model trained on the kept pixels.
    """

    method: str
    model_name: str
    scorer: str
    keep: float
    n_features: int
    n_kept: int
    share_kept: float
    image_shape: tuple[int, int]
    mask: np.ndarray
    scores: np.ndarray
    all_pixels: ModelScore
    kept_pixels: ModelScore
    delta: dict[str, float | None]
    selection_seconds: float
    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    random_state: int
    selector: Any = field(default=None, repr=False, metadata=NOT_JSON)
    model: Any = field(default=None, repr=False, metadata=NOT_JSON)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["all_pixels"] = self.all_pixels.to_dict()
        out["kept_pixels"] = self.kept_pixels.to_dict()
        return out


def evaluate_selection(
    method: str,
    keep: float,
    model: str | tuple[str, Any],
    train: ImageSet,
    validation: ImageSet,
    *,
    scorer: Any = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    fit_seconds: float | None = None,
) -> SelectionResult:
    """Select pixels on ``train``, retrain ``model`` on them, and compare it with ``model`` on all pixels.

    Both models are scored on the same ``validation`` images; the selector never sees
    them.

    Parameters
    ----------
    method : str
        A name from :func:`shallowvision.features.get_selection_method_names`.
    keep : float
        Share (< 1) or count (>= 1) of pixels kept.
    model : str or (name, estimator)
        Zoo name or classifier retrained on the kept pixels. A classifier already
        fitted on ``train`` is the all-pixels model as it is (not fitted again), and a
        clone of it is fitted on the kept pixels.
    train, validation : ImageSet
    scorer : estimator, optional
        The model that scores pixels for rfe, rfecv, model, permutation and shap;
        default ``model`` itself (for model and shap, the very model fitted on all pixels).
    random_state : int
    n_jobs : int, optional
        Passed to zoo models.
    params : dict, optional
        Zoo parameters of ``model`` (``{"n_estimators": 50}``).
    options : dict, optional
        Further selector parameters (``{"n_explain": 100}``, ``{"importance": ...}``).
    fit_seconds : float, optional
        Fit time of a ``model`` handed in fitted, reported for the all-pixels model.

    Returns
    -------
    SelectionResult
    """
    from sklearn.base import clone

    from shallowvision.features import make_selector, n_to_keep

    if isinstance(model, str):
        name = model
        fresh = get_model_spec(model).make(
            random_state=random_state, n_jobs=n_jobs, **(params or {})
        )
    else:
        name, fresh = model[0], clone(model[1])
    train.check_trainable()
    if train.class_names != validation.class_names or train.image_shape != validation.image_shape:
        raise ConfigError(
            f"train and {validation.split} differ in classes or image shape; load them with one load_splits call"
        )
    key = method.strip().lower()
    by_model = key in _MODEL_METHODS
    pixel_scorer = (clone(scorer) if scorer is not None else clone(fresh)) if by_model else None
    # Built before any fit, so a bad method, option or keep fails at once.
    known = inspect.signature(make_selector).parameters
    unknown = sorted(set(options or {}) - {n for n, p in known.items() if p.kind is p.KEYWORD_ONLY})
    if unknown:
        raise ConfigError(f"options: no selector has a parameter {', '.join(unknown)}")
    h, w = train.image_size
    channels = 3 if train.color == "rgb" else 1
    n_pixels_kept = n_to_keep(keep, h * w)
    # A colour row is a (height, width * 3) image to the selector: it scores every value,
    # and whole pixels are kept from the sums of their three scores (_whole_pixels).
    selector = make_selector(
        method,
        keep=keep if channels == 1 else n_pixels_kept * channels,
        estimator=pixel_scorer,
        random_state=random_state,
        image_shape=(h, w * channels),
        **(options or {}),
    )
    X_train, y_train = np.ascontiguousarray(train.X), train.y
    X_eval, y_eval = np.ascontiguousarray(validation.X), validation.y
    k = train.n_classes
    if not isinstance(model, str) and is_fitted(model[1]):
        all_model = model[1]
        all_row = score_fitted(name, all_model, X_eval, y_eval, k, fit_seconds=fit_seconds)
    else:
        all_row, all_model = fit_and_score(
            (name, clone(fresh)), X_train, y_train, X_eval, y_eval, k, keep_model=True
        )
    if key in _PREFIT_METHODS and scorer is None:
        # The model just fitted on all pixels is the one that scores them: no second fit.
        pixel_scorer = all_model
        selector.set_params(estimator=all_model, prefit=True)
    start = time.perf_counter()
    selector.fit(X_train, y_train)
    if channels == 1:
        mask, pixel_scores = selector.mask_as_image(), selector.scores_as_image()
    else:
        mask, pixel_scores = _whole_pixels(selector, (h, w), channels)
    selection_seconds = time.perf_counter() - start
    kept_row, kept_model = fit_and_score(
        (f"{name} on {selector.n_features_kept_ // channels} pixels", clone(fresh)),
        selector.transform(X_train),
        y_train,
        selector.transform(X_eval),
        y_eval,
        k,
        keep_model=True,
    )
    delta = {
        metric: None
        if getattr(kept_row, metric) is None or getattr(all_row, metric) is None
        else float(getattr(kept_row, metric) - getattr(all_row, metric))
        for metric in ("accuracy", "f1_macro", "fit_seconds", "predict_seconds_per_1000")
    }
    n_features = h * w
    n_kept = int(selector.n_features_kept_) // channels
    return SelectionResult(
        method=method.strip().lower(),
        model_name=name,
        scorer=(
            type(
                pixel_scorer.steps[-1][1] if hasattr(pixel_scorer, "steps") else pixel_scorer
            ).__name__
            if pixel_scorer is not None
            else ""
        ),
        keep=float(keep),
        n_features=n_features,
        n_kept=n_kept,
        share_kept=n_kept / n_features,
        image_shape=(h, w),
        mask=mask,
        scores=pixel_scores,
        all_pixels=all_row,
        kept_pixels=kept_row,
        delta=delta,
        selection_seconds=selection_seconds,
        dataset=train.name,
        evaluated_on=validation.split,
        n_train=len(train),
        n_eval=len(validation),
        random_state=random_state,
        selector=selector,
        model=kept_model,
    )


def _whole_pixels(
    selector: Any, image_size: tuple[int, int], channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Make a fitted selector keep whole colour pixels; return the pixel mask and scores.

    A pixel scores the sum of its values' scores (RFE: of their negated ranks), and the
    best pixels are kept, as many as the selector kept values divided by ``channels``
    (rounded up: RFECV picks its own count); ties go to the lower pixel, as the
    selectors' own choice does. The selector then keeps all three values of each.
    """
    scores = np.asarray(selector.scores_, dtype=np.float64).reshape(-1, channels).sum(axis=1)
    k = -(-int(selector.n_features_kept_) // channels)
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:k]] = True
    # The selector's own state, set as its fit would have for whole pixels: transform,
    # get_support and a saved pipeline then keep exactly these values.
    selector.support_ = np.repeat(mask, channels)
    selector.n_features_kept_ = k * channels
    return mask.reshape(image_size), scores.reshape(image_size)


def _mask_maps(r: SelectionResult) -> tuple[np.ndarray, list[str], str]:
    """The mask and the scores (divided by the largest), with titles, to draw side by side."""
    finite = np.abs(r.scores[np.isfinite(r.scores)])
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    # RFE ranks are negative (-1 is best): shift them so the best pixel scores highest.
    scores = r.scores - np.nanmin(r.scores) if np.nanmin(r.scores) < 0 else r.scores / top
    scores = scores / (np.nanmax(scores) or 1.0)
    return (
        np.stack([r.mask.astype(np.float64), scores]),
        [f"{r.n_kept} of {r.n_features} kept ({r.share_kept:.1%})", f"{r.method} score (relative)"],
        f"Pixels kept by {r.method}",
    )


def save_selection(result: SelectionResult, out_dir: Any, *, dpi: int = 100) -> dict[str, Any]:
    """Write ``selection.json`` and ``mask.png`` (the mask and the scores) into ``out_dir``."""
    from pathlib import Path

    from shallowvision._io import write_json
    from shallowvision._plotting import MapDisplay, save_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maps, titles, title = _mask_maps(result)
    display = MapDisplay(maps, titles, title=title).plot(n_cols=2)
    return {
        "selection": write_json(out / "selection.json", result.to_dict()),
        "mask": save_png(display.figure_, out / "mask.png", dpi=dpi),
    }


def selection_figures(result: SelectionResult) -> dict[str, Any]:
    """The report figures of a selection, by name: ``mask`` (kept pixels and every
    pixel's score, at the images' size) and ``scores`` (all pixels against kept pixels)."""
    import plotly.graph_objects as go

    from shallowvision._plotting import pixel_map_figure, plotly_figure

    r = result
    maps, titles, title = _mask_maps(r)
    mask = pixel_map_figure(maps, titles, title=title)
    bars = plotly_figure(
        f"{r.model_name}: all {r.n_features} pixels against {r.n_kept} kept ({r.n_eval:,} {r.evaluated_on} images)",
        "",
        "Score",
    )
    for row, label in ((r.all_pixels, "all pixels"), (r.kept_pixels, "kept pixels")):
        bars.add_trace(
            go.Bar(
                x=["accuracy", "macro F1"],
                y=[row.accuracy, row.f1_macro],
                name=label,
                customdata=[[row.fit_seconds, row.predict_seconds_per_1000]] * 2,
                hovertemplate="%{y:.4f} (fit %{customdata[0]:.2f} s, predict %{customdata[1]:.3f} s/1k)<extra>"
                + label
                + "</extra>",
            )
        )
    bars.update_layout(barmode="group")
    return {"mask": mask, "scores": bars}
