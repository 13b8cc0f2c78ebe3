"""The JSON bodies of the prediction service, as pydantic models (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ClassScore",
    "ErrorBody",
    "Health",
    "ModelInfo",
    "PredictResponse",
    "Prediction",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Body):
    """Which model answered."""

    name: str = Field(description="Zoo name or description of the model.")
    version: str = Field(
        description="The manifest's version, else sha256: and the start of the payload's checksum."
    )
    estimator: str = Field(description="Class of the fitted estimator (usually Pipeline).")
    created: str | None = Field(description="When the model file was written (UTC, ISO 8601).")
    image_shape: tuple[int, int] = Field(description="(height, width) of the model's images.")
    class_names: list[str]


class ClassScore(_Body):
    """One of the best classes, with its probability (or its decision score)."""

    label: int
    class_name: str
    probability: float | None = None
    score: float | None = None


class Prediction(_Body):
    """One image's prediction."""

    label: int = Field(description="Predicted class index (the model's own predict).")
    class_name: str
    probabilities: list[float] | None = Field(
        default=None,
        description="Probability of every class, in class order (models with predict_proba).",
    )
    decision_scores: list[float] | None = Field(
        default=None,
        description="Decision score of every class, in class order (models without probabilities).",
    )
    top: list[ClassScore] = Field(description="The best classes, highest score first.")


class PredictResponse(_Body):
    model: ModelInfo
    score_kind: Literal["probability", "decision_score"] = Field(
        description="Whether the scores are probabilities or decision scores."
    )
    n_images: int
    predictions: list[Prediction]


class Health(_Body):
    status: Literal["ok"]
    model: str
    version: str
    uptime_seconds: float
    requests: int = Field(description="Prediction requests answered since start.")


class ErrorBody(_Body):
    """Every error answer: a short code and a one-line message."""

    error: str = Field(
        description="Short code, e.g. empty_body, not_an_image, wrong_shape, invalid_pixels, "
        "too_large, too_many_images, unsupported_media_type, malformed_json."
    )
    detail: str = Field(description="What was wrong and what is expected, in one line.")


def predict_request_body(image_shape: tuple[int, int], max_batch: int) -> dict[str, Any]:
    """OpenAPI description of the request body of POST /predict for a model's image size.

    Its media types are dispatched by hand (multipart, raw image bytes or JSON); the
    JSON schema is exact, so any body it admits is answered with predictions.
    """
    h, w = image_shape
    pixel = {"type": "integer", "minimum": 0, "maximum": 255}

    def rows(n: int, item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": item, "minItems": n, "maxItems": n}

    image = rows(h, rows(w, pixel))
    flat = rows(h * w, pixel)

    def batch(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": item, "minItems": 1, "maxItems": max_batch}

    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "required": True,
        "description": f"One image or a batch of at most {max_batch}: image files as "
        "multipart/form-data (any field name, in order), one raw PNG/JPEG/BMP body, or "
        f"a JSON array of pixel values 0..255 shaped ({h}, {w}) or ({h * w},) for one "
        f"image, (n, {h}, {w}) or (n, {h * w}) for a batch.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": max_batch,
                            "description": "PNG, JPEG or BMP files.",
                        }
                    },
                    "required": ["file"],
                }
            },
            "image/png": binary,
            "image/jpeg": binary,
            "image/bmp": binary,
            "application/json": {"schema": {"anyOf": [image, flat, batch(image), batch(flat)]}},
        },
    }
