"""Voting and stacking ensembles: predictions checked by hand from the members' outputs."""

import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from shallowvision.ensemble import (
    EnsembleDisplay,
    compare_ensembles,
    ensemble_figures,
    get_final_estimator_names,
    make_ensemble,
)
from shallowvision.exceptions import ConfigError
from shallowvision.models import get_model
from shallowvision.persistence import load_model, save_model, training_provenance

FOREST = {"rf": {"n_estimators": 15}}


@pytest.fixture(scope="module")
def split(digits):
    train, validation = digits.split_off(0.25, random_state=0, name="validation")
    return train, validation


@pytest.fixture(scope="module")
def fitted(split):
    train, _ = split
    return [
        (name, get_model(name, **FOREST.get(name, {})).fit(train.X, train.y))
        for name in ("lr", "nb", "rf")
    ]


def test_soft_voting_is_the_weighted_mean_of_the_members_probabilities(split, fitted):
    train, validation = split
    weights = [1.0, 2.0, 0.5]
    ensemble = make_ensemble(fitted, "soft", weights=weights).fit(train.X, train.y)
    probas = np.stack([m.predict_proba(validation.X) for _, m in fitted])
    expected = np.tensordot(weights, probas, axes=1) / sum(weights)
    np.testing.assert_allclose(ensemble.predict_proba(validation.X), expected, rtol=1e-6)
    np.testing.assert_array_equal(ensemble.predict(validation.X), expected.argmax(axis=1))
    # The fitted members are used as they are, not refitted.
    for (_, member), frozen in zip(fitted, ensemble.estimators_, strict=True):
        assert frozen.estimator is member


def test_hard_voting_is_the_weighted_majority_of_the_members_labels(split, fitted):
    train, validation = split
    weights = [1.0, 1.0, 1.5]
    ensemble = make_ensemble(fitted, "hard", weights=weights).fit(train.X, train.y)
    votes = np.zeros((len(validation), 10))
    for w, (_, member) in zip(weights, fitted, strict=True):
        votes[np.arange(len(validation)), member.predict(validation.X)] += w
    # Ties go to the lowest class index, as np.argmax does.
    np.testing.assert_array_equal(ensemble.predict(validation.X), votes.argmax(axis=1))
    assert not hasattr(ensemble, "predict_proba")


@pytest.mark.parametrize("binary", [False, True])
def test_stacking_learns_from_out_of_fold_probabilities(split, binary):
    train, validation = split
    if binary:
        train, validation = train.one_vs_rest(8), validation.one_vs_rest(8)
    members = ["lr", "nb"]
    ensemble = make_ensemble(members, "stack", cv=3, random_state=5).fit(train.X, train.y)
    # Out-of-fold probabilities by hand: fresh members on each seeded stratified fold.
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=5)
    oof = np.zeros((len(train), 2 * train.n_classes))
    for fit_idx, held_idx in folds.split(train.X, train.y):
        for m, name in enumerate(members):
            model = get_model(name, random_state=5).fit(train.X[fit_idx], train.y[fit_idx])
            block = slice(m * train.n_classes, (m + 1) * train.n_classes)
            oof[held_idx, block] = model.predict_proba(train.X[held_idx])
    if binary:  # scikit-learn keeps one column per member for two classes
        oof = oof[:, 1::2]
    final = LogisticRegression(max_iter=1000, random_state=5).fit(oof, train.y)
    np.testing.assert_allclose(ensemble.final_estimator_.coef_, final.coef_, rtol=1e-4, atol=1e-6)
    # At prediction time, the members refitted on all of train feed the final estimator.
    full = np.hstack(
        [
            get_model(n, random_state=5).fit(train.X, train.y).predict_proba(validation.X)
            for n in members
        ]
    )
    if binary:
        full = full[:, 1::2]
    np.testing.assert_allclose(
        ensemble.predict_proba(validation.X), final.predict_proba(full), rtol=1e-4, atol=1e-6
    )


def test_stacking_never_refits_the_members_it_is_given(split, fitted):
    train, validation = split
    before = [m.predict_proba(validation.X) for _, m in fitted]
    forest = fitted[2][1][-1]
    trees = list(forest.estimators_)
    ensemble = make_ensemble(fitted, "stack", cv=2).fit(train.X, train.y)
    for (_, member), proba in zip(fitted, before, strict=True):
        np.testing.assert_array_equal(member.predict_proba(validation.X), proba)
    assert forest.estimators_ == trees
    assert all(
        own is not given for own, (_, given) in zip(ensemble.estimators_, fitted, strict=True)
    )


def test_compare_ensembles_scores_members_and_ensembles_on_the_same_images(split):
    train, validation = split
    result = compare_ensembles(
        ["lr", "nb", "rf"], train, validation, cv=3, weights=[1, 1, 2], params=FOREST
    )
    assert [r.model for r in result.rows] == [
        "lr",
        "nb",
        "rf",
        "soft voting",
        "hard voting",
        "stacking (lr)",
    ]
    y = validation.y
    for row in result.rows:
        predicted = result.models[row.model].predict(validation.X)
        assert row.accuracy == pytest.approx(np.mean(predicted == y))
        assert row.fit_seconds > 0 and row.predict_seconds_per_1000 > 0
    by_name = {r.model: r for r in result.rows}
    assert by_name["hard voting"].roc_auc is None and by_name["hard voting"].scores_kind == "labels"
    assert by_name["soft voting"].roc_auc > 0.99
    # Voting reuses the fitted members: its fit time includes theirs.
    members_fit = sum(r.fit_seconds for r in result.member_rows)
    assert by_name["soft voting"].fit_seconds >= members_fit
    best = max(result.member_rows, key=lambda r: r.f1_macro)
    assert result.best_member == best.model
    assert result.gain["stacking (lr)"]["accuracy"] == pytest.approx(
        by_name["stacking (lr)"].accuracy - best.accuracy
    )
    labels = np.column_stack([result.models[n].predict(validation.X) for n in ("lr", "nb", "rf")])
    assert result.oracle_accuracy == pytest.approx(np.mean((labels == y[:, None]).any(axis=1)))
    assert result.agreement == pytest.approx(np.mean((labels == labels[:, :1]).all(axis=1)))
    assert result.oracle_accuracy >= max(r.accuracy for r in result.rows)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["ensemble_rows"][2]["params"] == {
        "method": "stack",
        "members": ["lr", "nb", "rf"],
        "final": "lr",
        "cv": 3,
    }
    assert data["weights"] == [1.0, 1.0, 2.0] and "models" not in data


def test_compare_ensembles_uses_fitted_members_as_they_are(split, fitted):
    train, validation = split
    before = [m.predict_proba(validation.X) for _, m in fitted]
    result = compare_ensembles(
        fitted,
        train,
        validation,
        methods=("soft",),
        fit_seconds={"lr": 2.0, "nb": 1.0},
        n_jobs=2,
    )
    by_name = {r.model: r for r in result.rows}
    # Not refitted: the same objects, the same probabilities, the fit times given.
    for (name, member), proba in zip(fitted, before, strict=True):
        assert result.models[name] is member
        np.testing.assert_array_equal(member.predict_proba(validation.X), proba)
    # Nor copied: with n_jobs, the voting fit is not sent to worker processes and back.
    voting = result.models["soft voting"]
    assert all(f.estimator is m for (_, m), f in zip(fitted, voting.estimators_, strict=True))
    # Its size is that of its model file, counted without a copy of the bytes.
    assert by_name["soft voting"].size_bytes == len(sio.dumps(voting))
    assert (by_name["lr"].fit_seconds, by_name["nb"].fit_seconds) == (2.0, 1.0)
    assert by_name["rf"].fit_seconds is None
    mean = np.mean(before, axis=0)
    expected = np.mean(result.models["soft voting"].classes_[mean.argmax(1)] == validation.y)
    assert by_name["soft voting"].accuracy == pytest.approx(expected)
    assert by_name["soft voting"].fit_seconds >= 3.0


def test_compare_ensembles_one_vs_rest(split):
    train, validation = split
    result = compare_ensembles(
        ["lr", "nb"],
        train.one_vs_rest(8),
        validation.one_vs_rest(8),
        methods=("soft", "stack"),
        cv=3,
    )
    assert result.class_names == ("not 8", "8")
    assert {r.model for r in result.ensemble_rows} == {"soft voting", "stacking (lr)"}
    assert all(r.accuracy > 0.85 and r.roc_auc > 0.9 for r in result.rows)


def test_compare_ensembles_with_47_classes(classes_47):
    train, validation = classes_47
    result = compare_ensembles(["lr", "nb"], train, validation, cv=2)
    assert len(result.class_names) == 47
    # Chance is 1/47; the prototypes are easy to tell apart.
    assert all(r.accuracy > 0.8 for r in result.rows)


def test_fitted_ensembles_round_trip_through_model_files(split, fitted, tmp_path):
    train, validation = split
    for method in ("soft", "hard", "stack"):
        ensemble = make_ensemble(fitted, method, cv=2).fit(train.X, train.y)
        path = save_model(
            ensemble,
            tmp_path / f"{method}.skops",
            class_names=train.class_names,
            image_shape=train.image_shape,
            name=method,
            training_data=training_provenance(train),
        )
        loaded = load_model(path)
        np.testing.assert_array_equal(loaded.predict(validation.X), ensemble.predict(validation.X))
        ensemble = loaded.estimator
        assert list(ensemble.named_estimators_) == ["lr", "nb", "rf"]
        assert [ensemble.named_estimators_[n] for n in ("lr", "nb", "rf")] == ensemble.estimators_


def test_a_voting_file_holds_each_fitted_member_once(split, fitted, tmp_path):
    # skops writes an object once per reference: a voting ensemble of an extra trees
    # model and a forest took 2.35 GB, three times its members.
    import copy
    import pickle

    train, validation = split
    ensemble = make_ensemble(fitted, "soft").fit(train.X, train.y)
    size = {}
    for name, model in [*fitted, ("soft", ensemble)]:
        path = save_model(model, tmp_path / f"{name}.skops", trained_on=train, name=name)
        size[name] = path.stat().st_size
    members = sum(size[name] for name, _ in fitted)
    assert size["rf"] < size["soft"] < 1.25 * members, size  # three times before
    loaded = load_model(tmp_path / "soft.skops").estimator
    members = [e for _, e in loaded.estimators]
    assert all(a is b for a, b in zip(loaded.estimators_, members, strict=True))
    assert loaded.named_estimators_["rf"] is loaded.estimators_[2]
    for copied in (loaded, copy.deepcopy(ensemble), pickle.loads(pickle.dumps(ensemble))):
        np.testing.assert_array_equal(
            copied.predict_proba(validation.X), ensemble.predict_proba(validation.X)
        )
    # Writing the file left the ensemble as it was.
    assert ensemble.named_estimators_["rf"] is ensemble.estimators_[2]


@pytest.mark.parametrize(
    ("members", "method", "kwargs", "message"),
    [
        (["svm-linear", "rf"], "soft", {}, "soft voting averages probabilities, but svm-linear"),
        (["lr", "nb"], "soft", {"weights": [1, 2, 3]}, "3 weights for 2 members"),
        (["lr", "nb"], "hard", {"weights": [0, 0]}, "not all zero"),
        (["lr", "nb"], "stack", {"weights": [1, 2]}, "weights apply to voting"),
        (["lr", "nb"], "stack", {"final": "svm"}, "unknown final estimator 'svm'"),
        (["lr", "nb"], "stack", {"cv": 1}, "cv must be a whole number of folds >= 2"),
        (["lr", "nb"], "bagging", {}, "unknown ensemble method 'bagging'"),
        (["lr"], "soft", {}, "at least two members"),
        (["lr", "forest"], "soft", {}, "unknown model 'forest'"),
    ],
)
def test_bad_ensembles_are_clear_errors(members, method, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_ensemble(members, method, **kwargs)


def test_final_estimator_names():
    assert get_final_estimator_names() == ["lr", "rf", "hgb"]


def test_figures_and_display_show_every_row(split):
    train, validation = split
    result = compare_ensembles(["lr", "nb"], train, validation, methods=("soft", "hard"))
    figures = ensemble_figures(result)
    assert set(figures) == {"scores", "cost"}
    accuracy = figures["scores"].data[0]
    assert list(accuracy.x) == ["lr", "nb", "soft voting", "hard voting"]
    np.testing.assert_allclose(accuracy.y, [r.accuracy for r in result.rows])
    assert figures["cost"].data[0].y == tuple(r.fit_seconds for r in result.rows)
    display = EnsembleDisplay(result).plot(metric="roc_auc")
    ticks = {t.get_text(): t.get_position()[1] for t in display.ax_.get_yticklabels()}
    # Members first, from the top.
    assert sorted(ticks, key=ticks.get, reverse=True) == ["lr", "nb", "soft voting", "hard voting"]
    assert "n/a" in " ".join(t.get_text() for t in display.ax_.texts)
    with pytest.raises(ConfigError, match="metric must be one of"):
        EnsembleDisplay(result).plot(metric="speed")
