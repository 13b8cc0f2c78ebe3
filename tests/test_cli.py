"""The installed console script, run in a subprocess as a user would."""

import json
import os
import shutil
import subprocess
import sys

import pytest

EXE = shutil.which("shallowvision", path=os.path.dirname(sys.executable)) or "shallowvision"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
    )


def test_version_and_module_entry_point():
    assert cli("--version").stdout.strip() == "shallowvision 0.1.0"
    out = subprocess.run(
        [sys.executable, "-m", "shallowvision", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "shallowvision 0.1.0"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["datasets"],
        ["data"],
        ["data", "info"],
        ["eda"],
        ["models"],
        ["compare"],
        ["tune"],
        ["predict"],
        ["serve"],
        ["benchmark"],
        ["evaluate"],
        ["calibrate"],
        ["ensemble"],
        ["select"],
        ["explain"],
    ],
)
def test_help_on_every_command(command):
    out = cli(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage: shallowvision" in out.stdout


def test_datasets_table_and_json():
    out = cli("datasets", "--json")
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["emnist-letters"]["n_classes"] == 26 and rows["digits"]["available"] is True
    table = cli("datasets", env={"COLUMNS": "200"}).stdout
    assert "emnist-balanced" in table and "112,800" in table


def test_data_info_digits():
    out = cli("data", "info", "digits", "--json")
    assert out.returncode == 0
    train, test = json.loads(out.stdout)
    assert (train["n_images"], test["n_images"]) == (1438, 359)
    assert train["class_counts"]["0"] == 142


def test_library_error_is_one_red_line_and_exit_2():
    out = cli("data", "info", "fashon-mnist")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: unknown dataset 'fashon-mnist': did you mean 'fashion-mnist'"
    )
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_debug_shows_the_traceback():
    out = cli("--debug", "data", "info", "/nonexistent/images.csv")
    assert out.returncode != 0 and "Traceback" in out.stderr and "DataError" in out.stderr


def test_usage_error_exit_code():
    out = cli("data", "info", "digits", "--no-such-option")
    assert out.returncode == 2 and "No such option" in out.stderr


@pytest.mark.slow
def test_eda_writes_json_summary_and_figures(tmp_path):
    # The console script's whole job, figures included (about 10 s of PNG drawing).
    out = tmp_path / "eda"
    run = cli("eda", "digits", "--out", str(out), "--compare-class", "8", "--seed", "3")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "- digits: 1,438 training and 359 test images of 8x8 pixels in 10 classes"
    assert "- train is balanced: 139 to 146 images per class" in lines
    assert any(line.startswith("- 8's mean image is closest to ") for line in lines)
    data = json.loads((out / "eda.json").read_text())
    assert data["settings"] == {**data["settings"], "compare_class": "8", "random_state": 3}
    assert data["findings"] == [line[2:] for line in lines]
    assert (out / "summary.txt").read_text().splitlines() == lines
    pngs = {p.stem for p in out.glob("*.png")}
    assert {"class_balance", "samples", "mean_images", "against_others", "pca_projection"} <= pngs
    assert f"and {len(pngs)} figures to {out}" in run.stderr


def test_eda_subsample_without_figures(tmp_path):
    run = cli("eda", "digits", "--out", str(tmp_path), "--n-per-class", "20", "--no-figures")
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "eda.json").read_text())
    assert data["balance"]["train_counts"] == [20] * 10 and data["n_test"] < 359
    assert "train is balanced: 20 images per class" in run.stdout
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compare-class", "eleven"], "error: unknown class 'eleven'; classes are: 0, 1, 2"),
        (["--near-threshold", "0"], "Invalid value for '--near-threshold'"),
    ],
)
def test_eda_bad_options(tmp_path, args, message):
    run = cli("eda", "digits", "--out", str(tmp_path / "x"), *args)
    assert run.returncode == 2 and message in run.stderr
    assert not (tmp_path / "x" / "eda.json").exists()


def test_eda_out_must_be_a_folder(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    run = cli("eda", "digits", "--out", str(target))
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {target}: --out must be a folder, and this is a file"
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("cores_in_use", [0.0, 0.4, 0.6, 2.0])
def test_idle_threads_sleep_when_other_work_uses_the_cores(monkeypatch, cores_in_use):
    import os

    import psutil

    from shallowvision.cli import main

    samples = []
    monkeypatch.setattr(psutil, "cpu_count", lambda: 2)
    monkeypatch.setattr(
        psutil, "cpu_percent", lambda interval: samples.append(interval) or cores_in_use * 50
    )
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")
    assert main(["--version"]) == 0
    assert samples == [0.15]
    # From half a core's worth of other work on, idle threads sleep at once; the user's own
    # value is kept either way.
    expected = "passive" if cores_in_use >= 0.5 else None
    assert os.environ.get("OMP_WAIT_POLICY") == expected
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"


def test_thread_waiting_the_user_set_is_not_sampled(monkeypatch):
    import psutil

    from shallowvision.cli._app import sleep_idle_threads_when_busy

    monkeypatch.setattr(psutil, "cpu_percent", lambda interval: pytest.fail("sampled"))
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "0")
    assert sleep_idle_threads_when_busy() is False
