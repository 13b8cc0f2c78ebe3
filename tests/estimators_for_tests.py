"""Estimators used by tests; a module of its own so worker processes can import them."""

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class SlowClassifier(ClassifierMixin, BaseEstimator):
    """Sleeps in fit: stands in for a runaway model."""

    def __init__(self, seconds=30.0):
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class Opaque(BaseEstimator):
    """A transformer type no trusted list contains."""

    def fit(self, X, y=None):
        self.seen_ = True
        return self

    def transform(self, X):
        return X


class ThreadRecorder(ClassifierMixin, BaseEstimator):
    """Records the BLAS and OpenMP thread counts it was fitted under."""

    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        self.threads_ = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return np.full(len(X), self.classes_[0])
