"""Voting and stacking ensembles of zoo models or fitted models, as scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.utils import Bunch

from shallowvision.exceptions import ConfigError, did_you_mean
from shallowvision.models._scores import is_fitted

__all__ = [
    "ENSEMBLE_METHODS",
    "Member",
    "StackingEnsemble",
    "VotingEnsemble",
    "get_final_estimator",
    "get_final_estimator_names",
    "make_ensemble",
    "member_names",
    "resolve_members",
]

#: The ways members are combined: averaged probabilities, majority vote, a learned combiner.
ENSEMBLE_METHODS = ("soft", "hard", "stack")

#: A member: a zoo name, ``(name, estimator)``, or an estimator (named after its class).
Member = str | tuple[str, Any] | Any


class _MembersOnce:
    """Written (by skops, pickle or a copy) with each fitted member once.

    scikit-learn's ensembles reach each fitted member through ``estimators_`` and
    ``named_estimators_``, and a voting ensemble of fitted members also through
    ``estimators`` (its members are frozen, so fitting keeps them as they are). skops
    writes an object once per reference, so a voting ensemble of a forest and an extra
    trees model took 2.35 GB on disk, three times its members, and as much memory again
    when loaded. The state leaves out what it can rebuild: ``named_estimators_``, and
    ``estimators_`` when it holds the very members of ``estimators``.
    """

    estimators: list[tuple[str, Any]]
    estimators_: list[Any]
    named_estimators_: Bunch

    def __getstate__(self) -> dict[str, Any]:
        # A copy: object's __getstate__ returns the instance's __dict__ itself.
        state = dict(super().__getstate__())  # type: ignore[call-overload]
        state.pop("named_estimators_", None)
        fitted = state.get("estimators_")
        members = [est for _, est in self.estimators if not _dropped(est)]
        if (
            fitted is not None
            and len(fitted) == len(members)
            and all(a is b for a, b in zip(fitted, members, strict=True))
        ):
            del state["estimators_"]
            state["_fitted_are_members"] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if state.pop("_fitted_are_members", False):
            state["estimators_"] = [est for _, est in state["estimators"] if not _dropped(est)]
        super().__setstate__(state)  # type: ignore[misc]
        if "estimators_" in state:  # as scikit-learn's fit names them, dropped ones too
            fitted = iter(self.estimators_)
            self.named_estimators_ = Bunch(
                **{n: est if _dropped(est) else next(fitted) for n, est in self.estimators}
            )


def _dropped(estimator: Any) -> bool:
    return isinstance(estimator, str) and estimator == "drop"


class VotingEnsemble(_MembersOnce, VotingClassifier):
    """scikit-learn's :class:`~sklearn.ensemble.VotingClassifier`, written to a model file
    (and copied) with each member once: what :func:`make_ensemble` returns for voting."""


class StackingEnsemble(_MembersOnce, StackingClassifier):
    """scikit-learn's :class:`~sklearn.ensemble.StackingClassifier`, written to a model file
    (and copied) with each member once: what :func:`make_ensemble` returns for stacking."""


def _logistic(random_state: int, n_jobs: int | None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, random_state=random_state)


def _forest(random_state: int, n_jobs: int | None) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=200, min_samples_leaf=5, n_jobs=n_jobs, random_state=random_state
    )


def _boosting(random_state: int, n_jobs: int | None) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, random_state=random_state)


# Final estimators learn from the members' probabilities (not from pixels), so they are
# not zoo pipelines, whose first step scales 0..255 intensities.
_FINAL: dict[str, Callable[[int, int | None], Any]] = {
    "lr": _logistic,
    "rf": _forest,
    "hgb": _boosting,
}


def get_final_estimator_names() -> list[str]:
    """Names of the final estimators stacking can learn with."""
    return list(_FINAL)


def get_final_estimator(name: str, *, random_state: int = 0, n_jobs: int | None = None) -> Any:
    """A fresh final estimator for stacking; an unknown name lists the valid ones.

    Parameters
    ----------
    name : {"lr", "rf", "hgb"}
        Logistic regression, a random forest or histogram gradient boosting, each
        fitted on the members' out-of-fold probabilities.
    random_state : int
    n_jobs : int, optional
    """
    key = name.strip().lower()
    if key not in _FINAL:
        hint = did_you_mean(key, _FINAL)
        raise ConfigError(
            f"unknown final estimator {name!r}: {hint}choose one of {', '.join(_FINAL)}"
        )
    return _FINAL[key](random_state, n_jobs)


def _estimator_name(estimator: Any) -> str:
    from sklearn.pipeline import Pipeline

    last = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return type(last).__name__.lower()


def member_names(members: Sequence[Member]) -> list[str]:
    """The name of each member, made unique with ``-2``, ``-3`` suffixes where repeated."""
    names = []
    for m in members:
        if isinstance(m, str):
            names.append(m.strip().lower())
        elif isinstance(m, tuple):
            names.append(str(m[0]))
        else:
            names.append(_estimator_name(m))
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return unique


def resolve_members(
    members: Sequence[Member],
    *,
    random_state: int = 0,
    n_jobs: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> list[tuple[str, Any]]:
    """``(name, estimator)`` for each member: zoo names become fresh pipelines for images
    of ``image_shape`` (see :func:`~shallowvision.models.get_model`), estimators stay as given."""
    from shallowvision.models import get_model

    if isinstance(members, str):
        raise ConfigError(f"members must be a list, got the string {members!r}")
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {len(members)}")
    resolved = []
    for name, m in zip(member_names(members), members, strict=True):
        if isinstance(m, str):
            est = get_model(
                m,
                random_state=random_state,
                n_jobs=n_jobs,
                image_shape=image_shape,
                **(params or {}).get(m, {}),
            )
        else:
            est = m[1] if isinstance(m, tuple) else m
            if not hasattr(est, "fit") or not hasattr(est, "predict"):
                raise ConfigError(f"member {name!r} is not a classifier (it has no fit/predict)")
        resolved.append((name, est))
    return resolved


def _check_weights(weights: Sequence[float] | None, n_members: int) -> list[float] | None:
    if weights is None:
        return None
    w = [float(v) for v in weights]
    if len(w) != n_members:
        raise ConfigError(f"{len(w)} weights for {n_members} members; give one weight per member")
    if any(not np.isfinite(v) or v < 0 for v in w) or sum(w) == 0:
        raise ConfigError(f"weights must be finite, non-negative and not all zero, got {w}")
    return w


def make_ensemble(
    members: Sequence[Member],
    method: str = "soft",
    *,
    weights: Sequence[float] | None = None,
    final: str | Any = "lr",
    cv: int = 5,
    random_state: int = 0,
    n_jobs: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> Any:
    """A voting or stacking ensemble of zoo models or fitted models, ready to ``fit``.

    Members are never refitted in place: scikit-learn fits clones. A fitted member of a
    voting ensemble is wrapped in :class:`sklearn.frozen.FrozenEstimator`, so fitting
    the ensemble reuses it as it is. Stacking learns its final estimator from
    out-of-fold predictions (seeded, shuffled :class:`~sklearn.model_selection.StratifiedKFold`),
    which needs every member refitted on each fold: a fitted member only lends its
    parameters to those clones (and to the clone fitted on all the training images),
    so the final estimator never sees a member's predictions on images it was trained on.

    Parameters
    ----------
    members : sequence of str, (name, estimator) or estimator
        Zoo names (see :func:`shallowvision.models.get_model_names`) or classifiers
        that take flattened images, fitted or not.
    method : {"soft", "hard", "stack"}
        ``"soft"`` averages the members' probabilities (each must have ``predict_proba``),
        ``"hard"`` takes a majority vote of their labels, ``"stack"`` fits ``final`` on
        their out-of-fold probabilities (decision scores for members without them).
    weights : sequence of float, optional
        One non-negative weight per member, for voting (stacking learns its own).
    final : str or estimator
        Final estimator of stacking: a name from :func:`get_final_estimator_names` or
        an unfitted classifier.
    cv : int
        Folds of the stratified cross-validation behind stacking's out-of-fold predictions.
    random_state : int
        Seed of zoo members, the fold assignment and the final estimator.
    n_jobs : int, optional
        Members fitted in parallel.
    params : dict, optional
        Per-member zoo parameters, ``{"rf": {"n_estimators": 50}}``.
    image_shape : (height, width) or (height, width, 3), optional
        Shape of the images (``ImageSet.image_shape``), for zoo members; needed for
        colour images by members that look at neighbouring pixels (``fast``, ``best``).

    Returns
    -------
    VotingEnsemble or StackingEnsemble
        scikit-learn's voting or stacking classifier, written with each member once.
    """
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import StratifiedKFold

    from shallowvision.models import has_proba

    if method not in ENSEMBLE_METHODS:
        raise ConfigError(
            f"unknown ensemble method {method!r}; choose one of {', '.join(ENSEMBLE_METHODS)}"
        )
    resolved = resolve_members(
        members, random_state=random_state, n_jobs=n_jobs, params=params, image_shape=image_shape
    )
    if method == "stack":
        if weights is not None:
            raise ConfigError("weights apply to voting; stacking learns how to combine its members")
        if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
            raise ConfigError(f"cv must be a whole number of folds >= 2, got {cv!r}")
        final_estimator = (
            get_final_estimator(final, random_state=random_state, n_jobs=n_jobs)
            if isinstance(final, str)
            else clone(final)
        )
        return StackingEnsemble(
            # Unfitted copies: stacking fits its own on every fold and on all the images.
            estimators=[(name, clone(est)) for name, est in resolved],
            final_estimator=final_estimator,
            cv=StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state),
            stack_method="auto",
            n_jobs=n_jobs,
        )
    if method == "soft":
        lacking = [name for name, est in resolved if not has_proba(est)]
        if lacking:
            raise ConfigError(
                f"soft voting averages probabilities, but {', '.join(lacking)} gives decision "
                "scores only; use hard voting or stacking, or leave it out"
            )
    frozen = [(name, FrozenEstimator(est) if is_fitted(est) else est) for name, est in resolved]
    return VotingEnsemble(
        estimators=frozen,
        voting=method,
        weights=_check_weights(weights, len(frozen)),
        # Fitting fitted members does nothing; in parallel it would send each to a worker
        # process and back, a full copy of every member (gigabytes for forests).
        n_jobs=n_jobs if any(not is_fitted(est) for _, est in resolved) else None,
    )
