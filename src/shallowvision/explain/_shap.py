"""SHAP values per pixel, as the explanations use them.

They are computed in :mod:`shallowvision.features._shap`, below both of their users: the
SHAP pixel selector (a feature selector) and the explanations drawn here.
"""

from shallowvision.features._shap import (
    EXPLAINERS,
    ShapValues,
    auto_n_explain,
    choose_explainer,
    shap_values,
    stratified_sample,
)

__all__ = [
    "EXPLAINERS",
    "ShapValues",
    "auto_n_explain",
    "choose_explainer",
    "shap_values",
    "stratified_sample",
]
