"""Feature transformers for flattened images; each knows the image shape it works on."""

from typing import TYPE_CHECKING

from shallowvision._lazy import lazy_names
from shallowvision.features._keep import n_to_keep

if TYPE_CHECKING:
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

#: Where each name is defined, loaded on first use: the transformers load scikit-learn,
#: which a config or a command checking its arguments does not need.
_HOMES = {
    **dict.fromkeys(("ImageShapeMixin", "infer_image_shape"), "shallowvision.features._base"),
    **dict.fromkeys(("ChunkedPipeline", "remembered_inputs"), "shallowvision.features._chunked"),
    "ColorHistogram": "shallowvision.features._color",
    **dict.fromkeys(
        ("Deskewer", "deskew_images", "shear_images"), "shallowvision.features._deskew"
    ),
    **dict.fromkeys(("HOGTransformer", "hog_images"), "shallowvision.features._hog"),
    "RBFNystroem": "shallowvision.features._kernels",
    "PatchKMeansTransformer": "shallowvision.features._patches",
    "ImagePCA": "shallowvision.features._pca",
    "PixelScaler": "shallowvision.features._scaling",
    **dict.fromkeys(
        (
            "ModelSelector",
            "MutualInfoSelector",
            "PixelSelectorMixin",
            "RFESelector",
            "ShapSelector",
            "VarianceSelector",
            "get_selection_method_names",
            "make_selector",
        ),
        "shallowvision.features._select",
    ),
}

__getattr__ = lazy_names(__name__, _HOMES)
