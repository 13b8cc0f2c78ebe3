"""The prediction service: ``create_app`` builds the FastAPI application ``serve`` runs."""

from shallowvision.serve._app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BYTES, create_app
from shallowvision.serve._schemas import ErrorBody, Health, ModelInfo, Prediction, PredictResponse

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BYTES",
    "ErrorBody",
    "Health",
    "ModelInfo",
    "PredictResponse",
    "Prediction",
    "create_app",
]
