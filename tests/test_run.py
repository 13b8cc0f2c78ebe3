import json
import shutil

import pytest

from shallowvision import ConfigError, DataError
from shallowvision.inference import held_out_for_model
from shallowvision.persistence import load_model, read_manifest
from shallowvision.run import PRESETS, build_config, load_run_config, run_study, to_toml

DIGITS = {
    "data": {"dataset": "digits", "n_per_class": None},
    "compare": {"models": ["dummy", "lr", "nb"]},
    "tune": {"top": 1, "n_candidates": 4},
}


def test_presets_file_and_overrides_merge_in_order(tmp_path):
    quick = build_config()
    assert quick.preset == "quick" and quick.data.n_per_class is None
    assert (quick.scale.max_images, quick.scale.finalists, quick.data.max_held_out) == (
        20000,
        1,
        20000,
    )
    standard = build_config(preset="standard")
    assert standard.data.n_per_class is None and "svm-rbf-approx" in standard.compare.models
    assert (standard.scale.max_images, standard.scale.finalists) == (60000, 2)
    (tmp_path / "run.toml").write_text(
        'preset = "standard"\nseed = 7\n[tune]\ntop = 4\n[compare.params.rf]\nn_estimators = 50\n'
    )
    config = build_config(file=tmp_path / "run.toml", overrides={"tune": {"cv": 5}})
    assert (config.preset, config.seed, config.tune.top, config.tune.cv) == ("standard", 7, 4, 5)
    assert config.compare.params == {"rf": {"n_estimators": 50}}
    assert build_config(preset="quick", file=tmp_path / "run.toml").preset == "quick"
    assert len(build_config(preset="full").compare.models) >= 14
    for pipeline in ("fast", "best"):
        config = build_config(preset=pipeline)
        assert config.compare.models == ["dummy", "lr", pipeline] and not config.tune.enabled


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
    with pytest.raises(ConfigError, match="unknown preset 'fastest'"):
        build_config(preset="fastest")
    assert set(PRESETS) == {"quick", "standard", "full", "fast", "best"}


def test_toml_round_trip_keeps_every_value(tmp_path):
    config = build_config(
        preset="standard", overrides={"compare": {"params": {"rf": {"n_estimators": 50}}}}
    )
    (tmp_path / "c.toml").write_text(to_toml(config))
    again = build_config(file=tmp_path / "c.toml")
    assert again == config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from shallowvision.run._context import RunContext

    out = tmp_path_factory.mktemp("runs")
    config = build_config(overrides=DIGITS)
    events = []
    # Models a stage starts with in memory: each stage loads the models it uses itself.
    held: dict[str, int] = {}
    load = RunContext.model

    def model(ctx, name):
        stage = next(s for s, e in reversed(events) if e == "start")
        held.setdefault(stage, len(ctx._models))
        DIGITS_LOADED.setdefault(stage, set()).add(name)
        return load(ctx, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RunContext, "model", model)
        run_dir = run_study(
            config, out_dir=out, run_id="a", on_event=lambda s, e, d: events.append((s, e))
        )
    DIGITS_HELD_MODELS.update(held)
    return config, out, run_dir, events


DIGITS_HELD_MODELS: dict[str, int] = {}
DIGITS_LOADED: dict[str, set[str]] = {}


def test_a_stage_starts_with_no_model_of_the_stages_before_it_in_memory(digits_run):
    assert len(DIGITS_HELD_MODELS) >= 3, DIGITS_HELD_MODELS
    assert set(DIGITS_HELD_MODELS.values()) == {0}, DIGITS_HELD_MODELS


def test_run_directory_layout_and_manifest(digits_run):
    config, _, run_dir, events = digits_run
    assert [s for s, e in events if e == "done"] == [
        "data",
        "eda",
        "compare",
        "tune",
        "ensemble",
        "select",
        "explain",
        "finalists",
        "calibrate",
        "robustness",
        "errors",
        "final",
        "report",
    ]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["config"]["data"]["dataset"] == "digits"
    assert set(manifest["data"]) == {"train", "calibration", "validation", "test"}
    assert (
        manifest["data"]["test"]["n_images"] == 359
        and len(manifest["data"]["train"]["fingerprint"]) == 64
    )
    assert all(v["status"] == "done" and v["seconds"] >= 0 for v in manifest["stages"].values())
    # Each stage's peak memory is that of a Python process with numpy loaded, at least.
    assert all(v["peak_memory"] > 50e6 for v in manifest["stages"].values())
    assert "scikit-learn" in manifest["libraries"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (
        set(metrics["validation"]) >= {"dummy", "lr", "nb"}
        and metrics["recommended"]["model"] in metrics["test"]
    )
    assert (run_dir / "models" / "lr.skops").is_file() and (
        run_dir / "predictions" / "lr.validation.npz"
    ).is_file()
    # A model file keeps the figures the run chose it by, and names the run.
    compared = json.loads((run_dir / "stages" / "compare.json").read_text())["result"]
    lr = next(c for c in compared["candidates"] if c["name"] == "lr")
    saved = read_manifest(run_dir / "models" / "lr.skops")
    assert saved["metrics"] == {"evaluated_on": "validation", **lr["metrics"]}
    assert saved["run"] == "a" and saved["training_data"]["n_images"] == 1150
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
    # The EDA feeds only the report: changing it reruns nothing else.
    events.clear()
    run_study(
        load_run_config(tmp_path / "a", {"eda": {"compare_class": "3"}}),
        out_dir=tmp_path,
        run_id="a",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert [s for s, e in events if e == "done"] == ["eda", "report"]
    eda = json.loads((tmp_path / "a" / "stages" / "eda.json").read_text())["result"]
    assert eda["eda"]["differences"]["compare_class"] == "3"
    # The level of the final choice is read by the final stage alone.
    events.clear()
    run_study(
        load_run_config(tmp_path / "a", {"objective": {"significance": 0.2}}),
        out_dir=tmp_path,
        run_id="a",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert [s for s, e in events if e == "done"] == ["final", "report"]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["recommended"]["level"] == 0.2


def test_stage_files_and_manifest_are_their_records(digits_run):
    from shallowvision.report._records import OUTPUTS, RunManifest, read_stage

    _, _, run_dir, _ = digits_run
    for stage in OUTPUTS:
        path = run_dir / "stages" / f"{stage}.json"
        stored = read_stage(path)
        assert stored is not None and isinstance(stored.output, OUTPUTS[stage])
        assert stored.to_dict() == json.loads(path.read_text()), stage
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert RunManifest.from_dict(manifest).to_dict() == manifest


def test_same_config_and_seed_give_identical_metrics(digits_run, tmp_path):
    config, _, run_dir, _ = digits_run
    again = run_study(config, out_dir=tmp_path, run_id="b")

    def quality(path):
        metrics = json.loads((path / "metrics.json").read_text())
        timing = ("fit_seconds", "predict_seconds_per_1000", "size_bytes")
        return {
            split: {m: {k: v for k, v in row.items() if k not in timing} for m, row in rows.items()}
            for split, rows in metrics.items()
            if split in ("validation", "test")
        }

    first, second = quality(run_dir), quality(again)
    # The recommended model among those within the noise may be chosen by measured speed,
    # and is scored on test with the two best by the metric: compare what both scored.
    common = first["test"].keys() & second["test"].keys()
    assert len(common) >= 2 and json.loads((run_dir / "metrics.json").read_text())["recommended"]
    assert {m: first["test"][m] for m in common} == {m: second["test"][m] for m in common}
    assert first["validation"] == second["validation"]


def test_existing_run_needs_resume(digits_run):
    config, out, _, _ = digits_run
    with pytest.raises(ConfigError, match="already exists; pass resume=True"):
        run_study(config, out_dir=out, run_id="a")


def _stored(run_dir, name, split):
    import numpy as np

    with np.load(run_dir / "predictions" / f"{name}.{split}.npz") as data:
        return {k: data[k] for k in data.files}


def test_calibration_stage_fits_on_calibration_and_measures_on_validation(digits_run):
    import numpy as np

    _, _, run_dir, _ = digits_run
    result = json.loads((run_dir / "stages" / "calibrate.json").read_text())["result"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert result["calibration_split"] == manifest["data"]["calibration"]["n_images"]
    assert result["n_evaluated"] == manifest["data"]["validation"]["n_images"]
    base = result["comparisons"][0]["model"]
    assert [c["method"] for c in result["comparisons"]] == ["temperature", "isotonic"]
    # The "after" figures are those of the calibrated candidate's stored validation predictions.
    for comparison in result["comparisons"]:
        stored = _stored(run_dir, f"{base}+{comparison['method']}", "validation")
        accuracy = float(np.mean(stored["scores"].argmax(axis=1) == stored["y_true"]))
        assert comparison["table"]["accuracy"]["after"] == pytest.approx(accuracy)
    # A calibrated model file says so, as calibrate's do, so it is not calibrated again.
    calibrated = load_model(run_dir / "models" / f"{base}+temperature.skops")
    record = calibrated.manifest["calibration"]
    assert record["method"] == "temperature" and record["model_file"] == f"models/{base}.skops"
    assert record["data"]["n_images"] == manifest["data"]["calibration"]["n_images"]
    assert record["table"] == result["comparisons"][0]["table"]
    with pytest.raises(DataError, match="is already calibrated"):
        held_out_for_model(calibrated, "digits")
    # A calibrated model predicts in its base's time plus the calibrator's: timed alone,
    # it repeated the base's prediction and its time differed from the base's by noise.
    validation = json.loads((run_dir / "metrics.json").read_text())["validation"]
    base_ms = validation[base]["predict_seconds_per_1000"]
    for comparison in result["comparisons"]:
        calibrated_ms = validation[f"{base}+{comparison['method']}"]["predict_seconds_per_1000"]
        assert base_ms <= calibrated_ms < base_ms + 0.05, (base_ms, calibrated_ms)
    # Temperature scaling never changes a prediction.
    before, after = (
        _stored(run_dir, base, "validation"),
        _stored(run_dir, f"{base}+temperature", "validation"),
    )
    assert np.array_equal(before["labels"], after["labels"])
    coverage = result["uncertainty"][0]["risk_coverage"]
    assert coverage["coverage"][-1] == pytest.approx(1.0)
    assert coverage["accuracy"][-1] == pytest.approx(
        float(np.mean(before["labels"] == before["y_true"]))
    )


def test_robustness_and_error_analysis_come_from_the_best_models(digits_run):
    import numpy as np

    _, _, run_dir, _ = digits_run
    robustness = json.loads((run_dir / "stages" / "robustness.json").read_text())["result"]
    errors = json.loads((run_dir / "stages" / "errors.json").read_text())["result"]
    assert {r["corruption"] for r in robustness["models"][0]["rows"]} == {
        "shift",
        "rotate",
        "gaussian_noise",
        "blur",
        "contrast",
        "invert",
    }
    stored = _stored(run_dir, errors["model"], "validation")
    counts = np.array(errors["confusion"]["counts"])
    assert counts.sum() == len(stored["y_true"])
    assert np.trace(counts) == int(np.sum(stored["labels"] == stored["y_true"]))
    for pair in errors["confused_pairs"]:
        assert counts[pair["true_index"], pair["predicted_index"]] == pair["count"]
    assert errors["model"] in errors["error_overlap"]["model_names"]
    for chart in errors["charts"].values():
        assert (run_dir / "figures" / f"{chart}.json").is_file()


def test_final_evaluation_is_written_from_test_predictions(digits_run):
    import numpy as np

    _, _, run_dir, _ = digits_run
    final = json.loads((run_dir / "stages" / "final.json").read_text())["result"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    stored = _stored(run_dir, final["recommended"], "test")
    assert evaluation["n_samples"] == len(stored["y_true"]) == 359
    assert evaluation["metrics"]["accuracy"] == pytest.approx(
        float(np.mean(stored["labels"] == stored["y_true"]))
    )
    assert final["evaluation"]["headline"]["accuracy"] == evaluation["metrics"]["accuracy"]


def test_recommendation_is_a_record_of_the_paired_comparison(digits_run):
    import html

    config, _, run_dir, _ = digits_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    chosen = metrics["recommended"]
    final = json.loads((run_dir / "stages" / "final.json").read_text())["result"]
    assert chosen["model"] == final["recommended"] and chosen["model"] in metrics["test"]
    assert chosen["metric"] == "f1_macro" and chosen["level"] == config.objective.significance
    assert chosen["n_images"] == 144 and chosen["n_resamples"] == 1000
    d = chosen["difference"]
    assert d["model"] == chosen["model"] and d["low"] <= d["difference"] <= d["high"]
    # Every compared model meets the objective; the leader is the best of them on validation.
    compared = {c["model"]: c for c in chosen["compared"]}
    values = {name: metrics["validation"][name]["f1_macro"] for name in compared}
    assert chosen["leader"] == max(values, key=values.get) == chosen["compared"][0]["model"]
    for c in chosen["compared"][1:]:
        assert c["low"] <= c["difference"] <= c["high"]
        assert c["worse"] == (c["high"] < 0)
        assert c["value"] - values[c["model"]] == pytest.approx(0, abs=1e-6)
    assert chosen["within_noise"] == [c for c in compared if not compared[c]["worse"]]
    assert chosen["model"] in chosen["within_noise"]
    assert chosen["rule"] in (
        "only candidate",
        "significantly best",
        "leader",
        "faster",
        "smaller",
        "better calibrated",
        "fewer steps",
    )
    # The report's summary gives the same reason, and the leader's place among the others.
    report = (run_dir / "report.html").read_text()
    assert f"is recommended among {len(final['ranking'])} candidate models: " in report
    assert html.escape(chosen["reason"]) in report
    assert f"The leader, {html.escape(chosen['leader'])}, has the highest validation" in report


def test_eda_stage_findings_and_charts(digits_run):
    _, _, run_dir, _ = digits_run
    eda = json.loads((run_dir / "stages" / "eda.json").read_text())["result"]
    assert eda["findings"][0].startswith("digits: 1,150 training and 359 test images of 8x8")
    assert eda["eda"]["balance"]["train_counts"] == [
        113,
        117,
        114,
        117,
        116,
        117,
        116,
        114,
        111,
        115,
    ]
    assert all((run_dir / "figures" / f"{c}.json").is_file() for c in eda["charts"])


def test_ensemble_stage_votes_with_the_fitted_members(digits_run):
    import numpy as np

    _, _, run_dir, _ = digits_run
    result = json.loads((run_dir / "stages" / "ensemble.json").read_text())["result"]
    members = result["comparison"]["members"]
    # One model per family, each giving probabilities (soft voting averages them).
    assert len(members) == 2 and {m.removesuffix("-tuned") for m in members} == {"lr", "nb"}
    assert [c["name"] for c in result["candidates"]] == ["soft-voting"]
    # Voting reuses the members as they were fitted: its probabilities are their mean.
    voted = _stored(run_dir, "soft-voting", "validation")
    mean = np.mean([_stored(run_dir, m, "validation")["scores"] for m in members], axis=0)
    np.testing.assert_allclose(voted["scores"], mean, rtol=1e-6)
    assert all((run_dir / "figures" / f"{c}.json").is_file() for c in result["charts"])


def test_select_stage_keeps_the_share_asked_and_offers_the_model(digits_run):
    import numpy as np

    config, _, run_dir, _ = digits_run
    result = json.loads((run_dir / "stages" / "select.json").read_text())["result"]
    selection = result["selection"]
    assert selection["method"] == config.select.method == "model"
    assert selection["n_kept"] == round(config.select.keep * 64) == np.sum(selection["mask"])
    assert selection["evaluated_on"] == "validation"
    # The offered pipeline (selector + model) gives the accuracy the selection reports.
    stored = _stored(run_dir, result["candidate_name"], "validation")
    assert selection["kept_pixels"]["accuracy"] == pytest.approx(
        float(np.mean(stored["labels"] == stored["y_true"]))
    )


def test_the_explained_model_is_chosen_without_loading_the_models_ranked_below_it(digits_run):
    from shallowvision.run._candidates import best_single
    from shallowvision.run._context import RunContext

    _, _, run_dir, _ = digits_run
    explained = json.loads((run_dir / "stages" / "explain.json").read_text())["result"]["model"]
    ctx = RunContext(load_run_config(run_dir), run_dir)
    ranked = [c.name for c in best_single(ctx, len(ctx.candidates()))]
    below = set(ranked[ranked.index(explained) + 1 :])
    assert below, ranked
    assert not below & DIGITS_LOADED["explain"], DIGITS_LOADED["explain"]


def test_explain_stage_explains_validation_images_exactly(digits_run):
    _, _, run_dir, _ = digits_run
    result = json.loads((run_dir / "stages" / "explain.json").read_text())["result"]
    explanation = json.loads((run_dir / "explanation.json").read_text())
    # The zoo's logistic regression: exact linear SHAP, contributions add up to the output.
    assert result["model"].removesuffix("-tuned") == "lr" and result["explainer"] == "linear"
    assert result["evaluated_on"] == explanation["split"] == "validation"
    assert result["additivity_error"] < 1e-6
    assert len(explanation["class_mean_abs"]) == 10 and len(explanation["class_mean_abs"][0]) == 8
    assert {"shap_classes", "importance"} <= set(result["charts"])
    assert all((run_dir / "figures" / f"{c}.json").is_file() for c in result["charts"].values())


def test_a_runs_model_finds_its_own_held_out_images_with_no_options(digits_run, tmp_path):
    """calibrate, evaluate --split validation and explain on a model of a run need no
    flags: the model file keeps the recipe of the run's splits."""
    import numpy as np

    from shallowvision.cli import main
    from shallowvision.inference import calibration_splits, load_for_model, split_recipe

    _, _, run_dir, _ = digits_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    saved = load_model(run_dir / "models" / "lr.skops")
    recipe = split_recipe(saved)
    assert recipe is not None and (recipe.dataset, recipe.seed) == ("digits", 0)
    validation = load_for_model(saved, "digits", "validation")
    assert validation.fingerprint() == manifest["data"]["validation"]["fingerprint"]
    fitted_on, measured = calibration_splits(saved, "digits")
    assert fitted_on.fingerprint() == manifest["data"]["calibration"]["fingerprint"]
    assert measured.fingerprint() == validation.fingerprint()
    # The stored validation predictions are of exactly these images.
    stored = _stored(run_dir, "lr", "validation")
    assert np.array_equal(stored["y_true"], validation.y)

    out = tmp_path / "lr-temperature.skops"
    assert (
        main(["calibrate", str(run_dir / "models" / "lr.skops"), "digits", "--out", str(out)]) == 0
    )
    assert load_model(out).manifest["calibration"]["data"]["n_images"] == len(fitted_on)
    folder = tmp_path / "evaluation"
    args = ["evaluate", str(run_dir / "models" / "lr.skops"), "digits", "--split", "validation"]
    assert main([*args, "--out", str(folder), "--no-figures"]) == 0
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["n_samples"] == len(validation) == 144


def test_a_runs_model_refuses_a_dataset_that_is_not_its_runs(digits_run, tmp_path):
    """The recipe cut from other images cannot give the model's training images: refused."""
    import numpy as np

    from shallowvision.inference import held_out_for_model

    _, _, run_dir, _ = digits_run
    saved = load_model(run_dir / "models" / "lr.skops")
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(1)
    keep = rng.permutation(len(digits.target))
    other = tmp_path / "other.npz"
    images = (digits.images[keep] * 16).clip(0, 255).astype(np.uint8)
    half = len(keep) // 2
    np.savez(
        other,
        x_train=images[half:],
        y_train=digits.target[keep][half:],
        x_test=images[:half],
        y_test=digits.target[keep][:half],
    )
    with pytest.raises(DataError, match="trained on other images than the splits its run cut"):
        held_out_for_model(saved, other)
