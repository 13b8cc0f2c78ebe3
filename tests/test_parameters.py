"""Keyword-only parameters, one error type for a bad argument and one for bad data, and
messages that name the parameter a Python caller typed (the CLI shows its flag)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from shallowvision import ConfigError, DataError
from shallowvision.cli._common import as_flags
from shallowvision.features import (
    HOGTransformer,
    ImagePCA,
    MutualInfoSelector,
    PixelScaler,
    make_selector,
)
from shallowvision.models import BlockRBFSVC, NystroemRidgeClassifier
from shallowvision.run import run_study
from test_cli import cli
from test_hostile import one_error_line

X = np.arange(64 * 6, dtype=np.uint8).reshape(6, 64)
Y = np.array([0, 1, 0, 1, 0, 1])


def test_estimator_parameters_are_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        PixelScaler(255.0)
    with pytest.raises(TypeError, match="positional"):
        ImagePCA(3)
    for cls in (PixelScaler, ImagePCA, HOGTransformer, BlockRBFSVC, NystroemRidgeClassifier):
        params = list(inspect.signature(cls).parameters.values())
        assert all(p.kind is p.KEYWORD_ONLY for p in params), cls.__name__


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: PixelScaler(max_value=-1).fit(X), "max_value"),
        (lambda: ImagePCA(n_components=0).fit(X), "n_components"),
        (lambda: HOGTransformer(backend="gpu").fit(X), "backend"),
        (lambda: HOGTransformer(pixels_per_cell=0).fit(X), "pixels_per_cell"),
        (lambda: PixelScaler(image_shape=(4, 4)).fit(X), "image_shape"),
        (lambda: NystroemRidgeClassifier(alpha=0).fit(X, Y), "alpha"),
        (lambda: make_selector("mi", n_explain=5), "n_explain"),
    ],
)
def test_a_bad_argument_is_a_config_error_that_names_the_parameter(call, parameter):
    with pytest.raises(ConfigError, match=parameter) as error:
        call()
    assert isinstance(error.value, ValueError)


def test_bad_data_is_a_data_error():
    with pytest.raises(DataError, match="y has 1 class"):
        MutualInfoSelector(keep=0.5).fit(X, np.zeros(6, int))
    with pytest.raises(DataError, match="at least 2 classes"):
        NystroemRidgeClassifier(n_components=3).fit(X, np.zeros(6, int))
    assert not issubclass(DataError, ConfigError) and not issubclass(ConfigError, DataError)


def test_the_cli_names_flags_where_the_library_names_parameters():
    assert as_flags("run_id='a/b': runs are written inside the out_dir= folder") == (
        "--run-id 'a/b': runs are written inside the --out folder"
    )
    assert as_flags("pass resume=True, or another run_id=") == "pass --resume, or another --run-id"
    assert as_flags("give the validation_size=, n_per_class= and random_state= it had") == (
        "give the --validation-size, --n-per-class and --seed it had"
    )
    # Parameters without a flag, and dotted config keys, are left as they are.
    assert as_flags("prefit=True needs keep=0.3; data.n_per_class=3") == (
        "prefit=True needs keep=0.3; data.n_per_class=3"
    )


def test_a_bad_run_id_names_the_parameter_in_python_and_the_flag_on_the_command_line(tmp_path):
    from shallowvision.run import build_config

    with pytest.raises(ConfigError) as error:
        run_study(
            build_config(overrides={"data": {"dataset": "digits"}}), out_dir=tmp_path, run_id="a/b"
        )
    assert str(error.value).startswith("run_id='a/b': give a plain folder name")
    assert "--" not in str(error.value)
    line = one_error_line(cli("run", "digits", "--out", str(tmp_path), "--run-id", "a/b"))
    assert line == (
        "error: --run-id 'a/b': give a plain folder name (no '/', not starting with '.'); "
        "runs are written inside the --out folder"
    )


def test_a_refused_fit_prints_its_estimate_not_the_generic_out_of_memory_line(monkeypatch, capsys):
    import shallowvision.datasets as datasets
    from shallowvision.cli import main
    from shallowvision.models._memory import MemoryBudgetError

    def refuse(*args, **kwargs):
        raise MemoryBudgetError(
            "best would need about 9.1 GB and 2.0 GB is free; subsample with n_per_class=500",
            needed=9_100_000_000,
            available=2_000_000_000,
            n_per_class=500,
        )

    monkeypatch.setattr(datasets, "load", refuse)
    assert main(["data", "info", "digits"]) == 2
    err = capsys.readouterr().err
    assert "best would need about 9.1 GB" in err and "--n-per-class 500" in err, err
