"""evaluate and calibrate: a saved model on its dataset, through the library and the command line.

The command line runs in-process through ``main`` (the console script's function),
except for one run of each command through the installed script itself.
"""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from shallowvision import DataError
from shallowvision.cli import main
from shallowvision.datasets import load_splits
from shallowvision.evaluation import (
    compare_calibration,
    evaluate_model,
    evaluate_predictions,
    evaluate_robustness,
    reliability_diagram,
    save_calibrated_model,
    save_evaluation,
)
from shallowvision.inference import calibration_splits, held_out_for_model, load_for_model
from shallowvision.models import get_model
from shallowvision.persistence import load_model, save_model, training_provenance
from test_cli import cli


def run(capsys, *args):
    """``shallowvision ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _save(model, path, train):
    return save_model(
        model,
        path,
        class_names=train.class_names,
        image_shape=train.image_shape,
        name=path.stem,
        training_data=training_provenance(train),
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Models trained as ``compare --save-models`` trains them: train less a 10% validation split."""
    folder = tmp_path_factory.mktemp("models")
    splits = load_splits("digits", validation_size=0.1, random_state=0)
    binary = load_splits("digits", validation_size=0.1, random_state=0, positive="8")
    whole = load_splits("digits", validation_size=None)
    fitted = {
        "lr": (get_model("lr").fit(splits.train.X, splits.train.y), splits.train),
        "nb": (get_model("nb").fit(splits.train.X, splits.train.y), splits.train),
        "svm": (get_model("svm-linear").fit(splits.train.X, splits.train.y), splits.train),
        "eight": (get_model("lr").fit(binary.train.X, binary.train.y), binary.train),
        "all": (get_model("nb").fit(whole.train.X, whole.train.y), whole.train),
    }
    paths = {name: _save(m, folder / f"{name}.skops", data) for name, (m, data) in fitted.items()}
    return paths, splits, binary


def test_evaluate_model_is_evaluate_predictions_of_its_probabilities(models):
    paths, splits, _ = models
    lr, nb = load_model(paths["lr"]), load_model(paths["nb"])
    ev = evaluate_model(
        lr.estimator, splits.test, model_name="lr", other_models={"nb": nb.estimator}
    )
    proba = lr.estimator.predict_proba(splits.test.X)
    reference = evaluate_predictions(
        splits.test.labels,
        proba,
        class_names=splits.test.class_names,
        images=splits.test.images,
        model_name="lr",
        other_predictions={"nb": nb.estimator.predict(splits.test.X)},
    )
    assert ev.to_dict() == reference.to_dict()
    test = ev.comparisons[0]
    lr_right = lr.estimator.predict(splits.test.X) == splits.test.labels
    nb_right = nb.estimator.predict(splits.test.X) == splits.test.labels
    assert (test.only_a_correct, test.only_b_correct) == (
        int(np.sum(lr_right & ~nb_right)),
        int(np.sum(~lr_right & nb_right)),
    )
    with pytest.raises(DataError, match="svm gives decision scores, not probabilities"):
        evaluate_model(load_model(paths["svm"]).estimator, splits.test, model_name="svm")


def test_calibrating_decision_scores_has_only_an_accuracy_before(models):
    paths, splits, _ = models
    svm = load_model(paths["svm"]).estimator
    calibration, measured = splits.validation, splits.test
    result = compare_calibration(svm, calibration, measured, method="sigmoid", n_bins=10)
    before = {m: v["before"] for m, v in result.table.items()}
    assert before.pop("accuracy") == pytest.approx(
        skm.accuracy_score(measured.y, svm.predict(measured.X))
    )
    assert set(before.values()) == {None} and result.before is None
    after = result.calibrator.predict_proba(measured.X)
    assert result.table["ece"]["after"] == pytest.approx(
        reliability_diagram(measured.y, after, n_bins=10).ece
    )


def test_held_out_split_is_checked_against_the_training_images(models):
    paths, splits, binary = models
    lr = load_model(paths["lr"])
    held = held_out_for_model(lr, "digits")
    assert held.fingerprint() == splits.validation.fingerprint() and held.split == "validation"
    eight = held_out_for_model(load_model(paths["eight"]), "digits")
    assert (
        eight.class_names == ("not 8", "8")
        and eight.fingerprint() == binary.validation.fingerprint()
    )
    with pytest.raises(DataError, match="trained on the whole training split of digits"):
        held_out_for_model(load_model(paths["all"]), "digits")
    with pytest.raises(
        DataError,
        match="give the validation_size=, n_per_class= and random_state= it was trained with",
    ):
        held_out_for_model(lr, "digits", validation_size=0.2)
    assert len(held_out_for_model(lr, "digits", validation_size=0.2, check=False)) == 288


def test_calibration_splits_never_fit_on_training_or_test_images(models):
    paths, splits, _ = models
    lr = load_model(paths["lr"])
    calibration, measured = calibration_splits(lr, "digits")
    halves = splits.validation.split_off(0.5, random_state=0, name="held-out")
    assert [d.fingerprint() for d in (calibration, measured)] == [h.fingerprint() for h in halves]
    assert measured.split == "held-out" and len(calibration) + len(measured) == 144
    calibration, measured = calibration_splits(lr, "digits", test=True)
    assert calibration.fingerprint() == splits.validation.fingerprint()
    assert measured.fingerprint() == splits.test.fingerprint() and measured.split == "test"
    with pytest.raises(DataError, match="trained on the whole training split"):
        calibration_splits(load_model(paths["all"]), "digits")


def test_evaluation_document_and_calibrated_model_file(models, tmp_path):
    paths, splits, _ = models
    lr = load_model(paths["lr"])
    evaluation = evaluate_model(lr.estimator, splits.test, model_name="lr")
    corrupted = evaluate_robustness(
        lr.estimator, splits.test.images, splits.test.labels, severities=(1,)
    )
    written = save_evaluation(
        evaluation,
        tmp_path / "ev",
        model_file=paths["lr"],
        dataset="digits",
        split="test",
        robustness=corrupted,
    )
    document = json.loads(written["evaluation"].read_text())
    assert list(document)[:3] == ["model_file", "dataset", "split"]
    assert document["model_file"] == str(paths["lr"]) and document["split"] == "test"
    assert document["robustness"] == json.loads(json.dumps(corrupted.to_dict()))
    assert {"roc", "confusion", "robustness"} <= set(written)
    assert all(p.parent == tmp_path / "ev" and p.stat().st_size for p in written.values())
    calibration, measured = calibration_splits(lr, "digits")
    comparison = compare_calibration(lr.estimator, calibration, measured, method="isotonic")
    path = save_calibrated_model(
        comparison,
        tmp_path / "iso.skops",
        model=lr,
        calibrated_on=calibration,
        measured_on=measured,
    )
    manifest = load_model(path).manifest
    assert manifest["name"] == "lr (isotonic)" and manifest["metrics"]["n_images"] == 72
    assert manifest["calibration"]["model_file"] == str(paths["lr"])
    assert manifest["calibration"]["data"]["fingerprint"] == calibration.fingerprint()
    assert manifest["training_data"] == lr.manifest["training_data"]


def test_load_for_model_gives_the_models_task_or_refuses(models, small_arrays, tmp_path):
    paths, _, binary = models
    eight = load_for_model(load_model(paths["eight"]), "digits")
    assert eight.fingerprint() == binary.test.fingerprint()
    images, labels = small_arrays
    np.savez(tmp_path / "d.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    with pytest.raises(DataError, match="predicts the classes 0, 1, 2, 3"):
        load_for_model(load_model(paths["lr"]), tmp_path / "d.npz")


def test_cli_evaluate_binary_model_with_costs(models, tmp_path, capsys):
    paths, _, binary = models
    out = tmp_path / "ev"
    code, _, err = run(
        capsys, "evaluate", paths["eight"], "digits", "--out", out, "--compare", paths["all"]
    )
    # The multiclass model cannot be compared with a binary one: refused before any work.
    assert code == 2 and "predicts other classes" in err and not out.exists()
    code, stdout, err = run(
        capsys, "evaluate", paths["eight"], "digits", "--out", out, "--costs", "1,5"
    )
    assert code == 0, err
    document = json.loads((out / "evaluation.json").read_text())
    model = load_model(paths["eight"]).estimator
    proba = model.predict_proba(binary.test.X)
    assert document["split"] == "test" and document["class_names"] == ["not 8", "8"]
    assert document["metrics"]["accuracy"] == pytest.approx(
        skm.accuracy_score(binary.test.y, proba.argmax(1))
    )
    assert document["metrics"]["ranking"]["roc_auc"]["per_class"][1] == pytest.approx(
        skm.roc_auc_score(binary.test.y, proba[:, 1])
    )
    (point,) = document["operating_points"]
    assert point["label"] == "8" and point["criterion"] == "costs"
    assert point["cost"] == point["fp"] * 1 + point["fn"] * 5
    positive, scores = binary.test.y == 1, proba[:, 1]
    costs = [
        np.sum((scores >= t) & ~positive) + 5 * np.sum((scores < t) & positive) for t in scores
    ]
    assert point["cost"] == min(costs)
    pngs = {p.name for p in out.glob("*.png")}
    assert {"roc.png", "pr.png", "thresholds.png", "reliability.png", "confusion.png"} <= pngs
    assert "accuracy [95% CI]" in stdout and "Operating points" in stdout


def test_console_script_evaluate(models, tmp_path):
    paths, splits, _ = models
    result = cli("evaluate", str(paths["lr"]), "digits", "--out", str(tmp_path), "--no-figures")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "evaluation.json").read_text())
    assert document["model_file"] == str(paths["lr"]) and document["n_samples"] == len(splits.test)
    assert not list(tmp_path.glob("*.png")) and "wrote" in result.stdout


def test_cli_evaluate_rejects_bad_targets(models, tmp_path, capsys):
    paths, _, _ = models
    code, _, err = run(
        capsys,
        "evaluate",
        paths["lr"],
        "digits",
        "--out",
        tmp_path,
        "--threshold",
        "0.5",
        "--min-precision",
        "0.9",
    )
    assert code == 2 and "at most one of --threshold, --min-precision and --costs" in err
    code, _, err = run(capsys, "evaluate", paths["lr"], "digits", "--out", tmp_path, "--costs", "1")
    assert code == 2 and "--costs '1' must be two numbers FP,FN" in err
    code, _, err = run(capsys, "evaluate", paths["svm"], "digits", "--out", tmp_path / "svm")
    assert code == 2 and "calibrate it first" in err and len(err.strip().splitlines()) == 1


def test_cli_calibrate_writes_a_model_that_evaluate_loads(models, tmp_path, capsys):
    paths, splits, _ = models
    out = tmp_path / "lr-t.skops"
    result = cli(
        "calibrate",
        str(paths["lr"]),
        "digits",
        "--method",
        "temperature",
        "--out",
        str(out),
        "--figure",
        str(tmp_path / "t.png"),
    )
    assert result.returncode == 0, result.stderr
    # The library on the same halves of the held-out split gives the printed table.
    calibration, measured = splits.validation.split_off(0.5, random_state=0, name="held-out")
    reference = compare_calibration(load_model(paths["lr"]).estimator, calibration, measured)
    for key in ("ece", "brier", "log_loss"):
        before, after = reference.table[key]["before"], reference.table[key]["after"]
        assert f"{before:.4f} │ {after:.4f}" in result.stdout
    assert f"temperature {reference.temperature:.4f}" in result.stdout
    calibrated = load_model(out)
    manifest = calibrated.manifest
    assert manifest["calibration"]["method"] == "temperature"
    assert manifest["calibration"]["data"]["fingerprint"] == calibration.fingerprint()
    assert manifest["training_data"]["fingerprint"] == splits.train.fingerprint()
    assert manifest["training_data"] == load_model(paths["lr"]).manifest["training_data"]
    assert manifest["name"] == "lr (temperature)"
    assert manifest["metrics"] == {
        "evaluated_on": measured.split,
        "n_images": len(measured),
        **{key: pytest.approx(value["after"]) for key, value in reference.table.items()},
    }
    np.testing.assert_allclose(
        calibrated.estimator.predict_proba(splits.test.X),
        reference.calibrator.predict_proba(splits.test.X),
    )
    assert (tmp_path / "t.png").stat().st_size > 10_000
    code, _, err = run(capsys, "evaluate", out, "digits", "--out", tmp_path / "ev", "--no-figures")
    assert code == 0, err
    code, _, err = run(capsys, "calibrate", out, "digits", "--out", tmp_path / "twice.skops")
    assert code == 2 and "already calibrated (temperature)" in err
    code, _, err = run(capsys, "calibrate", paths["all"], "digits", "--out", tmp_path / "x.skops")
    assert code == 2 and "no held-out images are left" in err
    code, _, err = run(
        capsys,
        "calibrate",
        paths["lr"],
        "digits",
        "--method",
        "platt",
        "--out",
        tmp_path / "x.skops",
    )
    assert code == 2
    assert "unknown --method 'platt'; choose one of isotonic, sigmoid, temperature" in err
    assert not (tmp_path / "x.skops").exists()
