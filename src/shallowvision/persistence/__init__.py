"""Safe model files: skops archives with a manifest, loaded only against trusted types."""

from shallowvision.persistence._model_file import (
    FORMAT_VERSION,
    KEY_VARIABLE,
    ModelFileError,
    SavedModel,
    library_versions,
    load_model,
    read_manifest,
    save_model,
    seal_manifest,
    signing_key,
    training_provenance,
)
from shallowvision.persistence._schema import ModelManifest
from shallowvision.persistence._trusted import TRUSTED_TYPES

__all__ = [
    "FORMAT_VERSION",
    "KEY_VARIABLE",
    "TRUSTED_TYPES",
    "ModelFileError",
    "ModelManifest",
    "SavedModel",
    "library_versions",
    "load_model",
    "read_manifest",
    "save_model",
    "seal_manifest",
    "signing_key",
    "training_provenance",
]
