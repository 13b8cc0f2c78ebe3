"""Time budgets: the comparison runs its cheapest models first and starts no fit it cannot
finish, a fit still running when the budget ends is stopped, and a run plans its stages
to end in time, saying what it left out and why."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import joblib
import pytest

from estimators_for_tests import SlowClassifier
from shallowvision import ConfigError
from shallowvision.cli import main
from shallowvision.cli._options import parse_duration
from shallowvision.datasets import load_splits
from shallowvision.models import compare_models, get_model_spec, tune_model
from shallowvision.models._registry import _REGISTRY
from shallowvision.models._tune import halving_rounds
from shallowvision.run import build_config, run_study
from shallowvision.run._budget import SearchPlan
from test_cli import cli
from test_hostile import one_error_line


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits", validation_size=0.2, random_state=0)


@pytest.fixture
def slow_rf(monkeypatch):
    """``rf`` with a reference fit time no budget of a test can hold."""
    spec = dataclasses.replace(get_model_spec("rf"), fit_seconds=1e6)
    monkeypatch.setitem(_REGISTRY, "rf", spec)
    return spec


# -- the expected fit time ----------------------------------------------------------------------
def test_the_expected_fit_time_scales_the_reference_by_images_and_pixels():
    lgbm = get_model_spec("lgbm")
    assert lgbm.fit_seconds == 227.0
    assert lgbm.expected_fit_seconds(48_000, (28, 28)) == pytest.approx(227.0)
    assert lgbm.expected_fit_seconds(24_000, (28, 28)) == pytest.approx(113.5)
    assert lgbm.expected_fit_seconds(48_000, (28, 28, 3)) == pytest.approx(681.0)
    assert lgbm.expected_fit_seconds(1_000, (8, 8)) == pytest.approx(227 * 1000 * 64 / 48000 / 784)
    # Every zoo model has a reference time, and the cheap ones are cheaper than the rest.
    times = {spec.name: spec.fit_seconds for spec in _REGISTRY.values()}
    assert all(t is not None and t > 0 for t in times.values()), times
    assert times["nb"] < times["lr"] < times["rf"] < times["lgbm"] < times["xgb"]


# -- compare_models(time_budget=) ---------------------------------------------------------------
def test_models_run_cheapest_first_and_one_that_cannot_fit_is_not_started(splits, slow_rf):
    events = []
    start = time.perf_counter()
    result = compare_models(
        ["rf", "lr", "nb", "dummy", "knn"],
        splits.train,
        splits.validation,
        time_budget=120,
        on_progress=lambda name, event: events.append((name, event)),
    )
    assert time.perf_counter() - start < 120
    started = [name for name, event in events if event == "start"]
    # By reference fit time: dummy 0.1 s, nb 0.6, knn 1.4, lr 6.7; rf now 1e6.
    assert started == ["dummy", "nb", "knn", "lr", "rf"]
    assert [r.model for r in result.rows] == started
    assert [r.status for r in result.rows] == ["ok", "ok", "ok", "ok", "over budget"]
    rf = result.rows[-1]
    expected = slow_rf.expected_fit_seconds(len(splits.train), (8, 8))
    assert rf.accuracy is None and rf.fit_seconds is None and "rf" not in result.models
    assert rf.error.startswith(f"not started: expected to take {expected:,.0f} s on ")
    assert f"{len(splits.train):,} images of 8x8" in rf.error
    assert "of the comparison's 120 s time budget is left" in rf.error
    assert ("rf", "over budget") in events and ("rf", "ok") not in events
    # Without a budget the rows keep the order they were asked in.
    plain = compare_models(["lr", "nb"], splits.train, splits.validation)
    assert [r.model for r in plain.rows] == ["lr", "nb"]


def test_a_fit_still_running_when_the_budget_ends_is_stopped(splits):
    budget = 20.0
    start = time.perf_counter()
    result = compare_models(
        [("slow", SlowClassifier(seconds=300)), "nb"],
        splits.train,
        splits.validation,
        time_budget=budget,
    )
    wall = time.perf_counter() - start
    # A model of unknown cost goes last, with whatever is left; the worker is stopped at
    # the deadline (its start counts against the budget too) and cleaned up in seconds.
    assert wall < budget + 5, wall
    nb, slow = result.rows
    assert nb.model == "nb" and nb.status == "ok"
    assert slow.model == "slow" and slow.status == "timed out" and slow.accuracy is None
    assert "time budget ran out" in slow.error


def test_measured_fit_times_correct_the_others_expected_times():
    from shallowvision.models._compare import _Budget

    class Images:  # what the budget reads of the training images
        image_shape = (28, 28)

        def __len__(self):
            return 48_000

    budget = _Budget(100.0, Images())
    assert budget.correction() == 1.0
    budget.measured("nb", 0.6 * 50)  # too short to tell: its expected 0.6 s is under 1 s
    assert budget.correction() == 1.0
    budget.measured("lr", 6.7 * 2)
    budget.measured("fast", 17.0 * 2)
    assert budget.correction() == pytest.approx(2.0)
    # rf's 60.8 s, twice as long on this machine, no longer fits in the 100 s.
    assert budget.refusal("et") is None  # 29.3 s: 58.6 s, fits
    refusal = budget.refusal("rf")
    assert refusal is not None and "expected to take 122 s" in refusal
    assert "the fits so far took 2.00 times their expected time" in refusal
    budget.measured("et", 29.3 * 1000)  # one odd fit moves the estimates 4 times at most
    assert budget.correction() == 4.0


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "10m", True])
def test_a_time_budget_is_a_positive_number_of_seconds(splits, value):
    with pytest.raises(ConfigError, match=r"^time_budget="):
        compare_models(["nb"], splits.train, splits.validation, time_budget=value)


# -- tuning on fewer images per round -----------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"search": "halving-grid"},
        {"search": "halving-random", "n_candidates": 7},
        {"search": "halving-random", "n_candidates": 12, "max_resources": 500},
        {"search": "halving-grid", "cv": 2, "factor": 2, "max_resources": 300},
    ],
)
def test_the_planned_rounds_are_the_ones_the_search_runs(splits, options):
    from shallowvision.models._tune import search_size

    result = tune_model("lr", splits.train, splits.validation, **options)
    size = search_size("lr", search=options["search"], n_candidates=options.get("n_candidates", 20))
    planned = halving_rounds(
        size,
        len(splits.train),
        factor=options.get("factor", 3),
        cv=options.get("cv", 3),
        n_classes=10,
        max_resources=options.get("max_resources"),
    )
    assert planned == list(zip(result.n_candidates, result.n_resources, strict=True))
    assert result.max_resources == options.get("max_resources")
    if "max_resources" in options:
        assert max(result.n_resources) <= options["max_resources"]


# -- the command line ---------------------------------------------------------------------------
def test_durations_read_as_seconds():
    assert parse_duration("90s") == 90
    assert parse_duration("10m") == 600
    assert parse_duration("1.5h") == 5400
    assert parse_duration("600") == 600
    assert parse_duration(" 2M ") == 120
    assert parse_duration(".5m") == 30


@pytest.mark.parametrize(
    ("command", "value", "message"),
    [
        ("compare", "10x", "--time-budget '10x': give a duration such as 90s, 10m, 1.5h"),
        ("compare", "-5m", "--time-budget '-5m': give a duration such as"),
        ("compare", "0", "--time-budget '0': give a duration longer than zero"),
        ("run", "ten minutes", "--time-budget 'ten minutes': give a duration such as"),
        ("run", "1.5d", "--time-budget '1.5d': give a duration such as"),
        ("run", "0s", "--time-budget '0s': give a duration longer than zero"),
    ],
)
def test_a_bad_time_budget_is_one_line_and_exit_2(
    monkeypatch, tmp_path, capsys, command, value, message
):
    def no_data(*args, **kwargs):
        raise AssertionError("data was read")

    monkeypatch.setattr("shallowvision.datasets.load_splits", no_data)
    args = [command, "digits", "--time-budget", value]
    assert main([*args, "--out", str(tmp_path / ("x.json" if command == "compare" else "r"))]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err


def test_the_installed_command_refuses_a_budget_it_cannot_keep(tmp_path):
    line = one_error_line(
        cli("compare", "digits", "-m", "nb", "--time-budget", "1m", "--dask", "local")
    )
    assert line == (
        "error: --time-budget stops fits in worker processes on this machine when the budget "
        "runs out; it cannot be combined with --dask"
    )
    line = one_error_line(
        cli("run", "digits", "--time-budget", "5m", "--dask", "local", "--out", str(tmp_path))
    )
    assert line == (
        "error: --time-budget stops fits in worker processes on this machine when the budget "
        "runs out; it cannot be combined with --dask"
    )
    assert not any(tmp_path.iterdir())  # refused before the run folder was made
    line = one_error_line(cli("compare", "digits", "--time-budget", "soon"))
    assert line.startswith("error: --time-budget 'soon': give a duration such as 90s")


# -- a run within its budget --------------------------------------------------------------------
def test_a_run_leaves_out_what_its_budget_cannot_hold_and_says_so(tmp_path, monkeypatch, slow_rf):
    """rf cannot fit (its reference time is huge), so it is neither compared nor tuned,
    and explanations are expected to cost more than the budget: each is left out with the
    reason, and a resumed run with no budget does what was left out."""
    from shallowvision.run import _budget

    monkeypatch.setattr(_budget, "_SHAP_SECONDS", 1e6)
    overrides = {
        "data": {"dataset": "digits"},
        "compare": {"models": ["dummy", "lr", "nb", "rf"]},
        # The EMNIST study's grid of smaller forests: the resumed run's tuning and the
        # ensembles with its forest then take seconds, not tens of them.
        "tune": {"models": ["rf"], "n_candidates": 4, "grids": {"rf": "emnist"}},
        "time_budget": 600,
    }
    events = []
    start = time.perf_counter()
    run_dir = run_study(
        build_config(overrides=overrides),
        out_dir=tmp_path,
        run_id="b",
        on_event=lambda stage, event, detail: events.append((stage, event, detail)),
    )
    wall = time.perf_counter() - start
    manifest = json.loads((run_dir / "manifest.json").read_text())
    budget = manifest["time_budget"]
    assert budget["seconds"] == 600 and 0 < budget["wall_seconds"] <= wall < 600
    assert budget["deadline"] > budget["started"]
    stages = manifest["stages"]
    skipped = {name: s["reason"] for name, s in stages.items() if s["status"] == "skipped"}
    assert set(skipped) == {"tune", "explain"}, skipped
    assert skipped["tune"].startswith("tuning rf is expected to take ")
    assert "the time budget leaves" in skipped["tune"]
    assert skipped["explain"].startswith("over the time budget: expected to take ")
    assert "SHAP values and permutation importance of" in skipped["explain"]
    assert all(s["status"] == "done" for n, s in stages.items() if n not in skipped)
    # The progress line says why, and the report where the stage's section would be.
    assert ("explain", "skip", skipped["explain"]) in events
    report = (run_dir / "report.html").read_text()
    assert "This stage was skipped: over the time budget: expected to take" in report
    assert "to meet it, it left out: rf (over budget); tuning; explanations." in report
    assert "Time budget 10 min (600 s): started" in report
    rows = json.loads((run_dir / "stages" / "compare.json").read_text())["result"]
    rf = next(r for r in rows["comparison"]["rows"] if r["model"] == "rf")
    assert rf["status"] == "over budget" and rf["error"].startswith("not started: expected")

    # The stages the budget left out are not finished: a resume without one does them.
    events.clear()
    # (and without the quick preset's limit on tuning, which would leave rf out again).
    unlimited = {
        **overrides,
        "time_budget": None,
        "tune": {**overrides["tune"], "time_budget": None},
    }
    run_study(
        build_config(overrides=unlimited),
        out_dir=tmp_path,
        run_id="b",
        resume=True,
        on_event=lambda stage, event, detail: events.append((stage, event, detail)),
    )
    ran = [stage for stage, event, _ in events if event == "done"]
    assert "tune" in ran and "explain" in ran and "compare" not in ran, events
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "time_budget" not in manifest
    assert manifest["stages"]["explain"]["status"] == "done"


class _Images:
    """What the planner reads of a split: its length, image shape and classes."""

    def __init__(self, n, shape=(28, 28)):
        self.n, self.image_shape, self.n_classes = n, shape, 10

    def __len__(self):
        return self.n


def _planned_run(seconds, candidates, cut=(), **overrides):
    """A run's budget and a stand-in for its context: Fashion-MNIST's split sizes, the
    given candidates offered, ``cut`` models left out of the comparison by the budget."""
    import types

    from shallowvision.models import ModelScore
    from shallowvision.run import STAGES
    from shallowvision.run._budget import RunBudget

    config = build_config(overrides={"time_budget": seconds, **overrides})
    rows = [ModelScore(model=m, status="over budget", error="the time budget ...") for m in cut]
    ctx = types.SimpleNamespace(
        config=config,
        splits=types.SimpleNamespace(
            train=_Images(48_000),
            compared=_Images(20_000),
            validation=_Images(6_000),
            calibration=_Images(6_000),
            test=_Images(10_000),
        ),
        candidates=lambda: list(candidates),
        has_result=lambda stage: stage == "compare",
        result=lambda kind: types.SimpleNamespace(comparison=types.SimpleNamespace(rows=rows)),
    )
    budget = RunBudget(
        seconds,
        enabled=[s.name for s in STAGES if s.enabled(config)],
        weights={s.name: s.weight for s in STAGES},
    )
    return budget, ctx


def _candidate(name, fit, ms_per_image, f1, proba=True):
    from shallowvision.report._records import Candidate

    metrics = {
        "fit_seconds": fit,
        "predict_seconds_per_1000": ms_per_image,
        "size_bytes": 2_000_000,
        "f1_macro": f1,
        "scores_kind": "proba" if proba else "decision",
    }
    return Candidate(name=name, stage="compare", model_file="", metrics=metrics, gives_proba=proba)


def test_a_stage_starts_only_when_its_expected_cost_fits():
    from shallowvision.run._budget import OverBudget

    candidates = [
        _candidate("dummy", 0.01, 0.01, 0.02),
        _candidate("nb", 0.3, 0.02, 0.67),
        _candidate("lr", 3.0, 0.004, 0.86),
        _candidate("rf", 25.0, 0.05, 0.89),
    ]
    budget, ctx = _planned_run(600, candidates)
    # Ten minutes hold the quick study's ensembles of three members and its calibration.
    budget.admit(ctx, "ensemble")
    budget.admit(ctx, "calibrate")
    budget.admit(ctx, "data")  # the fixed stages always start
    assert budget.comparison_seconds(ctx) == pytest.approx(budget.available(ctx) / 2)
    assert budget.finalists_seconds(ctx, 1200) <= budget.available(ctx)
    # With a minute gone of a budget of 70 s, robustness does not fit.
    budget, ctx = _planned_run(70, candidates)
    budget.start -= 60
    with pytest.raises(OverBudget, match=r"^over the time budget: expected to take .* \(2 models"):
        budget.admit(ctx, "robustness")


def test_a_stage_the_budget_left_without_models_is_skipped_for_the_budget():
    from shallowvision.run._budget import OverBudget

    candidates = [_candidate("dummy", 0.01, 0.01, 0.02), _candidate("nb", 0.3, 0.02, 0.67)]
    budget, ctx = _planned_run(600, candidates, cut=["rf", "lgbm"])
    # An ensemble needs two models; the budget kept all but nb from the comparison.
    with pytest.raises(
        OverBudget, match=r"^the time budget left too few models for it \(not compared: rf, lgbm\)$"
    ):
        budget.admit(ctx, "ensemble")
    # Without models left out by the budget, the stage itself says what is wrong.
    budget, ctx = _planned_run(600, candidates)
    budget.admit(ctx, "ensemble")


def test_a_search_that_cannot_fit_runs_on_fewer_images_or_not_at_all():
    candidates = [_candidate("fast", 6.0, 0.06, 0.92, proba=False)]
    tune = {"tune": {"models": ["fast"], "n_candidates": 4, "cv": 2}}
    from shallowvision.run._budget import plan_search

    def search_plan(seconds):
        budget, ctx = _planned_run(seconds, candidates, **tune)
        return plan_search(ctx, ["fast"], 2, budget.allowance(ctx, "tune"), "the time budget")

    assert search_plan(1800).max_resources is None  # the whole search
    plan = search_plan(150)
    assert plan.reason is None and 40 <= plan.max_resources < 20_000
    plan = search_plan(60)
    assert plan.max_resources is None and plan.reason.startswith("tuning fast is expected")


def test_tunings_own_time_budget_plans_the_search_with_or_without_a_run_budget():

    from shallowvision.run._budget import plan_search
    from shallowvision.run._stages import _tuning_limit

    rf = [_candidate("rf", 80.0, 0.08, 0.85)]
    tune = {"models": ["rf"], "n_candidates": 4, "cv": 2}

    def plan(run_seconds, tune_seconds, spent=0.0):
        budget, ctx = _planned_run(run_seconds, rf, tune={**tune, "time_budget": tune_seconds})
        ctx.budget = None if run_seconds is None else budget
        limit = _tuning_limit(ctx, time.monotonic() - spent)
        return SearchPlan() if limit is None else plan_search(ctx, ["rf"], 2, *limit)

    assert plan(None, None) == SearchPlan()  # no limit: the whole search
    # The whole search (about 9 fits of 80 s) does not fit 600 s with the margin: fewer
    # images a round; with 100 s left, not even the fewest.
    planned = plan(None, 600)
    assert planned.reason is None and 40 <= planned.max_resources < 20_000
    left_out = plan(None, 600, spent=500)
    assert left_out.max_resources is None
    assert left_out.reason.endswith("and tune.time_budget leaves 100 s for it")
    # Under a run's budget the tighter limit decides, and the reason names it.
    assert plan(7200, 600) == planned
    assert plan(7200, None) == SearchPlan()
    assert re.search(r", and the time budget leaves \d+ s for it$", plan(300, 7200).reason)


def test_a_tuned_refit_that_would_overrun_tunings_limit_is_left_out_with_the_reason(
    tmp_path, monkeypatch
):
    """The search fits the limit, but the parameters it chose would take too long to refit
    on all the images (a forest of many deep trees): the tuned model is left out, the run
    goes on, and the reason names the limit."""
    from shallowvision.models import _tune

    monkeypatch.setattr(_tune, "_expected_refit_seconds", lambda *args: 1e6)
    overrides = {
        "data": {"dataset": "digits"},
        "compare": {"models": ["dummy", "lr"]},
        "tune": {"models": ["lr"], "n_candidates": 4, "time_budget": 600},
        "ensemble": {"enabled": False},
        "select": {"enabled": False},
        "explain": {"enabled": False},
    }
    run_dir = run_study(build_config(overrides=overrides), out_dir=tmp_path, run_id="r")
    stage = json.loads((run_dir / "manifest.json").read_text())["stages"]["tune"]
    assert stage["status"] == "skipped", stage
    assert re.fullmatch(
        r"the tuned lr is expected to take 1,000,000 s to fit on [\d,]+ images \(its fits in "
        r"the search, extrapolated\), [\d,]+ s are left of tune.time_budget",
        stage["reason"],
    ), stage["reason"]


def test_a_time_budget_is_checked_as_the_run_configuration_is(tmp_path):
    with pytest.raises(ConfigError, match="time_budget: Input should be greater than 0"):
        build_config(overrides={"time_budget": 0})
    with pytest.raises(ConfigError, match="time_budget: Input should be a finite number"):
        build_config(overrides={"time_budget": float("inf")})
    config = build_config(overrides={"data": {"dataset": "digits"}, "time_budget": 60})
    assert config.time_budget == 60.0
    with pytest.raises(ConfigError, match="^time_budget= stops fits in worker processes"):
        run_study(config.model_copy(update={"dask": "local"}), out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


# -- worker processes -----------------------------------------------------------------------------
def test_one_worker_process_serves_the_calls_until_one_overruns():
    """A comparison pays a worker's start (seconds) once, not per model."""
    import os

    from shallowvision._workers import TimeLimitedWorker

    with TimeLimitedWorker() as worker:
        first = worker.run(os.getpid, seconds=120)
        second = worker.run(os.getpid, seconds=120)
        failed = worker.run(int, "x", seconds=120)
        third = worker.run(os.getpid, seconds=120)
        slow = worker.run(time.sleep, 60, seconds=0.5)
        fourth = worker.run(os.getpid, seconds=120)
    assert first.status == "ok" and first.value == second.value == third.value
    assert failed.status == "failed" and failed.error.startswith("ValueError: invalid literal")
    assert slow.status == "timed out" and slow.error == "stopped after 0.5 s"
    assert fourth.status == "ok" and fourth.value != first.value  # a fresh process


def test_a_fit_in_a_worker_process_has_every_core():
    """A daemonic worker would have joblib run every parallel loop on one core."""
    from shallowvision._workers import run_with_time_limit

    outcome = run_with_time_limit(joblib.effective_n_jobs, -1, seconds=120)
    assert outcome.status == "ok" and outcome.value == joblib.cpu_count()


def test_a_forests_explanation_is_priced_from_its_trees(digits):
    # The flat prior said 15 s where SHAP values of a 10-minute study's extra trees took 88 s.
    from shallowvision.features._shap import TREE_SHAP_SECONDS_PER_WORK, tree_shap_work
    from shallowvision.models import get_model
    from shallowvision.run._budget import _EXPECTED

    def expected(model_name, **params):
        model = get_model(model_name, random_state=0, **params).fit(digits.X, digits.y)
        candidates = [_candidate(model_name, 1.0, 0.01, 0.9)]
        _, ctx = _planned_run(600, candidates, explain={"model": model_name, "n_explain": 20})
        ctx.model = lambda name: model
        return _EXPECTED["explain"](ctx)[0], tree_shap_work(model)

    small, small_work = expected("rf", n_estimators=10)
    large, large_work = expected("rf", n_estimators=40)
    assert large_work > 3 * small_work
    # Permutation importance is priced alike for both (same prediction time).
    assert large - small == pytest.approx(
        28 * (large_work - small_work) * TREE_SHAP_SECONDS_PER_WORK
    )
    # A model whose SHAP values tree_shap_work does not price keeps the prior.
    prior, work = expected("lr")
    assert work is None and prior > 15.0 * (64 / 784)
