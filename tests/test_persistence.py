import json
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from conftest import FAST_PARAMS
from estimators_for_tests import Opaque
from shallowvision.exceptions import ConfigError
from shallowvision.models import get_model, get_model_names
from shallowvision.persistence import (
    ModelFileError,
    load_model,
    read_manifest,
    save_model,
    seal_manifest,
    training_provenance,
)


@pytest.fixture(scope="module")
def tiny(digits):
    return digits.subsample(n_per_class=12, random_state=0)


def save(model, path, data, **kw):
    return save_model(
        model,
        path,
        class_names=data.class_names,
        image_shape=data.image_shape,
        name="m",
        training_data=training_provenance(data),
        **kw,
    )


def test_round_trip_best_blended_above_its_svms_sample(tiny, tmp_path):
    model = get_model("best", clf__max_train=60).fit(tiny.X, tiny.y)
    assert model[-1].blended_ is not None
    loaded = load_model(save(model, tmp_path / "best.skops", tiny))
    np.testing.assert_array_equal(loaded.predict(tiny.X), model.predict(tiny.X))
    np.testing.assert_allclose(
        loaded.predict_scores(tiny.X)[0], model.decision_function(tiny.X), rtol=1e-5
    )


def test_round_trip_fast_in_kernel_ridge_cells(tiny, tmp_path):
    # Above 250,000 images fast's ridge is one per k-means cell; here forced on 120.
    model = get_model("fast", clf__n_cells=3, clf__n_components=60).fit(tiny.X, tiny.y)
    assert model[-1].n_cells_ == 3 and len(model[-1].cells_) == 3
    loaded = load_model(save(model, tmp_path / "fast.skops", tiny))
    np.testing.assert_array_equal(loaded.predict(tiny.X), model.predict(tiny.X))
    np.testing.assert_allclose(
        loaded.predict_scores(tiny.X)[0], model.decision_function(tiny.X), rtol=1e-5
    )


@pytest.mark.parametrize("name", get_model_names())
def test_round_trip_every_registered_model(name, tiny, tmp_path):
    model = get_model(name, **FAST_PARAMS.get(name, {})).fit(tiny.X, tiny.y)
    path = save(model, tmp_path / f"{name}.skops", tiny, metrics={"accuracy": 0.5})
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(tiny.X), model.predict(tiny.X))
    np.testing.assert_allclose(
        loaded.predict_scores(tiny.images)[0], loaded.predict_scores(tiny.X)[0]
    )
    assert loaded.class_names == list(tiny.class_names) and loaded.image_shape == (8, 8)


def test_manifest_contents(tiny, tmp_path):
    path = save(
        get_model("nb").fit(tiny.X, tiny.y), tmp_path / "nb.skops", tiny, metrics={"accuracy": 0.9}
    )
    manifest = read_manifest(path)
    assert manifest["format_version"] == 2 and manifest["n_features"] == 64
    assert manifest["training_data"]["fingerprint"] == tiny.fingerprint()
    assert manifest["training_data"]["class_counts"] == [12] * 10
    assert manifest["metrics"] == {"accuracy": 0.9}
    assert {"numpy", "scikit-learn", "skops", "python", "shallowvision"} <= set(
        manifest["libraries"]
    )


def test_the_manifest_describes_what_the_model_was_fitted_on(tiny, tmp_path):
    model = get_model("nb").fit(tiny.X, tiny.y)
    path = save_model(
        model,
        tmp_path / "nb.skops",
        trained_on=tiny,
        training_data={"subsample_of": 1797},
        evaluated_on="validation",
        metrics={"accuracy": 0.9},
    )
    manifest = read_manifest(path)
    assert manifest["class_names"] == list(tiny.class_names) and manifest["image_shape"] == [8, 8]
    assert manifest["training_data"] == {**training_provenance(tiny), "subsample_of": 1797}
    assert manifest["metrics"] == {"evaluated_on": "validation", "accuracy": 0.9}
    assert list(manifest["metrics"]) == ["evaluated_on", "accuracy"]
    # A model made from a saved one (calibrated, say) keeps its classes and training data.
    derived = read_manifest(save_model(model, tmp_path / "d.skops", trained_on=load_model(path)))
    assert derived["training_data"] == manifest["training_data"]
    assert derived["class_names"] == manifest["class_names"] and derived["metrics"] == {}
    with pytest.raises(ConfigError, match="trained_on, or class_names and image_shape"):
        save_model(model, tmp_path / "x.skops", class_names=tiny.class_names)


def test_untrusted_type_is_refused(tiny, tmp_path):
    model = Pipeline([("x", Opaque()), ("clf", get_model("nb").named_steps["clf"])]).fit(
        tiny.X / 255.0, tiny.y
    )
    path = save(model, tmp_path / "o.skops", tiny)
    with pytest.raises(
        ModelFileError, match=r"refusing to load untrusted types estimators_for_tests.Opaque"
    ):
        load_model(path)
    assert load_model(path, trusted=["estimators_for_tests.Opaque"]).estimator is not None


def test_tampered_file_is_refused(tiny, tmp_path):
    path = save(get_model("lr").fit(tiny.X, tiny.y), tmp_path / "lr.skops", tiny)
    tampered = tmp_path / "t.skops"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(".npy"):
                data = data[:-8] + np.float64(1e9).tobytes()
            dst.writestr(item, data)
    with pytest.raises(ModelFileError, match="modified after it was saved"):
        load_model(tampered)


def rewrite_manifest(path, target, **changes):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "shallowvision-manifest.json":
                manifest = json.loads(data)
                for key, value in changes.items():
                    manifest[key] = value
                # As that version would have written it: sealed.
                data = json.dumps(seal_manifest(manifest)).encode()
            dst.writestr(item, data)
    return target


def test_incompatible_versions_are_refused(tiny, tmp_path):
    path = save(get_model("nb").fit(tiny.X, tiny.y), tmp_path / "nb.skops", tiny)
    libs = read_manifest(path)["libraries"]
    old = rewrite_manifest(
        path, tmp_path / "old.skops", libraries={**libs, "scikit-learn": "0.24.2"}
    )
    with pytest.raises(ModelFileError, match=r"saved with scikit-learn 0.24.2 but .* is installed"):
        load_model(old)
    assert load_model(old, allow_version_mismatch=True).predict(tiny.X).shape == (120,)
    ours = rewrite_manifest(
        path, tmp_path / "ours.skops", libraries={**libs, "shallowvision": "0.0.9"}
    )
    with pytest.raises(ModelFileError, match=r"saved with shallowvision 0.0.9 but .* is installed"):
        load_model(ours)
    newer = rewrite_manifest(path, tmp_path / "new.skops", format_version=99)
    with pytest.raises(ModelFileError, match="model format 99, which this version"):
        load_model(newer)


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.skops").write_bytes(b"PK not really")
    with pytest.raises(ModelFileError, match="x.skops: not a readable model file"):
        load_model(tmp_path / "x.skops")
    with pytest.raises(ModelFileError, match="nope.skops: model file not found"):
        load_model(tmp_path / "nope.skops")
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("schema.json", "{}")
    with pytest.raises(ModelFileError, match="not a shallowvision model file"):
        read_manifest(plain)


def test_wrong_image_size_is_a_clear_error(tiny, tmp_path):
    loaded = load_model(save(get_model("nb").fit(tiny.X, tiny.y), tmp_path / "nb.skops", tiny))
    with pytest.raises(
        Exception,
        match=r"X has 784 features, but the model was trained on 8x8 images \(64 pixels\)",
    ):
        loaded.predict(np.zeros((2, 28, 28), np.uint8))


def test_save_is_atomic_when_the_model_cannot_be_written(tiny, tmp_path):
    target = tmp_path / "m.skops"
    target.write_bytes(b"previous")
    unserialisable = (i for i in range(3))  # a generator has no state skops can write
    with pytest.raises(TypeError):
        save(unserialisable, target, tiny)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.skops"]


@pytest.mark.parametrize("method", ["temperature", "sigmoid", "isotonic"])
def test_calibrated_models_round_trip(method, digits, tmp_path):
    from shallowvision.evaluation import calibrate

    train, calibration = digits.split_off(0.3, random_state=0)
    model = calibrate(
        get_model("lr").fit(train.X, train.y), calibration.X, calibration.y, method=method
    )
    loaded = load_model(save(model, tmp_path / "c.skops", train))
    np.testing.assert_allclose(
        loaded.predict_scores(calibration.X)[0], model.predict_proba(calibration.X)
    )
