"""Successive-halving tuning over a model's search space, with stratified CV on train only."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from shallowvision._dask import on_dask, shared_on_cluster
from shallowvision._folds import fold_count
from shallowvision.datasets import ImageSet
from shallowvision.exceptions import ConfigError, DataError, ShallowVisionError
from shallowvision.models._compare import ModelScore, fit_and_score
from shallowvision.models._curve import expected_fit_seconds
from shallowvision.models._registry import get_model_spec

__all__ = ["SEARCHES", "RefitOverBudget", "TuneResult", "tune_model"]


class RefitOverBudget(ShallowVisionError):
    """The tuned parameters' refit on all the images would end after the deadline."""

    def __init__(self, model: str, expected: float, images: int, left: float) -> None:
        self.model, self.expected, self.images, self.left = model, expected, images, left
        super().__init__(
            f"the tuned {model} is expected to take {expected:,.0f} s to fit on {images:,} "
            f"images (its fits in the search, extrapolated), {left:,.0f} s are left"
        )


#: The successive-halving searches: over the whole grid, or over sampled candidates.
SEARCHES = ("halving-grid", "halving-random")


@dataclass
class TuneResult:
    """What a search found and what it cost."""

    model: str
    search: str
    grid: str
    scoring: str
    cv: int
    best_params: dict[str, Any]
    best_cv_score: float
    n_candidates: list[int]
    n_resources: list[int]
    n_fits: int
    search_seconds: float
    baseline: ModelScore
    tuned: ModelScore
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: The most images a round used when ``max_resources`` capped them (else None).
    max_resources: int | None = None
    best_estimator: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("best_estimator")
        out["baseline"] = self.baseline.to_dict()
        out["tuned"] = self.tuned.to_dict()
        return out


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as JSON-ready scalars (estimators become their repr)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = (
            value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        )
    return out


def halving_rounds(
    n_candidates: int,
    n_images: int,
    *,
    factor: int,
    cv: int,
    n_classes: int,
    max_resources: int | None = None,
) -> list[tuple[int, int]]:
    """The rounds a successive-halving search over ``n_candidates`` will run on
    ``n_images`` training images, each as ``(candidates, images)``, before it runs.

    scikit-learn's schedule for classifiers with ``min_resources="exhaust"`` (what
    :func:`tune_model` uses): the first round gets 2 images per class and fold or more,
    the last as many as ``max_resources`` (default all) allows, and each round keeps a
    ``1 / factor`` share of the candidates. Every candidate of a round costs ``cv`` fits
    on that round's images (scored on a fold of them), which is what a time budget
    plans with.
    """
    most = n_images if max_resources is None else min(max_resources, n_images)
    smallest = 2 * cv * n_classes
    if n_candidates < 1 or most < smallest:
        return []
    required = 1 + math.floor(math.log(n_candidates, factor))
    least = max(smallest, most // factor ** (required - 1))
    possible = 1 + math.floor(math.log(most // least, factor))
    rounds = []
    for itr in range(min(possible, required)):
        rounds.append((n_candidates, min(int(factor**itr * least), most)))
        n_candidates = math.ceil(n_candidates / factor)
    return rounds


def _expected_refit_seconds(searcher: Any, cv: int, n_images: int) -> float | None:
    """Seconds the best candidate should take to fit on ``n_images``, from its mean fit
    time in each round it ran (each on the round's images less a fold)."""
    results = searcher.cv_results_
    measured = [
        (int(results["n_resources"][i]) * (cv - 1) // cv, float(results["mean_fit_time"][i]))
        for i, params in enumerate(results["params"])
        if params == searcher.best_params_
    ]
    return expected_fit_seconds(measured, n_images)


def search_size(
    name: str, *, search: str = "halving-grid", grid: str | None = None, n_candidates: int = 20
) -> int:
    """How many candidates the first round of :func:`tune_model`'s search holds."""
    from sklearn.model_selection import ParameterGrid

    if search == "halving-random":
        return n_candidates
    return len(ParameterGrid(get_model_spec(name).search_space("grid", grid)))


def tune_model(
    name: str,
    train: ImageSet,
    validation: ImageSet,
    *,
    search: str = "halving-grid",
    grid: str | None = None,
    scoring: str = "accuracy",
    cv: int = 3,
    factor: int = 3,
    n_candidates: int = 20,
    random_state: int = 0,
    n_jobs: int | None = None,
    max_resources: int | None = None,
    refit_deadline: float | None = None,
    baseline: ModelScore | None = None,
) -> TuneResult:
    """Tune a zoo model by successive halving; compare the tuned model with the defaults on validation.

    Parameters
    ----------
    name : str
        Zoo model name.
    train : ImageSet
        The only data the search sees (stratified ``cv``-fold, seeded).
    validation : ImageSet
        Scores the default and the tuned model; never used by the search.
    search : {"halving-grid", "halving-random"}
    grid : str, optional
        A named grid of the model (e.g. ``"emnist"``); default its own grid or distributions.
    scoring : str
        A scikit-learn scorer name.
    cv, factor : int
        Folds, and the halving factor (candidates kept per iteration = 1 / factor).
    n_candidates : int
        Candidates of the first iteration for ``halving-random``.
    random_state, n_jobs : optional
    max_resources : int, optional
        The most training images a round of the search uses (default all of ``train``):
        a cheaper search, as a time budget asks (see :func:`halving_rounds`). The
        default and the tuned models are still fitted on all of ``train``.
    refit_deadline : float, optional
        A :func:`time.monotonic` instant the tuned model's fit on all of ``train`` must
        end by. Its duration is extrapolated from the best candidate's own fits in the
        search's rounds (:func:`~shallowvision.models._curve.expected_fit_seconds`); a
        fit expected to end later is not started and :class:`RefitOverBudget` is raised.
        The search alone cannot know it: the parameters it picks may cost many times
        the defaults (a forest of more, deeper trees).
    baseline : ModelScore, optional
        The default model's row when it is already fitted on ``train`` and scored on
        ``validation`` with this ``random_state`` (a comparison's): it is taken as the
        baseline instead of being fitted again.
    """
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.metrics import get_scorer_names
    from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV, StratifiedKFold

    if search not in SEARCHES:
        raise ConfigError(f"unknown search {search!r}; choose one of {', '.join(SEARCHES)}")
    if scoring not in get_scorer_names():
        raise ConfigError(f"unknown scoring {scoring!r}; see sklearn.metrics.get_scorer_names()")
    spec = get_model_spec(name)
    kind = "grid" if search == "halving-grid" or grid is not None else "random"
    space = spec.search_space(kind, grid, image_shape=train.image_shape)
    train.check_trainable()
    if fold_count(train.y, cv, what=f"tuning {name}", class_names=train.class_names) < cv:
        smallest = int(min(c for c in train.class_counts() if c))
        raise DataError(
            f"tuning {name}: {cv}-fold cross-validation needs {cv} training images of every "
            f"class, the smallest class has {smallest}; use cv={smallest} or more images"
        )
    # Successive halving starts from 2 images per class and fold (scikit-learn's rule).
    smallest_round = 2 * cv * train.n_classes
    if len(train) < smallest_round:
        raise DataError(
            f"tuning {name} by successive halving with {cv}-fold cross-validation needs at least "
            f"{smallest_round} training images (2 per class and fold), there are {len(train)}"
        )
    if max_resources is not None and not smallest_round <= max_resources:
        raise ConfigError(
            f"max_resources={max_resources!r}: a round of {cv}-fold successive halving needs "
            f"at least {smallest_round} training images (2 per class and fold)"
        )
    if max_resources is not None and max_resources >= len(train):
        max_resources = None  # every image: the search as it would be without a cap
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    common = {
        "estimator": spec.make(
            random_state=random_state, n_jobs=None, image_shape=train.image_shape
        ),
        "factor": factor,
        "cv": folds,
        "scoring": scoring,
        # The best candidate is refitted below, timed like the baseline, rather than by the search.
        "refit": False,
        "random_state": random_state,
        # On a Dask cluster every candidate-fold fit is a task; locally, n_jobs as given.
        "n_jobs": -1 if on_dask() else n_jobs,
        "error_score": "raise",
        "max_resources": "auto" if max_resources is None else max_resources,
    }
    if search == "halving-grid":
        searcher = HalvingGridSearchCV(param_grid=space, min_resources="exhaust", **common)
    else:
        searcher = HalvingRandomSearchCV(
            param_distributions=space, n_candidates=n_candidates, min_resources="exhaust", **common
        )
    X, y = np.ascontiguousarray(train.X), train.y
    start = time.perf_counter()
    with shared_on_cluster(X, y):
        searcher.fit(X, y)
    seconds = time.perf_counter() - start

    X_val, y_val = np.ascontiguousarray(validation.X), validation.y
    if baseline is None:
        baseline, _ = fit_and_score(
            name,
            X,
            y,
            X_val,
            y_val,
            train.n_classes,
            random_state=random_state,
            n_jobs=n_jobs,
            image_shape=train.image_shape,
        )
    if refit_deadline is not None:  # checked last, with what the default's fit left
        expected = _expected_refit_seconds(searcher, cv, len(train))
        left = refit_deadline - time.monotonic()
        if expected is not None and expected > left:
            raise RefitOverBudget(name, expected, len(train), max(left, 0.0))
    tuned_estimator = spec.make(
        random_state=random_state, n_jobs=n_jobs, image_shape=train.image_shape
    ).set_params(**searcher.best_params_)
    tuned, best = fit_and_score(
        (name, tuned_estimator), X, y, X_val, y_val, train.n_classes, keep_model=True
    )
    tuned = replace(tuned, params=_jsonable_params(searcher.best_params_))
    results = searcher.cv_results_
    candidates = [
        {
            "iteration": int(results["iter"][i]),
            "n_resources": int(results["n_resources"][i]),
            "mean_test_score": float(results["mean_test_score"][i]),
            "std_test_score": float(results["std_test_score"][i]),
            "params": _jsonable_params(results["params"][i]),
        }
        for i in range(len(results["params"]))
    ]
    return TuneResult(
        model=name,
        search=search,
        grid=grid or "default",
        scoring=scoring,
        cv=cv,
        best_params=_jsonable_params(searcher.best_params_),
        best_cv_score=float(searcher.best_score_),
        n_candidates=[int(n) for n in searcher.n_candidates_],
        n_resources=[int(n) for n in searcher.n_resources_],
        n_fits=len(candidates) * cv,
        search_seconds=seconds,
        baseline=baseline,
        tuned=tuned,
        candidates=candidates,
        max_resources=max_resources,
        best_estimator=best,
    )
