"""Feature transformers for flattened images; each knows the image shape it works on."""

from shallowvision.features._base import ImageShapeMixin, infer_image_shape
from shallowvision.features._scaling import PixelScaler

__all__ = ["ImageShapeMixin", "PixelScaler", "infer_image_shape"]
