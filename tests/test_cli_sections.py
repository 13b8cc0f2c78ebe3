"""Commands take their defaults from the run's config sections and are validated by them."""

import pytest
import typer.main

from shallowvision import ConfigError
from shallowvision.cli import app, main
from shallowvision.cli._sections import build_section
from shallowvision.run._config import (
    CalibrateConfig,
    CompareConfig,
    DataConfig,
    EnsembleConfig,
    ExplainConfig,
    RunConfig,
    SelectConfig,
    TuneConfig,
)

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def option_default(command: str, name: str):
    (param,) = [p for p in COMMANDS[command].params if p.name == name]
    return param.default


@pytest.mark.parametrize(
    ("command", "option", "section", "key"),
    [
        ("compare", "models", CompareConfig, "models"),
        ("compare", "seed", RunConfig, "seed"),
        ("select", "task", DataConfig, "task"),
        ("tune", "search", TuneConfig, "search"),
        ("tune", "n_candidates", TuneConfig, "n_candidates"),
        ("tune", "scoring", TuneConfig, "scoring"),
        ("tune", "cv", TuneConfig, "cv"),
        ("tune", "factor", TuneConfig, "factor"),
        ("ensemble", "method", EnsembleConfig, "methods"),
        ("ensemble", "final", EnsembleConfig, "final"),
        ("ensemble", "cv", EnsembleConfig, "cv"),
        ("calibrate", "bins", CalibrateConfig, "n_bins"),
        ("evaluate", "bins", CalibrateConfig, "n_bins"),
        ("evaluate", "target_accuracy", CalibrateConfig, "target_accuracy"),
        ("explain", "n_background", ExplainConfig, "n_background"),
        ("explain", "n_permutation", ExplainConfig, "n_permutation"),
        ("select", "keep", SelectConfig, "keep"),
        ("select", "method", SelectConfig, "method"),
    ],
)
def test_a_commands_default_is_the_runs(command, option, section, key):
    default, run_default = option_default(command, option), getattr(section(), key)
    assert (default.split(",") if isinstance(run_default, list) else default) == run_default


def test_a_section_built_from_options_names_them():
    config = build_section(TuneConfig, {}, models=["lr"], search=None, cv=4)
    assert config == TuneConfig(models=["lr"], cv=4)  # None takes the section's default
    with pytest.raises(ConfigError, match="^unknown model 'forest': did you mean"):
        build_section(TuneConfig, {"models": "--model"}, models=["forest"])
    with pytest.raises(
        ConfigError,
        match="^unknown --method 'platt'; choose one of isotonic, sigmoid, temperature$",
    ):
        build_section(CalibrateConfig, {"methods": "--method"}, methods=["platt"])
    with pytest.raises(ConfigError, match="^--bins: Input should be greater than or equal to 2$"):
        build_section(CalibrateConfig, {"n_bins": "--bins"}, n_bins=1)
    with pytest.raises(ConfigError, match="^--models: give at least one model$"):
        build_section(CompareConfig, {"models": "--models"}, models=[])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["tune", "digits", "--search", "grid"],
            "unknown search 'grid'; choose one of halving-grid",
        ),
        (["tune", "digits", "-m", "forest"], "unknown model 'forest'"),
        (["compare", "digits", "-m", "lr,forest"], "unknown model 'forest'"),
        (["ensemble", "digits", "--method", "soft,boost"], "unknown ensemble method 'boost'"),
    ],
)
def test_options_a_run_refuses_are_refused_before_any_data_is_read(
    monkeypatch, capsys, args, message
):
    def no_data(*args, **kwargs):
        raise AssertionError("data was read")

    monkeypatch.setattr("shallowvision.datasets.load_splits", no_data)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_tune_searches_as_a_run_does_unless_told_otherwise(monkeypatch, capsys):
    """The defaults a run's tune section has reach the search: halving-random over 12
    first-round candidates (the command once had halving-grid and 20 of its own)."""
    calls = []

    def tune_model(name, train, validation, **options):
        calls.append(options)
        raise ConfigError("stop here")

    monkeypatch.setattr("shallowvision.models.tune_model", tune_model)
    assert main(["tune", "digits", "-m", "lr"]) == 2
    run = TuneConfig()
    expected = {k: getattr(run, k) for k in ("search", "scoring", "cv", "factor", "n_candidates")}
    assert {k: calls[0][k] for k in expected} == expected
    assert expected["search"] == "halving-random" and expected["n_candidates"] == 12
    assert main(["tune", "digits", "-m", "lr", "--search", "halving-grid", "--cv", "4"]) == 2
    assert calls[1]["search"] == "halving-grid" and calls[1]["cv"] == 4
    assert calls[1]["grid"] is None
    capsys.readouterr()


def test_ensemble_combines_as_a_run_does_unless_told_otherwise(monkeypatch, capsys):
    """Soft voting and stacking, as a run's ensemble section has it (the command once
    added hard voting of its own)."""
    calls = []

    def compare_ensembles(members, train, validation, **options):
        calls.append(options)
        raise ConfigError("stop here")

    monkeypatch.setattr("shallowvision.ensemble.compare_ensembles", compare_ensembles)
    assert main(["ensemble", "digits", "--members", "lr,nb"]) == 2
    run = EnsembleConfig()
    assert calls[0]["methods"] == run.methods == ["soft", "stack"]
    assert (calls[0]["final"], calls[0]["cv"], calls[0]["weights"]) == (run.final, run.cv, None)
    assert main(["ensemble", "digits", "--members", "lr,nb", "--method", "hard"]) == 2
    assert calls[1]["methods"] == ["hard"]
    capsys.readouterr()


def test_the_select_section_takes_every_method_the_command_does():
    from shallowvision.features import get_selection_method_names

    for method in get_selection_method_names():
        assert SelectConfig(method=method).method == method
    assert SelectConfig(method="shap", n_explain=50).selector_options() == {"n_explain": 50}
    with pytest.raises(ConfigError, match="^n_explain= applies to method=shap only$"):
        build_section(SelectConfig, {}, method="mi", n_explain=5)
    with pytest.raises(ConfigError, match="^unknown selection method 'lasso'"):
        build_section(SelectConfig, {}, method="lasso")
    with pytest.raises(ConfigError, match="whole count >= 1, got 2.5"):
        build_section(SelectConfig, {}, keep=2.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "--n-permutation", "5"], "--n-permutation: Input should be greater than or"),
        (["explain", "--n-background", "0"], "--n-background: Input should be greater than or"),
        (["evaluate", "--bins", "1"], "--bins: Input should be greater than or equal to 2"),
        (["evaluate", "--target-accuracy", "0"], "--target-accuracy: Input should be greater"),
    ],
)
def test_explain_and_evaluate_refuse_what_a_run_refuses_before_reading_the_model(
    tmp_path, capsys, args, message
):
    command, *options = args
    missing = tmp_path / "no-such-model.skops"
    assert main([command, str(missing), "digits", "--out", str(tmp_path / "o"), *options]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["calibrate", "evaluate", "explain"])
def test_a_command_given_a_model_leaves_its_splits_to_the_model(command):
    """Unset, the model's recorded split recipe decides; the library falls back to the
    run's defaults for a model without one (tests/test_run.py)."""
    assert option_default(command, "validation_size") is None
    assert option_default(command, "seed") is None
