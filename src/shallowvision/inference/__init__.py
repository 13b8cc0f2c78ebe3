"""Inference on new images with a saved model: input decoding and top-k predictions."""

from shallowvision.inference._data import (
    calibration_splits,
    held_out_for_model,
    load_for_model,
    split_recipe,
)
from shallowvision.inference._inputs import (
    ImageTooLargeError,
    decode_upload,
    images_from_pixels,
    read_inputs,
    upload_pixels,
)
from shallowvision.inference._predict import Predictions, predict_top_k

__all__ = [
    "ImageTooLargeError",
    "Predictions",
    "calibration_splits",
    "decode_upload",
    "held_out_for_model",
    "images_from_pixels",
    "load_for_model",
    "predict_top_k",
    "read_inputs",
    "split_recipe",
    "upload_pixels",
]
