"""Hostile and careless input through the installed console script: one line, exit code 2.

Each case is what a careless user or an attacker would type; the promise is a clear
one-line error, exit code 2, no traceback and nothing half-written. The console-script
cases of other parts sit beside their library tests, with :func:`one_error_line`:
``test_load_cache.py`` (stale caches, an empty name), ``test_model_integrity.py``
(pinning, forged manifests), ``test_run_hostile.py`` (resuming another study, run ids,
damaged files) and ``test_serve_hostile.py`` (busy ports, slow and vanishing clients).
"""

from __future__ import annotations

import json

import pytest

from test_cli import cli


def one_error_line(out) -> str:
    """The single ``error:`` line of a failed command (progress lines may precede it)."""
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    assert out.stderr.strip().endswith(errors[0]), out.stderr
    return errors[0]


# -- seeds and options ----------------------------------------------------------------------
@pytest.mark.parametrize("command", [["compare", "digits", "-m", "dummy"], ["run", "digits"]])
@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_seed_outside_numpys_range_is_refused(tmp_path, command, seed):
    line = one_error_line(cli(*command, "--seed", seed, "--out", str(tmp_path / "x.json")))
    assert line.startswith("error: Invalid value for '--seed'")
    assert not (tmp_path / "x.json").exists()


def test_eda_seed_is_checked_before_any_file_is_written(tmp_path):
    line = one_error_line(cli("eda", "digits", "--out", str(tmp_path / "eda"), "--seed", "-1"))
    assert "'--seed'" in line and not (tmp_path / "eda").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = true", "seed: Input should be a valid integer"),
        ("seed = -1", "seed: Input should be greater than or equal to 0"),
        ("seed = 4294967296", "seed: Input should be less than or equal to 4294967295"),
        ("n_jobs = 0", "n_jobs: Value error, 0 workers cannot fit anything"),
        ('[tune]\ntop = "2"', "tune.top: Input should be a valid integer"),
    ],
)
def test_config_values_of_the_wrong_type_or_range_are_named(tmp_path, text, message):
    config = tmp_path / "run.toml"
    config.write_text(text + "\n")
    line = one_error_line(cli("run", "digits", "--config", str(config), "--print-config"))
    assert line.startswith(f"error: {config}: {message}")


@pytest.mark.parametrize("command", ["compare", "tune", "ensemble", "select", "run"])
def test_zero_workers_is_refused(command):
    line = one_error_line(cli(command, "digits", "--n-jobs", "0"))
    assert line.startswith("error: Invalid value for '--n-jobs': 0 workers cannot fit anything")


def test_usage_errors_are_one_line_with_where_to_look():
    line = one_error_line(cli("data", "info", "digits", "--no-such-option"))
    assert line == "error: No such option: --no-such-option (see shallowvision data info --help)"


# -- compare shows why a model failed -------------------------------------------------------
def test_compare_prints_each_failure_and_fails_when_nothing_finished(tmp_path):
    out = tmp_path / "compare.json"
    run = cli(
        "compare", "digits", "-m", "lr,nb", "--n-per-class", "10", "--out", str(out),
        "--param", "lr.C=-1", "--param", "nb.var_smoothing=-1",
    )  # fmt: skip
    assert one_error_line(run) == "error: no model finished: lr failed, nb failed"
    assert (
        "lr failed: InvalidParameterError: The 'C' parameter of LogisticRegression must be a "
        "float in the range (0.0, inf]. Got -1 instead."
    ) in run.stdout
    assert "nb failed: InvalidParameterError: The 'var_smoothing' parameter" in run.stdout
    rows = json.loads(out.read_text())["rows"]  # the table is still written
    assert [(r["model"], r["status"]) for r in rows] == [("lr", "failed"), ("nb", "failed")]


def test_compare_with_one_failure_succeeds_and_names_it():
    run = cli("compare", "digits", "-m", "lr,nb", "--n-per-class", "10", "--param", "lr.C=-1")
    assert run.returncode == 0, run.stderr
    assert "lr failed: InvalidParameterError: The 'C' parameter" in run.stdout
    assert "best macro F1: nb" in run.stdout


def test_compare_debug_shows_the_failures_traceback():
    run = cli(
        "--debug", "compare", "digits", "-m", "lr", "--n-per-class", "10", "--param", "lr.C=-1"
    )
    assert run.returncode != 0
    assert "lr failed" in run.stderr and "Traceback" in run.stderr
    assert "sklearn/utils/_param_validation.py" in run.stderr  # where the model raised


@pytest.mark.parametrize("where", ["folder", "missing", "unwritable"])
def test_compare_checks_out_before_fitting(tmp_path, where):
    target = {
        "folder": tmp_path,
        "missing": tmp_path / "no" / "such.json",
        "unwritable": __import__("pathlib").Path("/proc/compare.json"),
    }[where]
    if where == "folder":
        target = tmp_path / "table.json"
        target.mkdir()
    run = cli("compare", "digits", "-m", "lr", "--out", str(target))
    line = one_error_line(run)
    assert str(target.parent if where != "folder" else target) in line
    assert "lr" not in run.stdout  # nothing was fitted


# -- eda into a folder that holds an earlier one ----------------------------------------------
def test_eda_into_an_existing_folder_keeps_nothing_of_the_earlier_one(tmp_path):
    out = tmp_path / "eda"
    out.mkdir()
    (out / "eda.json").write_text('{"earlier": true}')
    (out / "summary.txt").write_text("- earlier\n")
    for name in ("class_balance", "duplicates_exact_train", "against_others"):
        (out / f"{name}.png").write_bytes(b"earlier")
    (out / "notes.txt").write_text("mine")  # not an EDA file: kept
    run = cli("eda", "digits", "--out", str(out), "--n-per-class", "10", "--no-figures")
    assert run.returncode == 0, run.stderr
    assert "earlier" not in (out / "eda.json").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["eda.json", "notes.txt", "summary.txt"]


def test_an_interrupted_eda_leaves_no_completion_mark(tmp_path, monkeypatch, digits):
    import shallowvision.eda._save as save
    from shallowvision.eda import analyze

    out = tmp_path / "eda"
    out.mkdir()
    (out / "eda.json").write_text('{"earlier": true}')
    result = analyze(digits.subsample(n_per_class=5, random_state=0))

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(save, "save_figures", fail)
    with pytest.raises(KeyboardInterrupt):
        save.write_eda(result, out)
    assert not (out / "eda.json").exists()


# -- model files --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    from PIL import Image

    from shallowvision.models import get_model
    from shallowvision.persistence import save_model

    folder = tmp_path_factory.mktemp("model")
    model = get_model("nb").fit(digits.X, digits.y)
    path = save_model(
        model, folder / "nb.skops", class_names=digits.class_names, image_shape=(8, 8)
    )
    Image.fromarray(digits.images[0]).save(folder / "0.png")
    return path, folder / "0.png"


def test_predict_refuses_a_model_whose_manifest_was_edited(saved, tmp_path):
    import zipfile

    path, image = saved
    edited = tmp_path / "edited.skops"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "shallowvision-manifest.json":
                data = data.replace(b'"0"', b'"zero-TAMPERED"', 1)
            dst.writestr(item, data)
    line = one_error_line(cli("predict", str(edited), str(image)))
    assert line == (
        f"error: {edited}: the model was modified after it was saved (checksum mismatch); "
        "refusing to load it"
    )


def test_with_a_key_set_an_unsigned_model_is_refused(saved):
    path, image = saved
    run = cli("predict", str(path), str(image), env={"SHALLOWVISION_MODEL_KEY": "s" * 32})
    assert one_error_line(run) == (
        f"error: {path}: the file is not signed, and SHALLOWVISION_MODEL_KEY is set: only "
        "files signed with that key load"
    )
