"""
Evaluate a model: confusion matrix and reliability
==================================================

Fit the zoo's logistic regression on digits, evaluate its predicted probabilities on
the test split with :func:`~shallowvision.evaluation.evaluate_predictions`, and draw the
confusion matrix and the reliability diagram with the Display objects, each on the axes
it is given.
"""

# %%
import matplotlib.pyplot as plt

from shallowvision.datasets import load_splits
from shallowvision.evaluation import ConfusionDisplay, ReliabilityDisplay, evaluate_predictions
from shallowvision.models import get_model

splits = load_splits("digits", validation_size=0.2, random_state=0)
train, test = splits.train, splits.test
model = get_model("lr", random_state=0).fit(train.X, train.y)
proba = model.predict_proba(test.X)

# %%
# Metrics with bootstrap intervals
# --------------------------------
# Every number comes from the stored probabilities; ROC AUC is computed from them, never
# from hard labels.
evaluation = evaluate_predictions(
    test.labels, proba, class_names=test.class_names, images=test.images, n_resamples=200
)
for name, value in evaluation.headline().items():
    print(f"{name:<20} {value:.3f}" if value is not None else f"{name:<20} -")

# %%
# Confusion matrix
# ----------------
fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
ConfusionDisplay.from_predictions(
    test.labels, proba.argmax(axis=1), class_names=test.class_names, ax=ax
)

# %%
# Reliability diagram
# -------------------
# How often the model is right at each level of confidence.
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
ReliabilityDisplay.from_predictions(test.labels, proba, n_bins=10, ax=ax)
