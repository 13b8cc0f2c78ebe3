"""A Pipeline that streams images through its transforms in chunks, in bounded memory."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import numpy as np
from sklearn import get_config
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from shallowvision.exceptions import ConfigError
from shallowvision.features._base import check_positive_int

__all__ = ["ChunkedPipeline", "chunk_rows", "remembered_inputs"]

#: Default most rows the transforms are fitted on.
FIT_SAMPLE = 65536
#: Default memory for one chunk's intermediate arrays (all transform steps together).
CHUNK_BYTES = 256 * 2**20
#: Intermediates alive at once per row of the widest step: its input, its output and
#: the step's own temporaries (HOG's gradients, the feature union's parts).
_TEMPORARIES = 4


#: Whether a pipeline's predictions remember what its transforms made of the images they
#: last saw (see :func:`remembered_inputs`); off unless a caller turns it on.
_REMEMBER: ContextVar[str] = ContextVar("shallowvision_remember_inputs", default="off")
#: Each pipeline's last remembered final input, as (fingerprint of the images, output).
_REMEMBERED: weakref.WeakKeyDictionary[Any, tuple[tuple, np.ndarray]] = weakref.WeakKeyDictionary()
#: Images larger than this are not fingerprinted, outputs larger than this not kept.
_REMEMBER_MAX_BYTES = 64 * 2**20


@contextmanager
def remembered_inputs(mode: Literal["on", "fresh"] = "on") -> Iterator[None]:
    """Within the block, a fitted :class:`ChunkedPipeline` predicting the same images again
    (equal in shape, dtype and bytes) reuses what its transforms made of them the last time.

    Predicting a model's scores, then its labels, then storing both, or calibrating it
    and scoring the calibrated model, would otherwise compute the same features each
    time. ``"fresh"`` computes them anew but remembers them, for a prediction that is
    timed. Each pipeline keeps only its last input (up to 64 MiB, and a copy: the final
    step cannot change what is kept), held only as long as the pipeline lives; fitting
    forgets it. Off by default, so that repeated predictions are timed as they cost.
    """
    token = _REMEMBER.set(mode)
    try:
        yield
    finally:
        _REMEMBER.reset(token)


def _fingerprint(X: Any) -> tuple | None:
    if not isinstance(X, np.ndarray) or X.nbytes > _REMEMBER_MAX_BYTES:
        return None
    digest = hashlib.blake2b(np.ascontiguousarray(X).data, digest_size=16).digest()
    return (X.shape, X.dtype.str, digest)


def _final_has(attr: str):
    """Offer a method only when the final step has it, as Pipeline does."""

    def check(self) -> bool:
        final = self.steps[-1][1]
        if final in (None, "passthrough"):
            return attr == "transform"
        return hasattr(final, attr)

    return check


def chunk_rows(bytes_per_row: int, budget: int = CHUNK_BYTES, *, minimum: int = 256) -> int:
    """Rows per chunk so that ``bytes_per_row`` times the rows stays within ``budget``."""
    return max(minimum, int(budget // max(bytes_per_row, 1)))


class ChunkedPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose transforms see the data a chunk at a time.

    Image features (HOG, patch codes, a feature union beside the pixels) are often
    many times wider than the ``uint8`` pixels they come from. A plain Pipeline holds
    the whole widest intermediate, in floats, for every image at once; this one
    never does:

    - ``fit`` fits the transform steps on a seeded sample of at most ``fit_sample``
      rows (all rows when there are fewer, exactly as a Pipeline would), then
      transforms every row chunk by chunk into one float32 array, which the final
      estimator is fitted on;
    - ``predict``, ``predict_proba``, ``decision_function``, ``transform`` and
      ``score`` transform chunk by chunk, so their memory is bounded by the chunk
      and the (usually narrow) output of the last transform.

    Chunks are sized from ``chunk_bytes`` and the widest step's width. Steps that
    learn from the data (PCA, k-means dictionaries, scalers) therefore learn from the
    sample when there are more than ``fit_sample`` rows.

    Parameters
    ----------
    steps : list of (name, estimator)
        As for :class:`~sklearn.pipeline.Pipeline`.
    fit_sample : int or None, default=65536
        Most rows the transform steps are fitted on; None fits them on every row.
    chunk_bytes : int, default=256 MiB
        Memory for one chunk's intermediate arrays.
    random_state : int, optional
        Seed of the fitting sample.
    memory, verbose
        As for :class:`~sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    n_fit_sample_ : int
        Rows the transform steps were fitted on.
    n_fit_rows_ : int
        Rows the pipeline was fitted on (the final estimator saw them all).
    chunk_rows_ : int
        Rows per chunk.
    """

    def __init__(
        self,
        steps,
        *,
        fit_sample: int | None = FIT_SAMPLE,
        chunk_bytes: int = CHUNK_BYTES,
        random_state: int | None = None,
        memory=None,
        verbose: bool = False,
    ) -> None:
        super().__init__(steps, memory=memory, verbose=verbose)
        self.fit_sample = fit_sample
        self.chunk_bytes = chunk_bytes
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------------
    def _fit(self, X, y=None, routed_params=None, raw_params=None, callback_ctx=None):
        _REMEMBERED.pop(self, None)
        if self.fit_sample is not None:
            check_positive_int(self.fit_sample, "fit_sample")
        check_positive_int(self.chunk_bytes, "chunk_bytes")
        n = len(X) if isinstance(X, np.ndarray) else None
        self.n_fit_rows_ = _num_samples(X)
        if n is None or self.fit_sample is None or n <= self.fit_sample:
            Xt = super()._fit(X, y, routed_params, raw_params, callback_ctx)
            self.n_fit_sample_ = _num_samples(X)
            self.chunk_rows_ = self._chunk_rows_for(X)
            return Xt
        if any(routed_params[name].get("fit") for name, _ in self.steps[:-1]):
            raise ConfigError(
                "ChunkedPipeline fits its transforms on a sample and cannot pass them fit "
                "parameters; pass fit_sample=None to fit them on every row"
            )
        rng = check_random_state(self.random_state)
        rows = np.sort(rng.choice(n, size=self.fit_sample, replace=False))
        super()._fit(
            X[rows], None if y is None else np.asarray(y)[rows], routed_params, None, callback_ctx
        )
        self.n_fit_sample_ = int(self.fit_sample)
        self.chunk_rows_ = self._chunk_rows_for(X)
        return self._transform_chunked(X)

    def _chunk_rows_for(self, X) -> int | None:
        """Rows per chunk, from the widest array a chunk of ``X`` passes through (None:
        ``X`` is not an array, and goes through whole)."""
        if not isinstance(X, np.ndarray) or X.ndim != 2 or not len(X):
            return None
        widest = X.shape[1] * 4
        probe = X[:2]
        for _, _, transform in self._iter(with_final=False):
            probe = transform.transform(probe)
            if hasattr(probe, "shape") and len(probe.shape) == 2:
                widest = max(widest, probe.shape[1] * np.dtype(probe.dtype).itemsize)
        return chunk_rows(widest * _TEMPORARIES, self.chunk_bytes)

    # -- transforming -----------------------------------------------------------------------
    def _transform_chunked(self, X) -> np.ndarray:
        """Every transform applied to ``X`` chunk by chunk, into one array."""
        steps = list(self._iter(with_final=False))
        rows = getattr(self, "chunk_rows_", None)
        if not isinstance(X, np.ndarray) or rows is None or len(X) <= rows:
            for _, _, transform in steps:
                X = transform.transform(X)
            return X
        n = len(X)
        out = None
        for start in range(0, max(n, 1), rows):
            chunk = X[start : start + rows]
            for _, _, transform in steps:
                chunk = transform.transform(chunk)
            if out is None:
                out = np.empty((n, chunk.shape[1]), dtype=chunk.dtype)
            out[start : start + len(chunk)] = chunk
        assert out is not None  # at least one chunk: n > rows
        return out

    def _final_input(self, X, params) -> np.ndarray:
        check_is_fitted(self)
        if params or get_config().get("enable_metadata_routing"):
            raise ConfigError("ChunkedPipeline passes no parameters to its steps' predictions")
        mode = _REMEMBER.get()
        key = None if mode == "off" else _fingerprint(X)
        if key is not None and mode == "on":
            last = _REMEMBERED.get(self)
            if last is not None and last[0] == key:
                return last[1].copy()
        Xt = self._transform_chunked(X)
        if key is not None and isinstance(Xt, np.ndarray) and Xt.nbytes <= _REMEMBER_MAX_BYTES:
            _REMEMBERED[self] = (key, Xt.copy())
        return Xt

    @available_if(_final_has("predict"))
    def predict(self, X, **params):
        return self.steps[-1][1].predict(self._final_input(X, params))

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X, **params):
        return self.steps[-1][1].predict_proba(self._final_input(X, params))

    @available_if(_final_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        return self.steps[-1][1].predict_log_proba(self._final_input(X, params))

    @available_if(_final_has("decision_function"))
    def decision_function(self, X, **params):
        return self.steps[-1][1].decision_function(self._final_input(X, params))

    @available_if(_final_has("transform"))
    def transform(self, X, **params):
        Xt = self._final_input(X, params)
        final = self.steps[-1][1]
        return Xt if final in (None, "passthrough") else final.transform(Xt)

    @available_if(_final_has("score"))
    def score(self, X, y=None, sample_weight=None, **params):
        Xt = self._final_input(X, params)
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.steps[-1][1].score(Xt, y, **extra)
