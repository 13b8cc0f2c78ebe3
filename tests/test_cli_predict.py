"""predict on JPEG files and gzipped IDX arrays, written as CSV with the top-k classes."""

import csv
import gzip

import numpy as np
from PIL import Image

from conftest import write_idx
from shallowvision.cli import main
from shallowvision.datasets import load_splits
from shallowvision.datasets._readers import decode_image
from shallowvision.models import get_model
from shallowvision.persistence import save_model, training_provenance


def test_predict_jpeg_and_gzipped_idx_to_csv_with_top_k(tmp_path, capsys):
    splits = load_splits("digits", validation_size=0.1, random_state=0)
    model = get_model("nb").fit(splits.train.X, splits.train.y)
    path = save_model(
        model,
        tmp_path / "nb.skops",
        class_names=splits.train.class_names,
        image_shape=(8, 8),
        training_data=training_provenance(splits.train),
    )
    images = splits.test.images[:5]
    write_idx(tmp_path / "digits-idx3-ubyte.gz", images)
    assert gzip.decompress((tmp_path / "digits-idx3-ubyte.gz").read_bytes())[:4] == b"\0\0\x08\x03"
    big = Image.fromarray(images[0]).resize((32, 32)).convert("RGB")
    big.save(tmp_path / "zero.jpg", quality=95)
    out = tmp_path / "p.csv"
    code = main(
        [
            "predict",
            str(path),
            str(tmp_path / "zero.jpg"),
            str(tmp_path / "digits-idx3-ubyte.gz"),
            "--top-k",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["input"].rsplit("/", 1)[-1] for r in rows] == ["zero.jpg"] + [
        f"digits-idx3-ubyte.gz[{i}]" for i in range(5)
    ]
    assert [int(r["label"]) for r in rows[1:]] == model.predict(images.reshape(5, -1)).tolist()
    # The JPEG is read as training images are: grey, resized to the model's 8x8.
    jpeg = decode_image(tmp_path / "zero.jpg", (8, 8)).reshape(1, -1)
    assert int(rows[0]["label"]) == model.predict(jpeg)[0]
    proba = model.predict_proba(images.reshape(5, -1))
    top = np.argsort(-proba, axis=1)[:, :2]
    assert [r["top2_class_name"] for r in rows[1:]] == [
        str(splits.train.class_names[k]) for k in top[:, 1]
    ]
    assert [float(r["top1_probability"]) for r in rows[1:]] == np.round(
        proba.max(axis=1), 6
    ).tolist()
