"""Inference on new images with a saved model: input decoding and top-k predictions."""

from shallowvision.inference._data import held_out_for_model, load_for_model
from shallowvision.inference._inputs import decode_upload, images_from_pixels, read_inputs
from shallowvision.inference._predict import Predictions, predict_top_k

__all__ = [
    "Predictions",
    "decode_upload",
    "held_out_for_model",
    "images_from_pixels",
    "load_for_model",
    "predict_top_k",
    "read_inputs",
]
