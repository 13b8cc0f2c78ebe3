"""The study runner under careless use: small data, resuming the wrong study, damaged files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from shallowvision import ConfigError
from shallowvision.run import build_config, find_run, load_run_config, run_study
from test_cli import cli
from test_hostile import one_error_line

#: A short study: the stages that fit models on folds, without the slow analyses.
SHORT = {
    "data": {"dataset": "digits", "n_per_class": 20},
    "compare": {"models": ["lr", "nb"]},
    "tune": {"top": 1, "n_candidates": 4},
    "ensemble": {"methods": ["soft", "stack"], "size": 2},
    "eda": {"enabled": False},
    "select": {"enabled": False},
    "explain": {"enabled": False},
    "robustness": {"enabled": False},
    "calibrate": {"methods": ["isotonic", "sigmoid", "temperature"]},
}


def short(**data):
    return build_config(overrides={**SHORT, "data": {**SHORT["data"], **data}})


def stage(run_dir, name):
    return json.loads((run_dir / "stages" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return out, run_study(short(), out_dir=out, run_id="small")


# -- small data -------------------------------------------------------------------------------
def test_small_data_fits_calibrators_on_as_many_folds_as_it_allows(small_run):
    _, run_dir = small_run
    calibrate = stage(run_dir, "calibrate")["result"]
    assert [c["method"] for c in calibrate["comparisons"]] == ["isotonic", "sigmoid", "temperature"]
    assert calibrate["calibration_split"] < 50  # 2 to 4 images of each class
    ensemble = stage(run_dir, "ensemble")["result"]["comparison"]
    assert ensemble["methods"] == ["soft", "stack"] and ensemble["cv"] == 5
    assert (run_dir / "report.html").is_file()


def test_a_stage_the_data_cannot_support_is_skipped_with_its_reason(tmp_path):
    run_dir = run_study(short(n_per_class=1), out_dir=tmp_path, run_id="one")
    record = stage(run_dir, "tune")
    assert record["skipped"] == (
        "tuning needs at least 2 images of every class for cross-validation; class 0 has 1"
    )
    stack = stage(run_dir, "ensemble")["result"]["skipped"]
    assert stack == [
        {
            "method": "stack",
            "reason": "stacking needs at least 2 images of every class for cross-validation; "
            "class 0 has 1",
        }
    ]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["tune"]["status"] == "skipped"
    report = (run_dir / "report.html").read_text()
    assert "This stage was skipped: tuning needs at least 2 images of every class" in report
    assert "Stacking was skipped: stacking needs at least 2 images" in report


def test_halving_needs_two_images_per_class_and_fold(tmp_path):
    run_dir = run_study(short(n_per_class=2), out_dir=tmp_path, run_id="two")
    assert stage(run_dir, "tune")["skipped"] == (
        "tuning lr by successive halving with 2-fold cross-validation needs at least 40 "
        "training images (2 per class and fold), there are 20"
    )
    assert stage(run_dir, "final")["result"]["recommended"]


def test_three_class_folder_of_120_images_runs_through(tmp_path):
    rng = np.random.default_rng(0)
    for c in range(3):
        (tmp_path / "f" / f"c{c}").mkdir(parents=True)
        for i in range(40):
            pixels = rng.normal(60 + 60 * c, 30, (12, 12)).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "f" / f"c{c}" / f"{i}.png")
    config = build_config(
        overrides={**SHORT, "data": {"dataset": str(tmp_path / "f"), "n_per_class": None}}
    )
    run_dir = run_study(config, out_dir=tmp_path / "runs", run_id="f")
    methods = [c["method"] for c in stage(run_dir, "calibrate")["result"]["comparisons"]]
    assert methods == ["isotonic", "sigmoid", "temperature"]


# -- resuming into another study --------------------------------------------------------------
def test_resume_into_another_dataset_is_refused_and_changes_nothing(small_run, tmp_path):
    out, run_dir = small_run
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    folder = tmp_path / "other"
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((8, 8), 20 * i, np.uint8)).save(folder / c / f"{i}.png")
    other = load_run_config(run_dir, {"data": {"dataset": str(folder)}})
    with pytest.raises(ConfigError) as error:
        run_study(other, out_dir=out, run_id="small", resume=True)
    assert str(error.value) == (
        f"{run_dir}: resuming would change the study (data.dataset ('digits' -> '{folder}')); "
        "start it as a new run with another run_id="
    )
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before


def test_resume_with_another_seed_or_subsample_names_both(small_run):
    out, run_dir = small_run
    changed = load_run_config(run_dir, {"seed": 3, "data": {"n_per_class": 30}})
    with pytest.raises(ConfigError, match=r"data.n_per_class \(20 -> 30\); seed \(0 -> 3\)"):
        run_study(changed, out_dir=out, run_id="small", resume=True)


def test_cli_resume_into_another_study_is_one_line(small_run):
    out, _ = small_run
    run = cli("run", "fashion-mnist", "--out", str(out), "--run-id", "small", "--resume")
    line = one_error_line(run)
    assert "resuming would change the study (data.dataset ('digits' -> 'fashion-mnist')" in line


def test_resume_without_run_id_takes_the_newest_run_of_the_same_study(tmp_path):
    other = tmp_path / "runs"
    (other / "older").mkdir(parents=True)
    (other / "older" / "config.json").write_text(json.dumps(short().model_dump(mode="json")))
    newer = short(n_per_class=30).model_dump(mode="json")
    (other / "newer").mkdir()
    (other / "newer" / "config.json").write_text(json.dumps(newer))
    os.utime(other / "older" / "config.json", (1e9, 1e9))
    # The newest run is another study (30 per class): the older one of this study is chosen.
    assert find_run(other, None, {"data": {"n_per_class": 20}}) == other / "older"
    assert find_run(other, None, {}) == other / "newer"
    with pytest.raises(ConfigError, match=r"no run of this study to resume; the runs there differ"):
        find_run(other, None, {"data": {"dataset": "mnist"}})


def test_resume_on_changed_files_is_refused(tmp_path):
    folder = tmp_path / "shapes"
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((8, 8), 10 * i + 40 * (c == "b"), np.uint8)).save(
                folder / c / f"{i}.png"
            )
    config = build_config(
        overrides={
            **SHORT,
            "data": {"dataset": str(folder), "n_per_class": None},
            "tune": {"enabled": False},
            "ensemble": {"enabled": False},
            "calibrate": {"methods": ["temperature"]},
        }
    )
    run_dir = run_study(config, out_dir=tmp_path / "runs", run_id="s")
    for i in range(12, 15):
        Image.fromarray(np.full((8, 8), 3 * i, np.uint8)).save(folder / "a" / f"{i}.png")
    with pytest.raises(ConfigError, match=r"the dataset changed since the run began \(train split"):
        run_study(config, out_dir=tmp_path / "runs", run_id="s", resume=True)
    assert not (run_dir / "stages" / ".lock").exists()


# -- damaged files ----------------------------------------------------------------------------
def test_truncated_stage_file_is_named_by_report_and_redone_by_resume(small_run, tmp_path):
    import shutil

    _, run_dir = small_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    path = copy / "stages" / "errors.json"
    whole = path.read_text()
    path.write_text(whole[: len(whole) // 2])
    line = one_error_line(cli("report", str(copy)))
    assert line.startswith(f"error: {path}: damaged stage file (")
    assert line.endswith("`shallowvision run --resume` redoes the stage")
    events = []
    run_study(
        load_run_config(copy),
        out_dir=tmp_path,
        run_id="copy",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert [s for s, e in events if e == "done"] == ["errors"]
    assert json.loads(path.read_text())["result"] == json.loads(whole)["result"]


def test_resume_reads_the_first_format_and_redoes_a_stage_of_a_later_one(small_run, tmp_path):
    import shutil

    from shallowvision.report._records import STAGE_FORMAT

    _, run_dir = small_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    first = {}
    for path in (copy / "stages").glob("*.json"):
        record = json.loads(path.read_text())
        del record["format"]  # as the first format wrote it
        first[path.name] = json.dumps(record)
        path.write_text(first[path.name])
    errors = copy / "stages" / "errors.json"
    later = {**json.loads(errors.read_text()), "format": STAGE_FORMAT + 1}
    errors.write_text(json.dumps(later))
    events = []
    run_study(
        load_run_config(copy),
        out_dir=tmp_path,
        run_id="copy",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert [s for s, e in events if e == "done"] == ["errors"]
    redone = json.loads(errors.read_text())
    assert redone["format"] == STAGE_FORMAT and redone["result"] == later["result"]
    kept = {p.name: p.read_text() for p in (copy / "stages").glob("*.json") if p != errors}
    assert kept == {name: text for name, text in first.items() if name != errors.name}


def test_non_utf8_config_is_named(tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(b'seed = 1\nname = "caf\xe9"\n')
    line = one_error_line(cli("run", "digits", "--config", str(config), "--print-config"))
    assert line == (
        f"error: {config}: not UTF-8 text (byte 0xe9 at offset 20); TOML files are UTF-8"
    )


# -- smaller ones -----------------------------------------------------------------------------
@pytest.mark.parametrize("run_id", ["../../x", "a/b", "..", ".hidden", ""])
def test_run_id_stays_inside_out(tmp_path, run_id):
    out = tmp_path / "deep" / "runs"
    line = one_error_line(cli("run", "digits", "--out", str(out), "--run-id", run_id))
    assert line.startswith(f"error: --run-id {run_id!r}: give a plain folder name")
    assert not (tmp_path / "deep").exists() and not (tmp_path / "x").exists()


def test_unknown_model_is_refused_before_the_run_folder_exists(tmp_path):
    run = cli("run", "digits", "-m", "lr,rff", "--out", str(tmp_path / "runs"))
    line = one_error_line(run)
    assert "compare.models: Value error, unknown model 'rff': did you mean 'rf'?" in line
    assert not (tmp_path / "runs").exists()


def test_a_run_in_use_is_refused(small_run):
    import fcntl

    out, run_dir = small_run
    with open(run_dir / ".lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(
            ConfigError, match="another shallowvision run is working in this folder"
        ):
            run_study(load_run_config(run_dir), out_dir=out, run_id="small", resume=True)
    events = []
    run_study(
        load_run_config(run_dir),
        out_dir=out,
        run_id="small",
        resume=True,
        on_event=lambda s, e, d: events.append(e),
    )
    assert "done" not in events  # the lock is free again, and every stage had finished
