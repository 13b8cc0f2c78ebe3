"""The final recommendation respects the noise of the validation images: a model ahead by
less than the noise does not win on that alone, the tie-breakers decide."""

from __future__ import annotations

import numpy as np
import pytest

from shallowvision._metrics import summary_metrics
from shallowvision.run import Candidate, build_config
from shallowvision.run._candidates import recommend

N_IMAGES, N_CLASSES = 2000, 10


def _truth():
    return np.arange(N_IMAGES) % N_CLASSES


def _wrong_on(wrong):
    """Predictions that miss exactly the images ``wrong``."""
    y = _truth()
    labels = y.copy()
    labels[wrong] = (y[wrong] + 1) % N_CLASSES
    return labels


def _candidate(name, labels, *, ms, size_mb=1.0, stage="compare"):
    metrics = summary_metrics(_truth(), labels, None, "labels", N_CLASSES)
    metrics |= {
        "predict_seconds_per_1000": ms,
        "size_bytes": int(size_mb * 1e6),
        "scores_kind": "labels",
    }
    return Candidate(
        name=name,
        stage=stage,
        model_file=f"models/{name}.skops",
        metrics=metrics,
        gives_proba=False,
    )


def _choose(models, **objective):
    """``models``: name -> (labels, candidate); the recommendation and the ranking."""
    stored = {
        name: {"y_true": _truth(), "labels": labels, "scores": None, "kind": "labels"}
        for name, (labels, _) in models.items()
    }
    config = build_config(overrides={"objective": objective} if objective else None)
    return recommend([c for _, c in models.values()], config, stored.__getitem__)


#: Images the models below miss: the leader 200, a close model 201 (30 of the leader's
#: errors right, 31 others wrong: 61 images on which they disagree), a clearly worse one 300.
_RNG = np.random.default_rng(0)
_ORDER = _RNG.permutation(N_IMAGES)
LEADER = _ORDER[:200]
CLOSE = np.r_[_ORDER[:170], _ORDER[200:231]]
WORSE = _ORDER[:300]


def _models(specs):
    out = {}
    for name, wrong, kwargs in specs:
        labels = _wrong_on(wrong)
        out[name] = (labels, _candidate(name, labels, **kwargs))
    return out


def test_a_leader_ahead_by_a_hair_loses_to_a_faster_model_within_the_noise():
    hair = _models([("slow", LEADER, {"ms": 0.5}), ("quick", CLOSE, {"ms": 0.1})])
    choice, ranked = _choose(hair)
    assert ranked[0][0].name == "slow" and choice.leader == "slow"
    assert choice.model == "quick" and choice.rule == "faster"
    d = choice.difference
    assert d.model == "quick" and d.difference < 0 and d.low < 0 < d.high and not d.worse
    assert choice.within_noise == ["slow", "quick"]
    assert "within the noise of slow" in choice.reason
    assert "faster (0.100 against 0.500 ms per image)" in choice.reason
    # A stricter level does not change a tie; the interval is narrower at 0.5.
    wide, _ = _choose(hair, significance=0.01)
    narrow, _ = _choose(hair, significance=0.5)
    assert wide.model == narrow.model == "quick"
    assert (
        wide.difference.low < narrow.difference.low < narrow.difference.high < wide.difference.high
    )


def test_a_leader_ahead_by_a_clear_margin_keeps_the_recommendation():
    # 200 errors against 300: significantly better, so being slower does not matter.
    clear = _models([("slow", LEADER, {"ms": 0.5}), ("quick", WORSE, {"ms": 0.1})])
    choice, _ = _choose(clear)
    assert choice.model == choice.leader == "slow" and choice.rule == "significantly best"
    quick = next(d for d in choice.compared if d.model == "quick")
    assert quick.worse and quick.high < 0 and quick.difference == pytest.approx(-0.05, abs=0.01)
    assert choice.within_noise == ["slow"]
    assert "the closest, quick, by difference -0.0" in choice.reason


def test_a_model_breaking_a_constraint_is_never_recommended():
    models = _models(
        [
            # The best and the fastest, but too big.
            ("big", LEADER[:150], {"ms": 0.05, "size_mb": 50.0}),
            ("slow", LEADER, {"ms": 0.5}),
            ("quick", CLOSE, {"ms": 0.1}),
        ]
    )
    choice, ranked = _choose(models, max_size_mb=10.0)
    assert ranked[-1][0].name == "big" and ranked[-1][1] == ["is 50.0 MB (limit 10)"]
    assert choice.leader == "slow" and choice.model == "quick"
    assert "big" not in [d.model for d in choice.compared]
    # Without the constraint the big model leads and, being fastest, stays recommended.
    free, _ = _choose(models)
    assert free.leader == free.model == "big"


def test_equal_costs_fall_to_the_model_made_in_fewer_steps():
    labels, close = _wrong_on(LEADER), _wrong_on(CLOSE)
    models = {
        # The calibrated model leads by a hair; the same speed within 10%, the same size.
        "fast+isotonic": (labels, _candidate("fast+isotonic", labels, ms=0.105, stage="calibrate")),
        "fast": (close, _candidate("fast", close, ms=0.1)),
    }
    choice, _ = _choose(models)
    assert choice.leader == "fast+isotonic"
    assert choice.model == "fast" and choice.rule == "fewer steps"
    assert "fewer steps (1 against 2)" in choice.reason


def test_prediction_times_within_half_of_the_fastest_do_not_decide():
    # 0.10 against 0.14 ms per image is timing noise: fewer steps decide, not the timing.
    close = _models([("leader", LEADER, {"ms": 0.14}), ("quick", CLOSE, {"ms": 0.1})])
    choice, _ = _choose(close)
    assert choice.model == "leader" and choice.rule != "faster", choice.reason


def test_a_calibrated_model_beats_its_scores_only_leader_in_words():
    labels = _wrong_on(LEADER)
    proba = np.full((len(labels), N_CLASSES), 0.1 / (N_CLASSES - 1))
    proba[np.arange(len(labels)), labels] = 0.9
    stored = {
        "fast": {"y_true": _truth(), "labels": labels, "scores": None, "kind": "labels"},
        "fast+temperature": {
            "y_true": _truth(),
            "labels": labels,
            "scores": proba,
            "kind": "proba",
        },
    }
    candidates = [
        _candidate("fast", labels, ms=0.1),
        _candidate("fast+temperature", labels, ms=0.1, stage="calibrate"),
    ]
    choice, _ = recommend(candidates, build_config(), stored.__getitem__)
    assert choice.model == "fast+temperature" and choice.rule == "better calibrated"
    assert "where fast gives no probabilities" in choice.reason and "inf" not in choice.reason
