"""
Which pixels does a model use?
==============================

Permutation importance per pixel, drawn as an 8x8 image: how much the validation accuracy
of a random forest drops when one pixel is shuffled across the images. The forest's own
impurity importances are drawn beside it.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from shallowvision.datasets import load_splits
from shallowvision.explain import PixelMapDisplay, impurity_importance, permutation_importance_image
from shallowvision.models import get_model

splits = load_splits("digits", validation_size=0.2, random_state=0)
train, validation = splits.train, splits.validation
model = get_model("rf", random_state=0, n_estimators=100).fit(train.X, train.y)
print(f"validation accuracy {model.score(validation.X, validation.y):.3f}")

# %%
# Permutation and impurity importances
# ------------------------------------
permutation = permutation_importance_image(
    model, validation.X, validation.y, train.image_shape, random_state=0
)
impurity = impurity_importance(model, train.image_shape)
print(f"{permutation.kind}: {permutation.n_images} images, {permutation.seconds:.2f} s")

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
PixelMapDisplay(
    np.stack([permutation.values, impurity.values]),
    ["permutation", "impurity"],
    title="Pixel importance of a random forest on digits",
    signed=False,
).plot(ax=ax)
