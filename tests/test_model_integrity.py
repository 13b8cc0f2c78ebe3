"""Model files against deliberate changes: the manifest is sealed, validated, pinned and signed."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shallowvision.models import get_model
from shallowvision.persistence import (
    ModelFileError,
    load_model,
    read_manifest,
    save_model,
    seal_manifest,
    training_provenance,
)
from test_cli import cli
from test_hostile import one_error_line

MANIFEST = "shallowvision-manifest.json"
KEY = "k" * 32
EXAMPLES = int(os.environ.get("SHALLOWVISION_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def tiny(digits):
    return digits.subsample(n_per_class=12, random_state=0)


@pytest.fixture(scope="module")
def model_file(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "lr.skops"
    model = get_model("lr").fit(tiny.X, tiny.y)
    return save_model(
        model,
        path,
        class_names=tiny.class_names,
        image_shape=tiny.image_shape,
        name="lr",
        training_data=training_provenance(tiny),
    )


def rewrite(source, target, *, manifest=None, member=None, reseal=False):
    """Copy a model file, editing its manifest (``manifest(dict)``) or a payload member
    (``member(name, bytes)``); ``reseal`` recomputes the checksums as an attacker would."""
    from shallowvision.persistence._model_file import _payload_sha256

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename != MANIFEST:
                dst.writestr(item, member(item.filename, data) if member else data)
        edited = json.loads(src.read(MANIFEST))
    if manifest is not None:
        edited = manifest(edited)
    if reseal:
        with zipfile.ZipFile(target) as archive:
            edited["payload_sha256"] = _payload_sha256(archive)
        edited = seal_manifest(edited)
    with zipfile.ZipFile(target, "a") as dst:
        dst.writestr(MANIFEST, json.dumps(edited))
    return target


def with_class_name(manifest):
    return manifest | {"class_names": ["zero-TAMPERED", *manifest["class_names"][1:]]}


# -- the checksum covers the manifest ---------------------------------------------------------
def test_an_edited_class_name_is_refused(model_file, tmp_path):
    tampered = rewrite(model_file, tmp_path / "t.skops", manifest=with_class_name)
    with pytest.raises(ModelFileError, match="modified after it was saved"):
        load_model(tampered)


def test_edited_weights_with_a_recomputed_checksum_load_unless_pinned_or_signed(
    model_file, tmp_path, tiny, monkeypatch
):
    def constant_seven(name, data):
        if name.endswith(".npy") and b"float64" in data[:80]:
            return data[: len(data) // 2] + bytes(len(data) - len(data) // 2)
        return data

    forged = rewrite(model_file, tmp_path / "f.skops", member=constant_seven, reseal=True)
    # A checksum inside the file cannot show this: whoever changed it recomputed it.
    assert load_model(forged).predict(tiny.X).shape == (len(tiny),)
    pinned = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert load_model(model_file, expect_sha256=pinned).name == "lr"
    with pytest.raises(
        ModelFileError, match=f"SHA-256 is [0-9a-f]{{64}}, not the expected {pinned}"
    ):
        load_model(forged, expect_sha256=pinned)
    monkeypatch.setenv("SHALLOWVISION_MODEL_KEY", KEY)
    with pytest.raises(ModelFileError, match="not signed, and SHALLOWVISION_MODEL_KEY is set"):
        load_model(forged)


def test_signed_files_load_only_under_their_key(tiny, tmp_path, monkeypatch):
    model = get_model("nb").fit(tiny.X, tiny.y)
    monkeypatch.setenv("SHALLOWVISION_MODEL_KEY", KEY)
    path = save_model(
        model, tmp_path / "s.skops", class_names=tiny.class_names, image_shape=tiny.image_shape
    )
    assert read_manifest(path)["signature"]["algorithm"] == "hmac-sha256"
    np.testing.assert_array_equal(load_model(path).predict(tiny.X), model.predict(tiny.X))
    # Re-signed by someone without the key: the checksum is right, the signature is not.
    forged = rewrite(path, tmp_path / "r.skops", manifest=with_class_name, reseal=True)
    forged_manifest = read_manifest(forged) | {"signature": read_manifest(path)["signature"]}
    rewrite(forged, tmp_path / "r2.skops", manifest=lambda m: forged_manifest)
    with pytest.raises(ModelFileError, match="signature does not match SHALLOWVISION_MODEL_KEY"):
        load_model(tmp_path / "r2.skops")
    monkeypatch.setenv("SHALLOWVISION_MODEL_KEY", "another key of 32 bytes or more..")
    with pytest.raises(ModelFileError, match="signature does not match"):
        load_model(path)
    monkeypatch.delenv("SHALLOWVISION_MODEL_KEY")
    assert load_model(path).name == "model"  # without a key, a signed file loads as any other
    monkeypatch.setenv("SHALLOWVISION_MODEL_KEY", "short")
    with pytest.raises(Exception, match="SHALLOWVISION_MODEL_KEY is 5 bytes"):
        load_model(path)


def test_files_of_the_first_format_are_refused(model_file, tmp_path):
    old = rewrite(
        model_file,
        tmp_path / "v1.skops",
        manifest=lambda m: {k: v for k, v in m.items() if k != "checksum"} | {"format_version": 1},
    )
    with pytest.raises(ModelFileError, match="model format 1, whose checksum does not cover"):
        load_model(old)


def test_cli_pins_the_model_on_predict_evaluate_and_serve(model_file, tmp_path, tiny):
    from PIL import Image

    Image.fromarray(tiny.images[0]).save(tmp_path / "0.png")
    wrong = "0" * 64
    for command in (
        ["predict", str(model_file), str(tmp_path / "0.png")],
        ["evaluate", str(model_file), "digits", "--out", str(tmp_path / "ev")],
        ["serve", str(model_file), "--port", "1"],
    ):
        line = one_error_line(cli(*command, "--expect-sha256", wrong))
        assert line.endswith(f"not the expected {wrong}; refusing to load it"), line
    right = hashlib.sha256(model_file.read_bytes()).hexdigest()
    ok = cli("predict", str(model_file), str(tmp_path / "0.png"), "--expect-sha256", right)
    assert ok.returncode == 0, ok.stderr
    bad = one_error_line(
        cli("predict", str(model_file), str(tmp_path / "0.png"), "--expect-sha256", "xyz")
    )
    assert bad == "error: --expect-sha256 'xyz': expected 64 hex digits (sha256sum's output)"


# -- the manifest is validated before it is used ------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"image_shape": [100000, 100000], "n_features": 10**10},
            "image_shape.0: Input should be less than or equal to 2048",
        ),
        ({"class_names": None}, "class_names: Input should be a valid array"),
        ({"class_names": ["0"]}, "class_names: List should have at least 2 items"),
        ({"image_shape": ["8", 8]}, "image_shape.0: Input should be a valid integer"),
        ({"n_features": 65}, "n_features is 65 but image_shape 8x8 has 64"),
        ({"gives_proba": "yes"}, "gives_proba: Input should be a valid boolean"),
    ],
)
def test_manifest_fields_outside_the_schema_are_refused(model_file, tmp_path, edit, message):
    forged = rewrite(model_file, tmp_path / "m.skops", manifest=lambda m: m | edit, reseal=True)
    with pytest.raises(
        ModelFileError, match="the manifest does not fit the model file schema"
    ) as e:
        load_model(forged)
    assert message in str(e.value)


def test_class_count_must_be_the_models(model_file, tmp_path):
    forged = rewrite(
        model_file,
        tmp_path / "c.skops",
        manifest=lambda m: m | {"class_names": m["class_names"][:9]},
        reseal=True,
    )
    with pytest.raises(ModelFileError, match="manifest names 9 classes but the model predicts 10"):
        load_model(forged)


def test_cli_predict_and_serve_refuse_a_huge_manifest_in_one_line(model_file, tmp_path, tiny):
    from PIL import Image

    Image.fromarray(tiny.images[0]).save(tmp_path / "0.png")
    forged = rewrite(
        model_file,
        tmp_path / "huge.skops",
        manifest=lambda m: m | {"image_shape": [100000, 100000], "n_features": 10**10},
        reseal=True,
    )
    for command in (["predict", str(forged), str(tmp_path / "0.png")], ["serve", str(forged)]):
        line = one_error_line(cli(*command))
        assert "the manifest does not fit the model file schema (image_shape.0" in line


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["class_names", "image_shape", "n_features", "gives_proba", "name", "format_version",
     "training_data", "libraries", "estimator", "created", "signature", "version"]
)  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(FIELDS, JSON, min_size=1, max_size=3), st.booleans())
def test_any_forged_manifest_is_refused_or_describes_the_model(
    model_file, tmp_path, tiny, edits, drop
):
    """Whatever an attacker writes into the manifest (and reseals), loading gives either a
    ModelFileError of one line or a model whose manifest fits the schema and the model."""
    target = tmp_path / "forged.skops"

    def edit(manifest):
        if drop:
            return {k: v for k, v in manifest.items() if k not in edits}
        return manifest | edits

    rewrite(model_file, target, manifest=edit, reseal=True)
    try:
        saved = load_model(target)
    except ModelFileError as exc:
        assert "\n" not in str(exc)
        return
    h, w = saved.image_shape
    assert 1 <= h <= 2048 and 1 <= w <= 2048
    assert len(saved.class_names) == 10 and all(isinstance(c, str) for c in saved.class_names)
    assert saved.predict(tiny.X[:3]).shape == (3,)
