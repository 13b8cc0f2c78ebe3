"""Inference on new images with a saved model: input readers and top-k predictions."""

from shallowvision.inference._inputs import read_inputs
from shallowvision.inference._predict import Predictions, predict_top_k

__all__ = ["Predictions", "predict_top_k", "read_inputs"]
