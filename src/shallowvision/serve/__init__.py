"""The prediction service: ``create_app`` builds the FastAPI application ``serve`` runs."""

from shallowvision.serve._app import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_QUEUE,
    create_app,
)
from shallowvision.serve._schemas import ErrorBody, Health, ModelInfo, Prediction, PredictResponse

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_QUEUE",
    "ErrorBody",
    "Health",
    "ModelInfo",
    "PredictResponse",
    "Prediction",
    "create_app",
]
