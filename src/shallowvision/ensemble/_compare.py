"""Each ensemble against its own members, scored on the same validation images."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shallowvision._records import NOT_JSON, Record
from shallowvision.datasets import ImageSet
from shallowvision.ensemble._build import (
    ENSEMBLE_METHODS,
    Member,
    make_ensemble,
    resolve_members,
)
from shallowvision.exceptions import ConfigError
from shallowvision.models import ModelScore, fit_and_score, score_fitted
from shallowvision.models._scores import is_fitted

__all__ = ["EnsembleComparison", "compare_ensembles", "ensemble_label"]


def ensemble_label(method: str, final: str = "lr") -> str:
    """The row name of an ensemble: ``"soft voting"``, ``"hard voting"``, ``"stacking (lr)"``."""
    return {"soft": "soft voting", "hard": "hard voting"}.get(method, f"stacking ({final})")


@dataclass(frozen=True, eq=False, kw_only=True)
class EnsembleComparison(Record):
    """Members and ensembles scored on the same images.

    Attributes
    ----------
    member_rows, ensemble_rows : tuple of ModelScore
        One row per member, then one per ensemble method, with accuracy, macro F1,
        ROC AUC (None for hard voting, which gives labels only), fit seconds and
        predict seconds per 1,000 images. A voting ensemble's ``fit_seconds`` include
        its members' fits (it reuses those fitted members); stacking's are measured
        from scratch (a fit per fold and member, then on all images).
    best_member : str
        The member with the highest macro F1.
    gain : dict
        Per ensemble, its accuracy and macro F1 minus the best member's.
    agreement : float
        Share of the evaluation images on which every member predicts the same class.
    oracle_accuracy : float
        Share of the evaluation images at least one member gets right: what no
        combination of these members can exceed.
    models : dict
        The fitted members and ensembles by row name (not in :meth:`to_dict`).
    """

    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    class_names: tuple[str, ...]
    members: tuple[str, ...]
    methods: tuple[str, ...]
    weights: tuple[float, ...] | None
    final: str
    cv: int
    random_state: int
    member_rows: tuple[ModelScore, ...]
    ensemble_rows: tuple[ModelScore, ...]
    best_member: str
    gain: dict[str, dict[str, float | None]]
    agreement: float
    oracle_accuracy: float
    models: dict[str, Any] = field(default_factory=dict, repr=False, metadata=NOT_JSON)

    @property
    def rows(self) -> tuple[ModelScore, ...]:
        """Members first, then ensembles."""
        return self.member_rows + self.ensemble_rows

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["member_rows"] = [r.to_dict() for r in self.member_rows]
        out["ensemble_rows"] = [r.to_dict() for r in self.ensemble_rows]
        return out


def compare_ensembles(
    members: Sequence[Member],
    train: ImageSet,
    validation: ImageSet,
    *,
    methods: Sequence[str] = ENSEMBLE_METHODS,
    weights: Sequence[float] | None = None,
    final: str = "lr",
    cv: int = 5,
    random_state: int = 0,
    n_jobs: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
    fit_seconds: dict[str, float] | None = None,
) -> EnsembleComparison:
    """Fit each member once on ``train``, build each ensemble, and score all on ``validation``.

    Voting ensembles reuse the fitted members (a fresh fit would give the very same
    members: the same images and seeds), so only stacking, which needs out-of-fold
    predictions, fits the members again: on each of ``cv`` stratified folds and on
    all of ``train``. A member handed in already fitted (on ``train``) is not fitted
    again.

    Parameters
    ----------
    members : sequence of str, (name, estimator) or estimator
        At least two zoo names or unfitted classifiers.
    train, validation : ImageSet
        Same class names and image shape (one :func:`~shallowvision.datasets.load_splits` call).
    methods : sequence of {"soft", "hard", "stack"}
    weights : sequence of float, optional
        Voting weights, one per member.
    final : str
        Stacking's final estimator (see :func:`get_final_estimator_names`).
    cv : int
        Stacking's folds.
    random_state : int
        Seed of the members, the folds and the final estimator.
    n_jobs : int, optional
        Passed to every zoo member and to the ensembles.
    params : dict, optional
        Per-member zoo parameters, ``{"rf": {"n_estimators": 50}}``.
    on_progress : callable, optional
        Called with ``(row_name, stage)`` as each member and ensemble starts and ends.
    fit_seconds : dict, optional
        Fit time of members handed in fitted, by name, counted in voting's fit time.

    Returns
    -------
    EnsembleComparison
    """
    from sklearn.base import clone

    methods = tuple(dict.fromkeys(methods))
    if not methods:
        raise ConfigError("no ensemble methods given; choose from soft, hard, stack")
    for method in methods:
        if method not in ENSEMBLE_METHODS:
            raise ConfigError(
                f"unknown ensemble method {method!r}; choose one of {', '.join(ENSEMBLE_METHODS)}"
            )
    train.check_trainable()
    if train.class_names != validation.class_names or train.image_shape != validation.image_shape:
        raise ConfigError(
            f"train and {validation.split} differ in classes or image shape; load them with one load_splits call"
        )
    # Build every ensemble once before any fit, so a bad combination fails in a second.
    for method in methods:
        make_ensemble(
            members,
            method,
            weights=None if method == "stack" else weights,
            final=final,
            cv=cv,
            random_state=random_state,
            params=params,
        )
    X_train, y_train = np.ascontiguousarray(train.X), train.y
    X_eval, y_eval = np.ascontiguousarray(validation.X), validation.y
    k = train.n_classes

    def step(name: str, stage: str) -> None:
        if on_progress:
            on_progress(name, stage)

    resolved = resolve_members(
        members,
        random_state=random_state,
        n_jobs=n_jobs,
        params=params,
        image_shape=train.image_shape,
    )
    names = [name for name, _ in resolved]
    member_rows, fitted = [], {}
    for name, estimator in resolved:
        step(name, "start")
        if is_fitted(estimator):
            # A fitted member (trained on these training images) is scored as it is:
            # voting reuses it, stacking refits clones of it per fold.
            seconds = (fit_seconds or {}).get(name)
            row = score_fitted(name, estimator, X_eval, y_eval, k, fit_seconds=seconds)
            model = estimator
        else:
            # A clone, so an estimator handed in is never fitted in place.
            row, model = fit_and_score(
                (name, clone(estimator)), X_train, y_train, X_eval, y_eval, k, keep_model=True
            )
        member_rows.append(row)
        fitted[name] = model
        step(name, "ok")
    member_fit = sum(r.fit_seconds or 0.0 for r in member_rows)

    ensemble_rows = []
    for method in methods:
        label = ensemble_label(method, final if isinstance(final, str) else type(final).__name__)
        step(label, "start")
        # Voting wraps the fitted members as they are; stacking fits clones of them per fold.
        ensemble = make_ensemble(
            [(n, fitted[n]) for n in names],
            method,
            weights=None if method == "stack" else weights,
            final=final,
            cv=cv,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        row, model = fit_and_score(
            (label, ensemble), X_train, y_train, X_eval, y_eval, k, keep_model=True
        )
        if method != "stack":
            row = dataclasses.replace(row, fit_seconds=(row.fit_seconds or 0.0) + member_fit)
        row.params.update(
            {"method": method, "members": list(names)}
            | ({"weights": list(weights)} if weights is not None and method != "stack" else {})
            | ({"final": final, "cv": cv} if method == "stack" else {})
        )
        ensemble_rows.append(row)
        fitted[label] = model
        step(label, "ok")

    predictions = np.column_stack([np.asarray(fitted[n].predict(X_eval)) for n in names])
    best = max(member_rows, key=lambda r: r.f1_macro or 0.0)
    gain = {
        r.model: {
            metric: None
            if getattr(r, metric) is None
            else float(getattr(r, metric) - getattr(best, metric))
            for metric in ("accuracy", "f1_macro")
        }
        for r in ensemble_rows
    }
    return EnsembleComparison(
        dataset=train.name,
        evaluated_on=validation.split,
        n_train=len(train),
        n_eval=len(validation),
        class_names=tuple(train.class_names),
        members=tuple(names),
        methods=methods,
        weights=None if weights is None else tuple(float(w) for w in weights),
        final=final if isinstance(final, str) else type(final).__name__,
        cv=int(cv),
        random_state=random_state,
        member_rows=tuple(member_rows),
        ensemble_rows=tuple(ensemble_rows),
        best_member=best.model,
        gain=gain,
        agreement=float(np.mean(np.all(predictions == predictions[:, :1], axis=1))),
        oracle_accuracy=float(np.mean(np.any(predictions == y_eval[:, None], axis=1))),
        models=fitted,
    )
