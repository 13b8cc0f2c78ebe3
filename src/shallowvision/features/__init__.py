"""Feature transformers for flattened images; each knows the image shape it works on."""

from shallowvision.features._base import ImageShapeMixin, infer_image_shape
from shallowvision.features._deskew import Deskewer, deskew_images, shear_images
from shallowvision.features._hog import HOGTransformer, hog_images
from shallowvision.features._kernels import RBFNystroem
from shallowvision.features._pca import ImagePCA
from shallowvision.features._scaling import PixelScaler

__all__ = [
    "Deskewer",
    "HOGTransformer",
    "ImagePCA",
    "ImageShapeMixin",
    "PixelScaler",
    "RBFNystroem",
    "deskew_images",
    "hog_images",
    "infer_image_shape",
    "shear_images",
]
