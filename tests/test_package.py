import json
import os
import subprocess
import sys
import textwrap

import pytest


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )


def test_import_is_fast_and_has_no_side_effects(tmp_path):
    out = run_python(
        """
        import json, os, sys, time, warnings
        before = (list(warnings.filters), dict(os.environ))
        start = time.perf_counter()
        import shallowvision
        elapsed = time.perf_counter() - start
        print(json.dumps({
            "elapsed": elapsed,
            "heavy": sorted(m for m in ("sklearn", "matplotlib", "pandas", "plotly", "scipy") if m in sys.modules),
            "same_state": before == (list(warnings.filters), dict(os.environ)),
            "version": shallowvision.__version__,
        }))
        """,
        SHALLOWVISION_CACHE=str(tmp_path / "cache"),
    )
    report = json.loads(out.stdout)
    assert report["elapsed"] < 0.5
    assert report["heavy"] == []
    assert report["same_state"] is True
    assert not (tmp_path / "cache").exists()


def test_the_command_line_loads_no_numeric_library_until_a_command_needs_one():
    # `shallowvision --version` took 3.3 s when the options' config types pulled in the
    # whole runner (scikit-learn, SciPy, pandas): every command paid it before starting.
    out = run_python(
        """
        import json, sys, time
        start = time.perf_counter()
        import shallowvision.cli
        elapsed = time.perf_counter() - start
        heavy = ("numpy", "sklearn", "scipy", "pandas", "matplotlib", "plotly", "skops")
        print(json.dumps({
            "elapsed": elapsed,
            "heavy": sorted(m for m in heavy if m in sys.modules),
        }))
        """
    )
    report = json.loads(out.stdout)
    assert report["heavy"] == []
    assert report["elapsed"] < 1.5


NUMERIC = {"sklearn", "scipy", "pandas", "xgboost", "lightgbm", "skops"}


def imported_packages(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The top-level packages a command imports (-X importtime names each on stderr)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shallowvision", *args],
        capture_output=True,
        text=True,
    )
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in out.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "shallowvision" in imported
    return imported, out


def test_the_models_listing_loads_no_numeric_library():
    # `shallowvision models` took 3.7 s when the zoo imported scikit-learn and SciPy for its
    # pipelines and search spaces, and built every pipeline to learn whether its libraries
    # were installed (xgboost and lightgbm load scikit-learn, SciPy and pandas themselves).
    from shallowvision.models import get_model_names

    imported, out = imported_packages("models", "--json")
    assert out.returncode == 0, out.stderr
    assert imported & NUMERIC == set()
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == get_model_names()
    assert all(r["installed"] for r in rows)  # the test environment has every library


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "digits", "-m", "nosuch"], "unknown model 'nosuch'"),
        (["compare", "no-such-folder"], "no-such-folder"),
        (
            ["compare", "digits", "--data-parallel", "-m", "lgbm,rf", "--dask", "local:2"],
            "rf cannot be fitted data-parallel",
        ),
        (["tune", "digits", "-m", "nosuch"], "unknown model 'nosuch'"),
        (["run", "digits", "--run-id", ".."], "--run-id '..': give a plain folder name"),
        (["report", "no-such-run"], "no-such-run: not a run folder"),
        (["select", "digits", "--method", "nope"], "unknown selection method 'nope'"),
        (["run", "digits", "--set", "seed=true"], "seed: Input should be a valid integer"),
        (["predict", "none.skops", "a.png"], "none.skops: model file not found"),
        (["serve", "none.skops"], "none.skops: model file not found"),
    ],
)
def test_a_refused_command_loads_no_numeric_library(args, message):
    # Each took 3.5-6.5 s: scikit-learn, SciPy and pandas (and skops) were loaded before the
    # arguments were checked; now the refusal comes in about a second.
    imported, out = imported_packages(*args)
    assert out.returncode == 2
    error = [line for line in out.stderr.splitlines() if not line.startswith("import time:")]
    assert len(error) == 1 and message in error[0], error
    assert imported & NUMERIC == set()


def test_the_runners_names_are_reachable_lazily():
    import shallowvision.run as run

    assert set(run.__all__) == set(run._HOMES)
    assert all(getattr(run, name) is not None for name in run.__all__)
    assert run.RunConfig.__module__ == "shallowvision.run._config"


def test_the_feature_names_are_reachable_lazily():
    import shallowvision.features as features
    from shallowvision.features._keep import SELECTION_METHODS
    from shallowvision.features._select import _METHODS

    assert set(features.__all__) == {*features._HOMES, "n_to_keep"}
    assert all(getattr(features, name) is not None for name in features.__all__)
    assert features.ImagePCA.__module__ == "shallowvision.features._pca"
    # The names the light module checks are those of the selectors built.
    assert tuple(_METHODS) == SELECTION_METHODS == tuple(features.get_selection_method_names())


def test_the_modules_run_first_exist():
    from pathlib import Path

    from conftest import LONGEST_FIRST

    assert [m for m in LONGEST_FIRST if not (Path(__file__).parent / f"{m}.py").is_file()] == []


def test_subpackages_are_reachable_lazily():
    import shallowvision

    assert shallowvision.datasets.load is not None
