"""Feature transformers for flattened images; each knows the image shape it works on."""

from shallowvision.features._base import ImageShapeMixin, infer_image_shape
from shallowvision.features._kernels import RBFNystroem
from shallowvision.features._pca import ImagePCA
from shallowvision.features._scaling import PixelScaler

__all__ = ["ImagePCA", "ImageShapeMixin", "PixelScaler", "RBFNystroem", "infer_image_shape"]
