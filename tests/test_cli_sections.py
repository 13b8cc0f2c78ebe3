"""Commands take their defaults from the run's config sections and are validated by them."""

import pytest
import typer.main

from shallowvision import ConfigError
from shallowvision.cli import app, main
from shallowvision.cli._sections import build_section
from shallowvision.run._config import (
    CalibrateConfig,
    CompareConfig,
    EnsembleConfig,
    ExplainConfig,
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
        ("tune", "scoring", TuneConfig, "scoring"),
        ("tune", "cv", TuneConfig, "cv"),
        ("tune", "factor", TuneConfig, "factor"),
        ("ensemble", "final", EnsembleConfig, "final"),
        ("ensemble", "cv", EnsembleConfig, "cv"),
        ("calibrate", "bins", CalibrateConfig, "n_bins"),
        ("evaluate", "bins", CalibrateConfig, "n_bins"),
        ("evaluate", "target_accuracy", CalibrateConfig, "target_accuracy"),
        ("explain", "n_background", ExplainConfig, "n_background"),
        ("explain", "n_permutation", ExplainConfig, "n_permutation"),
        ("select", "keep", SelectConfig, "keep"),
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
