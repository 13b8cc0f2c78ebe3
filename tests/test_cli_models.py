"""compare, tune, predict and models through the installed console script."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from shallowvision.datasets import load_splits
from shallowvision.persistence import read_manifest, training_provenance
from test_cli import cli


def test_models_lists_the_zoo():
    rows = {r["name"]: r for r in json.loads(cli("models", "--json").stdout)}
    assert rows["svm-linear"]["probabilities"] is False and rows["xgb"]["installed"] is True
    assert rows["rf"]["grids"] == ["default", "emnist"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """A comparison of nb and lr saved as JSON with its models: the command and its folder."""
    folder = tmp_path_factory.mktemp("compared")
    out = cli(
        "compare",
        "digits",
        "-m",
        "nb,lr",
        "--param",
        "lr.C=1.0",
        "--out",
        str(folder / "c.json"),
        "--save-models",
        str(folder / "models"),
    )
    return out, folder


def test_compare_writes_json_and_csv_and_saves_models(compared, tmp_path):
    out, folder = compared
    assert out.returncode == 0, out.stderr
    assert "best macro F1:" in out.stdout and "scored on 144 validation images" in out.stdout
    data = json.loads((folder / "c.json").read_text())
    assert data["evaluated_on"] == "validation" and [r["model"] for r in data["rows"]] == [
        "nb",
        "lr",
    ]
    assert data["rows"][1]["params"] == {"C": 1.0} and 0.9 < data["rows"][1]["accuracy"] <= 1
    assert sorted(p.name for p in (folder / "models").iterdir()) == ["lr.skops", "nb.skops"]
    # The model file records its training images and the row it was chosen by.
    manifest = read_manifest(folder / "models" / "lr.skops")
    train = load_splits("digits", validation_size=0.1, random_state=0).train
    assert manifest["name"] == "lr" and manifest["training_data"] == training_provenance(train)
    row = data["rows"][1]
    measured = {k: v for k, v in row.items() if k not in ("params", "error")}
    assert manifest["metrics"] == {"evaluated_on": "validation", **measured}
    csv = cli(
        "compare",
        "digits",
        "-m",
        "nb",
        "--task",
        "binary",
        "--positive",
        "8",
        "--test",
        "--out",
        str(tmp_path / "c.csv"),
    )
    assert csv.returncode == 0 and "scored on 359 test images (2 classes)" in csv.stdout
    header = (tmp_path / "c.csv").read_text().splitlines()[0]
    assert header.startswith(
        "model,status,accuracy,balanced_accuracy,precision_macro,recall_macro,f1_macro,roc_auc"
    )


def test_n_per_class_cuts_the_training_images_and_leaves_the_test_split_whole():
    small = cli("compare", "digits", "-m", "nb", "--n-per-class", "10", "--test")
    assert small.returncode == 0, small.stderr
    assert "trained on 100 images, scored on 359 test images" in small.stdout
    cut = cli(
        "compare", "digits", "-m", "nb", "--n-per-class", "10", "--test", "--test-n-per-class", "5"
    )
    assert cut.returncode == 0, cut.stderr
    assert "trained on 100 images, scored on 50 test images" in cut.stdout
    idle = cli("compare", "digits", "-m", "nb", "--test-n-per-class", "5")
    assert idle.returncode == 2 and idle.stderr.strip() == (
        "error: --test-n-per-class subsamples the test split: add --test to score on it"
    )


def test_compare_bad_input_is_one_line():
    out = cli("compare", "digits", "-m", "lr,xgbost")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1
    assert lines[0].startswith(
        "error: unknown model 'xgbost': did you mean 'xgb' or 'best'? models are dummy, lr"
    )
    binary = cli("compare", "digits", "--task", "binary")
    assert binary.returncode == 2 and "--task binary needs --positive" in binary.stderr
    bad_out = cli("compare", "digits", "-m", "nb", "--out", "/tmp/x.txt")
    assert bad_out.returncode == 2 and "--out must end in .json or .csv" in bad_out.stderr


def test_tune_prints_best_and_cost(tmp_path):
    out = cli(
        "tune",
        "digits",
        "--model",
        "lr",
        "--out",
        str(tmp_path / "t.json"),
        "--save",
        str(tmp_path / "lr.skops"),
    )
    assert out.returncode == 0, out.stderr
    assert "best parameters" in out.stdout and "clf__C =" in out.stdout and "lr tuned" in out.stdout
    assert "fits in" in out.stdout
    result = json.loads((tmp_path / "t.json").read_text())
    # A run's default search: 12 random candidates, a third kept each round.
    assert result["search"] == "halving-random" and result["n_candidates"] == [12, 4, 2]
    manifest = read_manifest(tmp_path / "lr.skops")
    train = load_splits("digits", validation_size=0.1, random_state=0).train
    assert manifest["name"] == "lr" and manifest["training_data"] == training_provenance(train)
    assert manifest["params"] == result["best_params"]
    # The same figures as a model compare saves, or a run.
    measured = {k: v for k, v in result["tuned"].items() if k not in ("params", "error")}
    assert manifest["metrics"] == {"evaluated_on": "validation", **measured}


def test_predict_images_arrays_and_errors(compared, tmp_path, digits):
    saved, folder = compared
    assert saved.returncode == 0, saved.stderr
    # The comparison's lr, copied: the folder predicted below holds this test's images only.
    shutil.copy(folder / "models" / "lr.skops", tmp_path)
    for i in range(3):
        Image.fromarray(digits.images[i]).resize((32, 32)).save(tmp_path / f"d{i}.png")
    np.savez(tmp_path / "x.npz", x_test=digits.images[:4])
    out = cli(
        "predict",
        str(tmp_path / "lr.skops"),
        str(tmp_path / "d0.png"),
        str(tmp_path / "x.npz"),
        "--out",
        str(tmp_path / "p.json"),
    )
    assert out.returncode == 0, out.stderr
    preds = json.loads((tmp_path / "p.json").read_text())["predictions"]
    assert [p["input"].rsplit("/", 1)[-1] for p in preds] == [
        "d0.png",
        "x.npz[0]",
        "x.npz[1]",
        "x.npz[2]",
        "x.npz[3]",
    ]
    assert [p["label"] for p in preds[1:]] == digits.labels[:4].tolist()
    assert (
        len(preds[0]["top"]) == 3 and abs(sum(t["probability"] for t in preds[0]["top"])) <= 1.0001
    )
    table = cli("predict", str(tmp_path / "lr.skops"), str(tmp_path))
    assert table.returncode == 0 and "3 images" in table.stdout
    wrong = np.zeros((2, 28, 28), np.uint8)
    np.savez(tmp_path / "w.npz", x=wrong)
    bad = cli("predict", str(tmp_path / "lr.skops"), str(tmp_path / "w.npz"))
    assert bad.returncode == 2 and "images are 28x28 but the model expects 8x8" in bad.stderr
    missing = cli("predict", str(tmp_path / "none.skops"), str(tmp_path / "d0.png"))
    assert missing.returncode == 2 and "model file not found" in missing.stderr


def test_csv_keeps_integers_and_writes_parameters_as_json(tmp_path):
    import csv

    from shallowvision._io import write_table

    rows = [
        {"model": "a", "size_bytes": 10666, "accuracy": 0.5, "params": {"C": 1.0}},
        {"model": "b", "size_bytes": None, "accuracy": None, "params": {}},
    ]
    write_table(tmp_path / "t.csv", {}, rows)
    written = list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))
    assert written[0] == {
        "model": "a",
        "size_bytes": "10666",
        "accuracy": "0.5",
        "params": '{"C": 1.0}',
    }
    assert written[1]["size_bytes"] == "" and json.loads(written[1]["params"]) == {}
