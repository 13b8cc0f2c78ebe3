import json
import shutil

import pytest

from shallowvision import ConfigError
from shallowvision.run import PRESETS, build_config, load_run_config, run_study, to_toml

DIGITS = {
    "data": {"dataset": "digits", "n_per_class": None},
    "compare": {"models": ["dummy", "lr", "nb"]},
    "tune": {"top": 1, "n_candidates": 4},
}


def test_presets_file_and_overrides_merge_in_order(tmp_path):
    assert build_config().preset == "quick" and build_config().data.n_per_class == 2000
    standard = build_config(preset="standard")
    assert standard.data.n_per_class is None and "svm-rbf-approx" in standard.compare.models
    (tmp_path / "run.toml").write_text(
        'preset = "standard"\nseed = 7\n[tune]\ntop = 4\n[compare.params.rf]\nn_estimators = 50\n'
    )
    config = build_config(file=tmp_path / "run.toml", overrides={"tune": {"cv": 5}})
    assert (config.preset, config.seed, config.tune.top, config.tune.cv) == ("standard", 7, 4, 5)
    assert config.compare.params == {"rf": {"n_estimators": 50}}
    assert build_config(preset="quick", file=tmp_path / "run.toml").preset == "quick"
    assert len(build_config(preset="full").compare.models) >= 14


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tune": {"nope": 1}}, "unknown key 'tune.nope'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"data": {"task": "binary"}}, "needs data.positive"),
        ({"data": {"validation_size": 0.7}}, "data.validation_size: Input should be less than 0.5"),
        ({"objective": {"metric": "speed"}}, "objective.metric"),
    ],
)
def test_invalid_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(overrides=overrides)


def test_bad_toml_and_preset(tmp_path):
    (tmp_path / "bad.toml").write_text("[compare\nmodels = 1")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        build_config(file=tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        build_config(preset="fast")
    assert set(PRESETS) == {"quick", "standard", "full"}


def test_toml_round_trip_keeps_every_value(tmp_path):
    config = build_config(
        preset="standard", overrides={"compare": {"params": {"rf": {"n_estimators": 50}}}}
    )
    (tmp_path / "c.toml").write_text(to_toml(config))
    again = build_config(file=tmp_path / "c.toml")
    assert again == config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    config = build_config(overrides=DIGITS)
    events = []
    run_dir = run_study(
        config, out_dir=out, run_id="a", on_event=lambda s, e, d: events.append((s, e))
    )
    return config, out, run_dir, events


def test_run_directory_layout_and_manifest(digits_run):
    config, _, run_dir, events = digits_run
    assert [s for s, e in events if e == "done"][:2] == ["data", "compare"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["config"]["data"]["dataset"] == "digits"
    assert set(manifest["data"]) == {"train", "calibration", "validation", "test"}
    assert (
        manifest["data"]["test"]["n_images"] == 359
        and len(manifest["data"]["train"]["fingerprint"]) == 64
    )
    assert all(v["status"] == "done" and v["seconds"] >= 0 for v in manifest["stages"].values())
    assert "scikit-learn" in manifest["libraries"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (
        set(metrics["validation"]) >= {"dummy", "lr", "nb"}
        and metrics["recommended"] in metrics["test"]
    )
    assert (run_dir / "models" / "lr.skops").is_file() and (
        run_dir / "predictions" / "lr.validation.npz"
    ).is_file()
    assert load_run_config(run_dir) == config


def test_resume_skips_finished_stages_and_reruns_changed_ones(digits_run, tmp_path):
    config, _, run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "a")
    events = []
    run_study(
        config,
        out_dir=tmp_path,
        run_id="a",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert all(e == "skip" for _, e in events)
    changed = load_run_config(tmp_path / "a", {"tune": {"n_candidates": 3}})
    events.clear()
    run_study(
        changed,
        out_dir=tmp_path,
        run_id="a",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert dict(events)["data"] == "skip" and dict(events)["compare"] == "skip"
    assert dict(events)["tune"] == "done" and dict(events)["final"] == "done"


def test_same_config_and_seed_give_identical_metrics(digits_run, tmp_path):
    config, _, run_dir, _ = digits_run
    again = run_study(config, out_dir=tmp_path, run_id="b")

    def quality(path):
        metrics = json.loads((path / "metrics.json").read_text())
        timing = ("fit_seconds", "predict_seconds_per_1000", "size_bytes")
        return {
            split: {m: {k: v for k, v in row.items() if k not in timing} for m, row in rows.items()}
            for split, rows in metrics.items()
            if isinstance(rows, dict)
        }

    first = json.loads((run_dir / "metrics.json").read_text())
    assert quality(again) == quality(run_dir) and first["recommended"]


def test_existing_run_needs_resume(digits_run):
    config, out, _, _ = digits_run
    with pytest.raises(ConfigError, match="already exists; pass --resume"):
        run_study(config, out_dir=out, run_id="a")
