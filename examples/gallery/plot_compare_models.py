"""
Compare a few fast models on digits
===================================

Load the ``digits`` dataset as :class:`~shallowvision.datasets.ImageSet` splits, fit
three models of the zoo on the training images and score them on a validation split
held out from training, as ``shallowvision compare digits`` does.
"""

# %%
# Load the data
# -------------
# ``load_splits`` gives the training images less a seeded, stratified validation split,
# and the fixed test split. Pixels stay ``uint8``: ``images`` is ``(n, 8, 8)`` and ``X``
# its flattened view.
import matplotlib.pyplot as plt

from shallowvision.datasets import load_splits
from shallowvision.models import compare_models

splits = load_splits("digits", validation_size=0.2, random_state=0)
train, validation = splits.train, splits.validation
print(f"{train.name}: {len(train.labels)} training and {len(validation.labels)} validation images")
print(train.images.shape, train.images.dtype, train.X.shape)

# %%
# A few training images, drawn at their own 8x8 size.
fig, axes = plt.subplots(1, 8, figsize=(8, 1.4))
for ax, image, label in zip(axes, train.images, train.labels, strict=False):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(train.class_names[label])
    ax.set_axis_off()

# %%
# Compare models on the validation images
# ---------------------------------------
# Each model is a fresh scikit-learn pipeline from the zoo; only validation images are
# scored, the test split stays untouched.
comparison = compare_models(["nb", "lr", "knn"], train, validation, random_state=0)
for row in comparison.rows:
    print(
        f"{row.model:<4} accuracy {row.accuracy:.3f}  macro F1 {row.f1_macro:.3f}  fit {row.fit_seconds:.2f} s"
    )

# %%
# Accuracy against fitting time
# -----------------------------
fig, ax = plt.subplots(figsize=(5, 3.5))
for row in comparison.rows:
    ax.scatter(row.fit_seconds, row.accuracy)
    ax.annotate(
        row.model, (row.fit_seconds, row.accuracy), textcoords="offset points", xytext=(5, 5)
    )
ax.set_xlabel("fit seconds")
ax.set_ylabel("validation accuracy")
ax.set_title("Zoo models on digits")
