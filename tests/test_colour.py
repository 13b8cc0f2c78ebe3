"""Colour kept, the working size chosen, and the image files real folders hold.

The colour task's three classes differ only in hue at equal luminance
(Y' = 0.299 R + 0.587 G + 0.114 B), so converting to grey leaves nothing to learn.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression

from shallowvision.datasets import decode_image, load, load_splits, read_image_folder
from shallowvision.datasets._convert import array_as, parse_image_size
from shallowvision.exceptions import ConfigError, DataError

#: Three hues of luma 120: red-ish, green-ish, blue-ish.
HUES = {"red": (220, 77.3, 77.3), "green": (77.4, 150, 77.4), "blue": (103.3, 103.3, 250)}


def luma(rgb):
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def write_hue_folder(root, per_class=40, side=16, seed=0):
    rng = np.random.default_rng(seed)
    for name, colour in HUES.items():
        assert abs(luma(np.array(colour)) - 120) < 0.1
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.array(colour) + rng.normal(0, 8, (side, side, 3))
            Image.fromarray(np.clip(pixels.round(), 0, 255).astype(np.uint8)).save(
                root / name / f"{i}.png"
            )
    return root


@pytest.fixture
def hues(tmp_path):
    return write_hue_folder(tmp_path / "hues")


def png_bytes(image, **options):
    buf = io.BytesIO()
    image.save(buf, format="PNG", **options)
    return buf.getvalue()


# -- the hue task -----------------------------------------------------------------------------
def test_hue_only_classes_are_learnt_in_colour_and_lost_in_grey(hues):
    colour = load_splits(hues, validation_size=None)
    grey = load_splits(hues, validation_size=None, color="gray")
    assert colour.train.images.shape[1:] == (16, 16, 3) and colour.train.color == "rgb"
    assert grey.train.images.shape[1:] == (16, 16) and grey.train.color == "gray"
    assert colour.train.X.shape[1] == 16 * 16 * 3 and colour.train.X.dtype == np.uint8

    # Grey: every class has the same mean grey level, and a model is at chance.
    means = [grey.train.images[grey.train.labels == c].mean() for c in range(3)]
    assert max(means) - min(means) < 1.5
    fit = LogisticRegression(max_iter=2000).fit(grey.train.X / 255, grey.train.y)
    assert fit.score(grey.test.X / 255, grey.test.y) < 0.6

    # Colour: the hue separates them.
    fit = LogisticRegression(max_iter=2000).fit(colour.train.X / 255, colour.train.y)
    assert fit.score(colour.test.X / 255, colour.test.y) >= 0.95


def test_a_zoo_model_fits_colour_pixels(hues):
    from shallowvision.models import get_model

    train, test = load(hues), load(hues, "test")
    model = get_model("lr").fit(train.X, train.y)
    assert (model.predict(test.X) == test.y).mean() >= 0.95


def test_grey_datasets_stay_grey_and_can_be_asked_for_in_colour(digits):
    assert load("digits").images.shape[1:] == (8, 8)
    rgb = load("digits", color="rgb")
    assert rgb.images.shape[1:] == (8, 8, 3)
    assert np.array_equal(rgb.images[..., 1], load("digits").images)


def test_colour_arrays_become_grey_as_pillow_converts_them():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 7, 9, 3), dtype=np.uint8)
    pillow = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in images])
    assert np.array_equal(array_as(images, "gray"), pillow)


def test_colour_npz_is_kept_and_converted(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (20, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", x_train=x, y_train=np.arange(20) % 2)
    assert load(tmp_path / "c.npz").images.shape[1:] == (6, 6, 3)
    assert load(tmp_path / "c.npz", color="gray").images.shape[1:] == (6, 6)


def test_imageset_shapes_fingerprints_and_subsets(hues):
    data = load(hues)
    assert data.image_shape == (16, 16, 3) and data.image_size == (16, 16)
    assert data.describe()["image_shape"] == [16, 16, 3]
    assert data.conversion == {"color": "rgb", "image_size": [16, 16], "resize": "stretch"}
    part = data.subsample(n_per_class=5)
    assert part.images.shape == (15, 16, 16, 3)
    rest, held = data.split_off(0.25)
    assert held.images.shape[1:] == (16, 16, 3) and len(rest) + len(held) == len(data)
    assert data.fingerprint() != load(hues, color="gray").fingerprint()
    with pytest.raises(DataError, match="needs grey images.*color='gray'"):
        data.check_gray("EDA")


# -- sizes and resize rules -------------------------------------------------------------------
def test_image_size_text_and_the_median_capped_at_64(tmp_path):
    assert parse_image_size("32") == (32, 32)
    assert parse_image_size("48x64") == (48, 64)
    assert parse_image_size(20) == (20, 20)
    assert parse_image_size("auto") == "auto" and parse_image_size("native") is None
    with pytest.raises(ConfigError, match="48y64"):
        parse_image_size("48y64")
    for cls, sizes in (("a", [(100, 200), (120, 240)]), ("b", [(110, 220), (90, 180)])):
        (tmp_path / "f" / cls).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            Image.new("RGB", (w, h), (10 * i, 80, 160)).save(tmp_path / "f" / cls / f"{i}.png")
    # Median 105x210, the longer side brought down to 64 with the aspect kept.
    assert load(tmp_path / "f", cache=False).images.shape[1:] == (32, 64, 3)
    assert load(tmp_path / "f", image_size="10x20", cache=False).images.shape[1:] == (10, 20, 3)


def test_pad_keeps_the_aspect_with_the_border_colour_and_crop_takes_the_centre():
    pixels = np.full((8, 16), 30, np.uint8)  # a wide image: border 30, a bright centre
    pixels[2:6, 6:10] = 250
    data = png_bytes(Image.fromarray(pixels))
    padded = decode_image(data, (16, 16), resize="pad")
    assert np.all(padded[:3] == 30) and np.all(padded[-3:] == 30)  # padding above and below
    assert padded[8, 8] > 200
    cropped = decode_image(data, (8, 8), resize="crop")
    assert np.array_equal(cropped, pixels[:, 4:12])  # the centre 8x8, unscaled
    stretched = decode_image(data, (8, 8))
    assert stretched.shape == (8, 8) and not np.array_equal(stretched, cropped)


# -- real files -------------------------------------------------------------------------------
def test_exif_orientation_is_applied():
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:, 8:] = 255  # left half dark, right half bright
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", quality=95, exif=exif)
    upright = decode_image(buf.getvalue(), None, color="rgb")
    assert upright.shape == (16, 8, 3)
    assert upright[:7].mean() < 20 and upright[9:].mean() > 235  # the left is now on top


def test_cmyk_jpeg_is_converted_to_its_colour():
    buf = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(buf, format="JPEG", quality=95)
    red = decode_image(buf.getvalue(), None, color="auto")
    assert red.shape == (8, 8, 3)
    assert np.allclose(red.reshape(-1, 3).mean(axis=0), (255, 0, 0), atol=6)
    grey = decode_image(buf.getvalue(), None, color="gray")
    assert abs(int(grey.mean()) - 76) <= 4  # 0.299 * 255


def test_16_bit_png_is_stretched_to_8_bits():
    values = np.tile(np.linspace(0, 4000, 16), (4, 1)).astype(np.uint16)
    data = png_bytes(Image.fromarray(values))
    grey = decode_image(data, None)
    assert grey.dtype == np.uint8 and grey.max() == 255 and grey.min() == 0
    assert np.allclose(grey[0], np.round(values[0] / 4000 * 255), atol=1)
    rgb = decode_image(data, None, color="rgb")
    assert np.array_equal(rgb[..., 0], grey) and np.array_equal(rgb[..., 2], grey)
    assert decode_image(data, None, color="auto").ndim == 2  # 16-bit grey is grey


def test_transparency_meets_a_white_background_in_colour_and_black_in_grey():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # 0: transparent, 1: red
    palette.putpixel((0, 0), 0)
    data = png_bytes(palette, transparency=0)
    rgb = decode_image(data, None, color="rgb")
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[1, 1].tolist() == [255, 0, 0]
    assert decode_image(data, None, color="gray")[0, 0] == 0

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = 200  # blue
    rgba[2:, :, 3] = 255  # the top half transparent
    data = png_bytes(Image.fromarray(rgba, "RGBA"))
    rgb = decode_image(data, None, color="auto")
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[3, 0].tolist() == [0, 0, 200]
    grey = decode_image(data, None, color="gray")
    assert grey[0, 0] == 0 and grey[3, 0] == round(0.114 * 200)


def test_a_truncated_file_is_named_or_skipped_and_listed(hues):
    bad = hues / "green" / "7.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DataError, match=r"7\.png: corrupt or unreadable image.*skip_bad=True"):
        load(hues)
    data = load(hues, skip_bad=True)
    assert len(data.skipped) == 1 and str(bad) in data.skipped[0]
    assert data.describe()["skipped"] == list(data.skipped)
    whole = len(load(hues, skip_bad=True)) + len(load(hues, "test", skip_bad=True))
    assert whole == 3 * 40 - 1
    # The cache holds the skipping load; a strict load still stops on the file.
    with pytest.raises(DataError, match=r"7\.png"):
        load(hues)
    images, labels, _ = read_image_folder(hues, image_size=(16, 16), skip_bad=True)
    assert len(images) == len(labels) == 3 * 40 - 1


def test_nested_train_and_test_folders_share_the_training_conversion(tmp_path):
    write_hue_folder(tmp_path / "d" / "train", per_class=10, side=16)
    write_hue_folder(tmp_path / "d" / "test", per_class=4, side=24, seed=1)
    train = load(tmp_path / "d")
    test = load(tmp_path / "d", "test")
    assert train.images.shape == (30, 16, 16, 3)
    assert test.images.shape == (12, 16, 16, 3)  # brought to the training size


def test_a_folder_of_train_alone_gets_a_carved_test_split(tmp_path):
    write_hue_folder(tmp_path / "d" / "train", per_class=10)
    assert len(load(tmp_path / "d")) + len(load(tmp_path / "d", "test")) == 30


def test_patches_of_real_photographs_load_in_colour(tmp_path):
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # china.jpg and flower.jpg, 427x640x3
    patches = {}
    for name, photo in zip(("china", "flower"), photos, strict=True):
        (tmp_path / "p" / name).mkdir(parents=True)
        for i in range(12):
            top, left = 32 * (i // 4) + 100, 32 * (i % 4) + 200
            patch = photo[top : top + 32, left : left + 32]
            patches[(name, i)] = patch
            Image.fromarray(patch).save(tmp_path / "p" / name / f"{i:02d}.png")
    data = load(tmp_path / "p", cache=False)
    assert data.color == "rgb" and data.images.shape[1:] == (32, 32, 3)
    images, labels, _ = read_image_folder(tmp_path / "p", image_size=None, color="auto")
    assert np.array_equal(images[0], patches[("china", 0)])  # PNG: the exact pixels
    assert np.array_equal(images[12], patches[("flower", 0)]) and labels[12] == 1


def test_the_cache_keeps_a_grey_and_a_colour_load_apart(hues, tmp_path):
    grey = load(hues, color="gray")
    colour = load(hues, color="rgb")
    assert grey.images.shape[1:] == (16, 16) and colour.images.shape[1:] == (16, 16, 3)
    again_grey, again_colour = load(hues, color="gray"), load(hues, color="rgb")
    assert isinstance(again_grey.images, np.memmap) and isinstance(again_colour.images, np.memmap)
    assert np.array_equal(again_grey.images, grey.images)
    assert np.array_equal(again_colour.images, colour.images)
    padded = load(hues, image_size="8x12", resize="pad")
    assert padded.images.shape[1:] == (8, 12, 3)
    assert load(hues, image_size="8x12", resize="crop").images.shape[1:] == (8, 12, 3)
    assert not np.array_equal(load(hues, image_size="8x12", resize="crop").images, padded.images)


# -- models remember the conversion -----------------------------------------------------------
def test_a_colour_model_file_converts_what_it_is_given(hues, tmp_path):
    from shallowvision.inference import decode_upload, load_for_model, read_inputs
    from shallowvision.models import get_model
    from shallowvision.persistence import load_model, read_manifest, save_model

    train = load(hues, image_size=12, resize="pad")
    model = get_model("lr").fit(train.X, train.y)
    path = save_model(model, tmp_path / "lr.skops", trained_on=train, name="lr")
    manifest = read_manifest(path)
    assert manifest["conversion"] == {"color": "rgb", "resize": "pad"}
    assert manifest["image_shape"] == [12, 12] and manifest["n_features"] == 12 * 12 * 3
    saved = load_model(path)
    assert saved.input_shape == (12, 12, 3)

    test = load_for_model(saved, hues)  # the folder's own size is 16: brought to 12, padded
    assert test.images.shape[1:] == (12, 12, 3)
    assert (saved.predict(test.images) == test.y).mean() >= 0.95

    _, images = read_inputs(
        [hues / "blue"], image_shape=saved.image_shape, color=saved.color, resize=saved.resize
    )
    assert images.shape == (40, 12, 12, 3)
    assert (saved.predict(images) == 0).all()  # classes sort as blue, green, red
    upload = decode_upload(
        (hues / "red" / "0.png").read_bytes(), image_shape=(12, 12), color="rgb", resize="pad"
    )
    _, one = read_inputs([hues / "red" / "0.png"], image_shape=(12, 12), color="rgb", resize="pad")
    assert np.array_equal(upload, one[0])  # an upload is converted as a file is


def test_a_grey_model_reads_a_colour_folder_in_grey(hues, tmp_path, digits):
    from shallowvision.inference import load_for_model
    from shallowvision.models import get_model
    from shallowvision.persistence import load_model, save_model

    grey = load(hues, color="gray", image_size=8)
    model = get_model("nb").fit(grey.X, grey.y)
    saved = load_model(save_model(model, tmp_path / "nb.skops", trained_on=grey, name="nb"))
    assert saved.color == "gray" and saved.input_shape == (8, 8)
    assert load_for_model(saved, hues).images.shape[1:] == (8, 8)


# -- the command line -------------------------------------------------------------------------
def cli(*args):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "shallowvision", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_data_info_shows_colour_and_the_options_work(hues):
    run = cli("data", "info", str(hues))
    assert run.returncode == 0, run.stderr
    assert "16x16x3 uint8 images" in run.stdout
    run = cli("data", "info", str(hues), "--color", "gray", "--image-size", "8x12", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["image_shape"] == [8, 12]


def test_cli_names_a_bad_file_in_one_line_and_skips_it_when_asked(hues):
    bad = hues / "red" / "3.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    run = cli("data", "info", str(hues))
    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0 and len(lines) == 1
    assert "3.png: corrupt or unreadable image" in lines[0] and "--skip-bad" in lines[0]
    run = cli("data", "info", str(hues), "--skip-bad")
    assert run.returncode == 0, run.stderr
    assert "skipped 1 unreadable image files" in run.stderr and str(bad) in run.stderr
