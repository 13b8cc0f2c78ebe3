"""``ensemble``, ``select`` and ``explain`` through the installed console script."""

import json

import numpy as np
import pytest

from shallowvision.datasets import load
from shallowvision.models import get_model
from shallowvision.persistence import save_model, training_provenance
from test_cli import cli


def test_ensemble_prints_members_and_ensembles_and_writes_json(tmp_path):
    out = tmp_path / "ensemble.json"
    run = cli(
        "ensemble",
        "digits",
        "--members",
        "lr,nb",
        "--method",
        "soft,hard,stack",
        "--cv",
        "3",
        "--weights",
        "2,1",
        "--out",
        str(out),
        env={"COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stderr
    for name in ("lr", "nb", "soft voting", "hard voting", "stacking (lr)"):
        assert name in run.stdout
    assert "best member:" in run.stdout and "at least one is right on" in run.stdout
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["ensemble_rows"]] == [
        "soft voting",
        "hard voting",
        "stacking (lr)",
    ]
    assert data["weights"] == [2.0, 1.0] and data["n_eval"] == 144
    hard = data["ensemble_rows"][1]
    assert hard["roc_auc"] is None and 0.8 < hard["accuracy"] <= 1


def test_ensemble_binary_task(tmp_path):
    out = tmp_path / "ensemble.csv"
    run = cli(
        "ensemble",
        "digits",
        "--members",
        "lr,nb",
        "--method",
        "soft",
        "--task",
        "binary",
        "--positive",
        "8",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("model,status,accuracy") and len(lines) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--members", "svm-linear,rf", "--method", "soft"],
            "soft voting averages probabilities, but svm-linear",
        ),
        (["--members", "lr,nb", "--weights", "1,x"], "--weights must be numbers"),
        (["--members", "lr"], "at least two members"),
        (["--members", "lr,nb", "--method", "boost"], "unknown ensemble method 'boost'"),
        (["--members", "lr,nb", "--final", "svm"], "unknown final estimator 'svm'"),
    ],
)
def test_ensemble_errors_are_one_line(args, message):
    run = cli("ensemble", "digits", *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and run.stdout == ""


def test_select_reports_the_kept_pixels_and_writes_the_mask(tmp_path):
    run = cli(
        "select",
        "digits",
        "--method",
        "model",
        "--keep",
        "0.3",
        "--model",
        "rf",
        "--param",
        "n_estimators=20",
        "--out",
        str(tmp_path / "sel"),
        env={"COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stderr
    assert "kept 19 of 64 pixels (29.7%)" in run.stdout
    assert "all 64 pixels" in run.stdout and "19 kept pixels" in run.stdout
    mask_lines = [
        line for line in run.stdout.splitlines() if set(line) <= {"#", "."} and len(line) == 8
    ]
    assert len(mask_lines) == 8 and sum(line.count("#") for line in mask_lines) == 19
    data = json.loads((tmp_path / "sel" / "selection.json").read_text())
    assert data["n_kept"] == 19 and np.array(data["mask"]).sum() == 19
    assert data["all_pixels"]["model"] == "rf" and data["kept_pixels"]["fit_seconds"] > 0
    assert (tmp_path / "sel" / "mask.png").read_bytes()[:4] == b"\x89PNG"


def test_select_binary_task(tmp_path):
    out = tmp_path / "sel"
    run = cli(
        "select",
        "digits",
        "--method",
        "variance",
        "--keep",
        "10",
        "--model",
        "nb",
        "--task",
        "binary",
        "--positive",
        "8",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "selection.json").read_text())
    assert data["n_kept"] == 10 and data["kept_pixels"]["roc_auc"] > 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep", "0"], "keep must be a share in (0, 1) or a whole count >= 1, got 0.0"),
        (["--keep", "2.5"], "whole count"),
        (["--method", "lasso"], "unknown selection method 'lasso'"),
        (["--model", "forest"], "unknown model 'forest'"),
        (["--method", "mi", "--n-explain", "5"], "--n-explain applies to --method shap only"),
        (["--param", "lr.C=1"], "--param names models other than --model xgb"),
    ],
)
def test_select_errors_are_one_line(args, message):
    run = cli("select", "digits", *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    train = load("digits")
    paths = {}
    for name, data in (("rf", train), ("lr-8", train.one_vs_rest(8))):
        model = get_model(name.split("-")[0], n_estimators=20) if name == "rf" else get_model("lr")
        model.fit(data.X, data.y)
        paths[name] = save_model(
            model,
            folder / f"{name}.skops",
            class_names=data.class_names,
            image_shape=data.image_shape,
            name=name,
            training_data=training_provenance(data),
        )
    return paths


def test_explain_writes_json_and_pngs(saved_models, tmp_path):
    out = tmp_path / "explained"
    run = cli(
        "explain",
        str(saved_models["rf"]),
        "digits",
        "--out",
        str(out),
        "--n-explain",
        "40",
        "--index",
        "3",
        "--n-misclassified",
        "2",
        "--n-permutation",
        "80",
    )
    assert run.returncode == 0, run.stderr
    assert "tree SHAP (probability) on 40 images" in run.stdout
    data = json.loads((out / "explanation.json").read_text())
    assert data["explainer"] == "tree" and data["n_explain"] == 40 and data["split"] == "test"
    assert data["additivity_error"] < 1e-6
    assert np.array(data["class_mean_abs"]).shape == (10, 8, 8)
    assert [i["reason"] for i in data["images"]] == ["chosen", "misclassified", "misclassified"]
    assert data["images"][0]["index"] == 3 and data["permutation"]["n_images"] == 80
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "chosen.png",
        "importance.png",
        "misclassified.png",
        "shap_classes.png",
        "shap_direction.png",
    ]


def test_explain_a_one_vs_rest_model(saved_models, tmp_path):
    run = cli(
        "explain",
        str(saved_models["lr-8"]),
        "digits",
        "--out",
        str(tmp_path),
        "--n-explain",
        "30",
        "--no-permutation",
        "--n-misclassified",
        "0",
    )
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "explanation.json").read_text())
    assert data["class_names"] == ["not 8", "8"] and data["explainer"] == "linear"
    assert data["permutation"] is None and data["impurity"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "dev"], "unknown split 'dev'"),
        (["--index", "400"], "image index 400 is out of range 0..358"),
    ],
)
def test_explain_errors_are_one_line(saved_models, tmp_path, args, message):
    run = cli("explain", str(saved_models["rf"]), "digits", "--out", str(tmp_path / "x"), *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "x" / "explanation.json").exists()


def test_explain_loads_a_folder_at_the_size_the_model_was_trained_at(digits, tmp_path):
    """A folder of images is resized to the model's own size (here digits' 8x8, not the
    28x28 a folder is loaded at by default), as evaluate and calibrate load it."""
    from PIL import Image

    folder = tmp_path / "digits"
    for label in (0, 1, 7):
        (folder / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(digits.labels == label)[:40]:
            Image.fromarray(digits.images[i]).save(folder / str(label) / f"{i}.png")
    train = load(folder, image_size=(8, 8))
    model = get_model("lr").fit(train.X, train.y)
    path = save_model(model, tmp_path / "lr.skops", trained_on=train, name="lr")
    out = tmp_path / "explained"
    run = cli(
        "explain", str(path), str(folder), "--out", str(out), "--n-explain", "10",
        "--no-permutation", "--n-misclassified", "0",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "explanation.json").read_text())
    assert np.array(data["class_mean_abs"]).shape == (3, 8, 8)
    assert data["n_images"] == len(load(folder, "test", image_size=(8, 8))) == 24


def test_explain_refuses_a_missing_model(tmp_path):
    run = cli("explain", str(tmp_path / "none.skops"), "digits", "--out", str(tmp_path))
    assert run.returncode == 2 and "model file not found" in run.stderr
