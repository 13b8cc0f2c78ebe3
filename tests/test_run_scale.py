"""Data-rich runs on small data: the comparison on a seeded subsample, the finalists refitted
on every training image, learning curves, and every subsample named."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest

from shallowvision import ConfigError
from shallowvision.models import get_model_spec
from shallowvision.persistence import load_model
from shallowvision.run import RunContext, build_config, load_run_config, run_study

#: Digits: 1,150 training images, compared on 400; a curve at 400, 678 and 1,150.
SCALED = {
    "data": {"dataset": "digits", "n_per_class": None, "max_held_out": 100},
    "compare": {"models": ["dummy", "lr", "nb", "knn"], "params": {"nb": {"var_smoothing": 0.1}}},
    "tune": {"top": 1, "n_candidates": 4},
    "ensemble": {"enabled": False},
    "select": {"enabled": False},
    "eda": {"enabled": False},
    "explain": {"n_explain": 50},
    "robustness": {"n_images": 60, "severities": [1]},
    "scale": {"max_images": 400, "finalists": 2, "curve_points": 3, "budget_seconds": None},
}
#: The fewest stages that reach the finalists.
MINIMAL = {
    "data": {"dataset": "digits", "n_per_class": None},
    "compare": {"models": ["dummy", "lr"]},
    **{s: {"enabled": False} for s in ("eda", "tune", "ensemble", "select", "explain")},
    **{s: {"enabled": False} for s in ("calibrate", "robustness", "errors")},
    "scale": {"max_images": 400, "finalists": 1, "curve_points": 3, "budget_seconds": None},
}


def stage(run_dir, name):
    return json.loads((run_dir / "stages" / f"{name}.json").read_text())["result"]


def section_text(run_dir, key):
    page = (run_dir / "report.html").read_text()
    found = re.search(rf'<section id="{key}">(.*?)</section>', page, re.DOTALL)
    if found is None:
        return None
    text = re.sub(r"<script.*?</script>|<[^>]+>", " ", found.group(1), flags=re.DOTALL)
    return re.sub(r"\s+", " ", text).replace("&ndash;", "-")


def overrides(base, **scale):
    return {**base, "scale": {**base["scale"], **scale}}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    config = build_config(overrides=SCALED)
    events = []
    run_dir = run_study(
        config, out_dir=out, run_id="scaled", on_event=lambda s, e, d: events.append((s, e))
    )
    return config, run_dir, events


def test_models_are_compared_on_the_seeded_subsample(scaled, tmp_path):
    config, run_dir, _ = scaled
    compare = stage(run_dir, "compare")
    data = stage(run_dir, "data")
    assert data["splits"]["train"]["n_images"] == 1150
    assert compare["comparison"]["n_train"] == 400
    subsample = compare["subsample"]
    assert (subsample["n_images"], subsample["of"], subsample["seed"]) == (400, 1150, 0)
    # The same configuration takes the same images; another seed, others.
    splits = RunContext(config, tmp_path / "a").splits
    assert splits.compared.fingerprint() == subsample["fingerprint"]
    share = splits.train.class_counts() * 400 / 1150
    assert abs(splits.compared.class_counts() - share).max() <= 1.5  # stratified
    other = RunContext(config.model_copy(update={"seed": 1}), tmp_path / "b").splits.compared
    assert len(other) == 400 and other.fingerprint() != subsample["fingerprint"]
    # Tuning searched the subsample, and the model files say what they were fitted on.
    search = stage(run_dir, "tune")["searches"][0]
    assert search["n_resources"][-1] <= 400
    # Its baseline, the default model on the same images, is the comparison's row, not a refit.
    (row,) = (r for r in compare["comparison"]["rows"] if r["model"] == search["model"])
    assert search["baseline"] == row
    lr = load_model(run_dir / "models" / "lr.skops").manifest["training_data"]
    assert (lr["n_images"], lr["subsample_of"], lr["subsample_seed"]) == (400, 1150, 0)
    assert lr["fingerprint"] == subsample["fingerprint"]


def test_held_out_splits_are_capped(scaled):
    _, run_dir, _ = scaled
    splits = stage(run_dir, "data")["splits"]
    assert splits["validation"]["n_images"] == splits["calibration"]["n_images"] == 100
    assert stage(run_dir, "compare")["comparison"]["n_eval"] == 100


def test_finalists_are_refitted_on_every_training_image_and_become_candidates(scaled):
    _, run_dir, _ = scaled
    result = stage(run_dir, "finalists")
    finalists = result["finalists"]
    assert len(finalists) == 2 and [f["status"] for f in finalists] == ["ok", "ok"]
    refits = [f["refit"] for f in finalists]
    assert refits == [f"{f['model']}-all" for f in finalists]
    # The best single models of the comparison and tuning, one per family, no baseline.
    assert {f["family"] for f in finalists} <= {"lr", "nb", "knn"}
    assert len({f["family"] for f in finalists}) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(refits) <= set(metrics["validation"])
    for refit in refits:
        trained = load_model(run_dir / "models" / f"{refit}.skops").manifest["training_data"]
        assert trained["n_images"] == 1150 and "subsample_of" not in trained
        assert trained["fingerprint"] == stage(run_dir, "data")["splits"]["train"]["fingerprint"]
    # Every later stage may pick them: they are ranked by the final stage.
    ranked = [r["name"] for r in stage(run_dir, "final")["ranking"]]
    assert set(refits) <= set(ranked)


def test_learning_curve_has_the_asked_sizes_ending_at_the_training_split(scaled):
    _, run_dir, _ = scaled
    result = stage(run_dir, "finalists")
    assert result["sizes"] == [400, 678, 1150]
    for finalist in result["finalists"]:
        curve = finalist["curve"]
        assert [p["n_images"] for p in curve] == [400, 678, 1150]
        assert all(p["status"] == "ok" and 0.5 < p["accuracy"] <= 1 for p in curve)
        assert all(0.5 < p["f1_macro"] <= 1 and p["fit_seconds"] > 0 for p in curve)
        # The ends are the compared model and the refit, as scored when they were offered.
        validation = json.loads((run_dir / "metrics.json").read_text())["validation"]
        assert curve[0]["accuracy"] == validation[finalist["model"]]["accuracy"]
        assert curve[-1]["accuracy"] == validation[finalist["refit"]]["accuracy"]
        # The last doubling starts at 575 images, read off the curve between 400 and 678.
        share = math.log(575 / 400) / math.log(678 / 400)
        start = curve[0]["accuracy"] + share * (curve[1]["accuracy"] - curve[0]["accuracy"])
        step = finalist["last_doubling"]
        assert (step["from"], step["to"], step["extended"]) == (575, 1150, False)
        assert step["gain"] == pytest.approx(100 * (curve[2]["accuracy"] - start), abs=1e-9)
    assert result["charts"] == ["learning-curve"]
    assert (run_dir / "figures" / "learning-curve.json").is_file()


def test_manifest_and_report_name_every_subsample(scaled):
    _, run_dir, _ = scaled
    manifest = json.loads((run_dir / "manifest.json").read_text())
    taken = {t["name"]: t for t in manifest["subsamples"]}
    assert {
        "validation split",
        "calibration split",
        "compared subsample",
        "learning-curve sets",
        "robustness images",
        "explained images",
    } <= set(taken)
    assert (taken["validation split"]["n_images"], taken["validation split"]["of"]) == (100, 144)
    assert (taken["compared subsample"]["n_images"], taken["compared subsample"]["of"]) == (
        400,
        1150,
    )
    assert taken["learning-curve sets"]["n_images"] == [400, 678, 1150]
    assert (taken["robustness images"]["n_images"], taken["robustness images"]["of"]) == (60, 100)
    assert taken["explained images"]["n_images"] == 50
    data = section_text(run_dir, "data")
    assert "Data and subsamples" in data
    assert "compared subsample train 400 1,150 0" in data
    assert "learning-curve sets train 400 / 678 / 1,150 1,150 0" in data
    assert "validation split validation 100 144 0 at most 100 images (data.max_held_out)" in data
    compare = section_text(run_dir, "compare")
    assert "fitted on 400 training images (a seeded stratified subsample of the 1,150" in compare
    # A model the configuration changed says how.
    assert (
        "Parameters set by the configuration ( compare.params ; the others are the zoo's "
        "defaults): nb: var_smoothing = 0.1." in compare
    )


def test_fitting_samples_of_chunked_pipelines_are_named(scaled, tmp_path):
    from shallowvision.datasets import load
    from shallowvision.models import get_model
    from shallowvision.run._candidates import _fitting_sample
    from shallowvision.run._scale import subsamples

    digits = load("digits")
    model = get_model("lr").set_params(fit_sample=300).fit(digits.X, digits.y)
    assert _fitting_sample(model) == {"n_images": 300, "of": 1438}
    assert _fitting_sample(get_model("lr").fit(digits.X, digits.y)) is None
    # A candidate that records one is listed with the run's seed.
    config, run_dir, _ = scaled
    copy = shutil.copytree(run_dir, tmp_path / "copy")
    record = json.loads((copy / "stages" / "finalists.json").read_text())
    record["result"]["candidates"][0]["metrics"]["fitting_sample"] = {"n_images": 9, "of": 1150}
    (copy / "stages" / "finalists.json").write_text(json.dumps(record))
    taken = {t.name: t.to_dict() for t in subsamples(RunContext(config, copy))}
    refit = record["result"]["candidates"][0]["name"]
    assert taken[f"fitting sample of {refit}"] | {"used_for": ""} == {
        "name": f"fitting sample of {refit}",
        "split": "train",
        "n_images": 9,
        "of": 1150,
        "seed": 0,
        "used_for": "",
    }


def test_report_shows_the_finalists_and_whether_more_data_helps(scaled):
    _, run_dir, _ = scaled
    text = section_text(run_dir, "finalists")
    result = stage(run_dir, "finalists")
    assert "compared on a seeded stratified subsample of 400 of the 1,150 training images" in text
    assert "accuracy, 400 macro F1, 400 accuracy, 1,150 macro F1, 1,150 fit s" in text
    for finalist in result["finalists"]:
        gain = finalist["last_doubling"]["gain"]
        assert (
            f"{finalist['model']} : {gain:+.2f} points of validation accuracy over the last "
            "doubling of the training images, from 575 (read off the curve) to 1,150:"
        ) in text
    assert "On the 100 validation images one accuracy near" in text
    assert 'id="chart-learning-curve"' in (run_dir / "report.html").read_text()
    sections = re.findall(r'<section id="([a-z]+)"', (run_dir / "report.html").read_text())
    assert sections.index("finalists") == sections.index("explain") + 1


def test_resume_keeps_a_finished_finalists_stage(scaled, tmp_path):
    _, run_dir, first = scaled
    assert ("finalists", "done") in first
    shutil.copytree(run_dir, tmp_path / "scaled")
    before = (tmp_path / "scaled" / "stages" / "finalists.json").read_text()
    events = []
    run_study(
        load_run_config(tmp_path / "scaled", {"robustness": {"severities": [2]}}),
        out_dir=tmp_path,
        run_id="scaled",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    done = [s for s, e in events if e == "done"]
    assert done == ["robustness", "report"]
    assert (tmp_path / "scaled" / "stages" / "finalists.json").read_text() == before
    # A change to the curve redoes the finalists and what chooses among them, not the comparison.
    events.clear()
    run_study(
        load_run_config(tmp_path / "scaled", {"scale": {"curve_points": 2}}),
        out_dir=tmp_path,
        run_id="scaled",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    done = [s for s, e in events if e == "done"]
    assert done == ["finalists", "calibrate", "robustness", "errors", "final", "report"]
    assert stage(tmp_path / "scaled", "finalists")["sizes"] == [400, 1150]


@pytest.mark.parametrize("curve", ["auto", "always"])
def test_small_data_compares_on_everything(tmp_path, curve):
    config = build_config(overrides=overrides(MINIMAL, max_images=20000, curve=curve))
    run_dir = run_study(config, out_dir=tmp_path, run_id="small")
    compare = stage(run_dir, "compare")
    assert compare["comparison"]["n_train"] == 1150 and compare["subsample"] is None
    result = stage(run_dir, "finalists")
    assert result["candidates"] == []
    taken = json.loads((run_dir / "manifest.json").read_text())["subsamples"]
    assert not list((run_dir / "models").glob("*-all.skops"))
    if curve == "auto":  # nothing changes
        assert taken == []
        assert result["finalists"] == [] and section_text(run_dir, "finalists") is None
        assert section_text(run_dir, "data") and "Data and subsamples" not in section_text(
            run_dir, "data"
        )
    else:  # a curve asked for: halving down from every image, nothing refitted
        assert result["sizes"] == [288, 575, 1150]
        assert [t["n_images"] for t in taken] == [[288, 575, 1150]]
        (finalist,) = result["finalists"]
        assert finalist["model"] == "lr" and finalist["status"] == "compared on all"
        assert [p["n_images"] for p in finalist["curve"]] == [288, 575, 1150]
        assert "The comparison used all 1,150 training images" in section_text(run_dir, "finalists")


def test_a_finalist_that_would_not_fit_in_memory_is_refused(tmp_path, monkeypatch):
    profile = get_model_spec("lr").memory
    # Enough for lr on 678 of digits' 64-pixel images, not on all 1,150.
    free = (profile.estimate(678, 64, 10) + profile.estimate(1150, 64, 10)) // 2
    assert get_model_spec("dummy").memory.estimate(400, 64, 10) < free
    monkeypatch.setenv("SHALLOWVISION_MEMORY", str(free))
    run_dir = run_study(build_config(overrides=MINIMAL), out_dir=tmp_path, run_id="tight")
    (finalist,) = stage(run_dir, "finalists")["finalists"]
    assert finalist["model"] == "lr" and finalist["status"] == "refused"
    assert finalist["refit"] is None and finalist["fit_seconds"] is None
    assert re.fullmatch(
        r"lr would need about \d+ MB to fit 1,150 images of 8x8 in 10 classes, and \d+ MB is "
        r"free: .*, or train on a Dask cluster",
        finalist["reason"],
    )
    assert [p["status"] for p in finalist["curve"]] == ["ok", "ok", "refused"]
    assert not (run_dir / "models" / "lr-all.skops").exists()
    assert "lr-all" not in json.loads((run_dir / "metrics.json").read_text())["validation"]
    text = section_text(run_dir, "finalists")
    assert "lr was not fitted on 1,150 images (refused: lr would need about" in text


def test_a_fit_expected_to_overrun_the_budget_is_not_started(tmp_path):
    config = build_config(overrides=overrides(MINIMAL, budget_seconds=1e-6))
    run_dir = run_study(config, out_dir=tmp_path, run_id="hurried")
    (finalist,) = stage(run_dir, "finalists")["finalists"]
    assert [p["status"] for p in finalist["curve"]] == ["ok", "over budget", "over budget"]
    assert finalist["status"] == "over budget" and finalist["refit"] is None
    assert re.fullmatch(
        r"a fit on 1,150 images is expected to take about \d+ s \(from its fit times on fewer "
        r"images\), and 0 s of scale.budget_seconds = 1e-06 are left",
        finalist["reason"],
    )


def test_a_finalist_fit_is_checked_against_its_budget_with_the_margin():
    # Nothing stops a fit once it has started: at 840,000 images a LightGBM finalist
    # expected at 608 s (linear from its last fit) took 1,072 s and overran the stage.
    import time
    import types

    from shallowvision.run._budget import MARGIN
    from shallowvision.run._scale import _refusal

    ctx = types.SimpleNamespace(
        splits=types.SimpleNamespace(train=types.SimpleNamespace(image_shape=(8, 8), n_classes=10)),
        config=build_config(overrides={"scale": {"budget_seconds": 90}}),
    )
    spec = get_model_spec("lr")
    measured = [(1000, 40.0)]  # linear: 80 s expected on 2,000 images
    started = time.perf_counter()
    refusal = _refusal(ctx, spec, 2000, measured, started, 90.0)
    assert 80 < 90 < 80 * MARGIN and refusal is not None
    assert refusal[0] == "over budget"
    assert refusal[1].startswith("a fit on 2,000 images is expected to take about 80 s")
    assert _refusal(ctx, spec, 2000, measured, started, 80 * MARGIN + 5) is None


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        ({"nope": 1}, "unknown key 'scale.nope'"),
        ({"max_images": 1}, "scale.max_images: Input should be greater than or equal to 2"),
        ({"curve": "sometimes"}, "scale.curve: Input should be 'auto', 'always' or 'never'"),
        ({"curve_points": 1}, "scale.curve_points: Input should be greater than or equal to 2"),
    ],
)
def test_invalid_scale_settings_name_the_key(scale, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(overrides={"scale": scale})
