"""Feature transformers for flattened images; each knows the image shape it works on."""

from shallowvision.features._base import ImageShapeMixin, infer_image_shape
from shallowvision.features._chunked import ChunkedPipeline, remembered_inputs
from shallowvision.features._color import ColorHistogram
from shallowvision.features._deskew import Deskewer, deskew_images, shear_images
from shallowvision.features._hog import HOGTransformer, hog_images
from shallowvision.features._kernels import RBFNystroem
from shallowvision.features._patches import PatchKMeansTransformer
from shallowvision.features._pca import ImagePCA
from shallowvision.features._scaling import PixelScaler
from shallowvision.features._select import (
    ModelSelector,
    MutualInfoSelector,
    PixelSelectorMixin,
    RFESelector,
    ShapSelector,
    VarianceSelector,
    get_selection_method_names,
    make_selector,
    n_to_keep,
)

__all__ = [
    "ChunkedPipeline",
    "ColorHistogram",
    "Deskewer",
    "HOGTransformer",
    "ImagePCA",
    "ImageShapeMixin",
    "ModelSelector",
    "MutualInfoSelector",
    "PatchKMeansTransformer",
    "PixelScaler",
    "PixelSelectorMixin",
    "RBFNystroem",
    "RFESelector",
    "ShapSelector",
    "VarianceSelector",
    "deskew_images",
    "get_selection_method_names",
    "hog_images",
    "infer_image_shape",
    "make_selector",
    "n_to_keep",
    "remembered_inputs",
    "shear_images",
]
