"""Explanations drawn in pixel space: SHAP values per pixel (tree, linear or model-agnostic
explainers), per-class mean ``|SHAP|`` images, per-image overlays for chosen and misclassified
images, and permutation- and impurity-importance images."""

from shallowvision.explain._display import OverlayDisplay, PixelMapDisplay
from shallowvision.explain._explain import (
    Explanation,
    ImageExplanation,
    PixelImportance,
    explain_model,
    impurity_importance,
    permutation_importance_image,
)
from shallowvision.explain._figures import explanation_figures, overlay_figure, pixel_map_figure
from shallowvision.explain._save import save_explanation
from shallowvision.explain._shap import EXPLAINERS, ShapValues, choose_explainer, shap_values

__all__ = [
    "EXPLAINERS",
    "Explanation",
    "ImageExplanation",
    "OverlayDisplay",
    "PixelImportance",
    "PixelMapDisplay",
    "ShapValues",
    "choose_explainer",
    "explain_model",
    "explanation_figures",
    "impurity_importance",
    "overlay_figure",
    "permutation_importance_image",
    "pixel_map_figure",
    "save_explanation",
    "shap_values",
]
