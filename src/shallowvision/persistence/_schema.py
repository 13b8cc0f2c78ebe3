"""The schema of a model file's manifest: every field a command trusts, typed and bounded.

A manifest is data from a file a user hands us. Before any of it sizes an array or
names a class, it must hold the right types within bounds: a manifest that claims
100000x100000 images, ``class_names: null`` or a string where a number belongs is
refused here, with the field's name, instead of allocating gigabytes or failing
somewhere deeper.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

__all__ = [
    "MAX_CLASSES",
    "MAX_IMAGE_SIDE",
    "MAX_MANIFEST_BYTES",
    "ModelManifest",
    "Signature",
    "check_manifest",
]

#: Largest height or width a model's images may have (a classical model on pixels).
MAX_IMAGE_SIDE = 2048
#: Most classes a model may have (EMNIST ByClass has 62).
MAX_CLASSES = 10_000
#: Largest manifest member read from a model file.
MAX_MANIFEST_BYTES = 16 * 2**20

_Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_Text = Annotated[str, StringConstraints(max_length=1000)]
_ClassName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_Side = Annotated[int, Field(ge=1, le=MAX_IMAGE_SIDE)]


class Signature(BaseModel):
    """An HMAC-SHA256 over the manifest (and through it the payload), hex."""

    model_config = ConfigDict(extra="forbid", strict=True)

    algorithm: Literal["hmac-sha256"]
    value: _Hex64


class Conversion(BaseModel):
    """How an image file becomes the model's input: colour mode and resize rule (the
    size is ``image_shape``). Manifests without it are of grey, stretched images."""

    model_config = ConfigDict(extra="forbid", strict=True)

    color: Literal["gray", "rgb"]
    resize: Literal["stretch", "pad", "crop"]


class ModelManifest(BaseModel):
    """What ``shallowvision-manifest.json`` inside a model file must hold.

    Further keys (the ``extra`` of :func:`~shallowvision.persistence.save_model`:
    calibration, parameters, run) are kept as they are.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    format: Literal["shallowvision-model"]
    format_version: int = Field(ge=1)
    created: _Text | None = None
    name: _Text
    estimator: _Text
    class_names: list[_ClassName] = Field(min_length=2, max_length=MAX_CLASSES)
    image_shape: tuple[_Side, _Side]
    n_features: int = Field(ge=1)
    conversion: Conversion | None = None
    gives_proba: bool
    training_data: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    libraries: dict[str, _Text] = {}
    payload_sha256: _Hex64
    checksum: _Hex64 | None = None
    signature: Signature | None = None
    version: _Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        h, w = self.image_shape
        channels = 3 if self.conversion is not None and self.conversion.color == "rgb" else 1
        if self.n_features != h * w * channels:
            what = f"{h}x{w}" + (" colour" if channels == 3 else "")
            raise ValueError(
                f"n_features is {self.n_features} but image_shape {what} has {h * w * channels}"
            )
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError("class_names are not unique")
        return self


def check_manifest(
    manifest: dict[str, Any], label: str, *, refuse: type[Exception]
) -> dict[str, Any]:
    """``manifest`` if it fits :class:`ModelManifest`; else ``refuse`` naming the fields at fault."""
    try:
        # Validated as the JSON it is (strict: a string is no number, a number no string).
        ModelManifest.model_validate_json(json.dumps(manifest), strict=True)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err["loc"]) or "manifest"
            problems.append(f"{where}: {err['msg']}")
        raise refuse(
            f"{label}: the manifest does not fit the model file schema ({'; '.join(problems)}); "
            "refusing to load it"
        ) from None
    return manifest
