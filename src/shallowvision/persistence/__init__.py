"""Safe model files: skops archives with a manifest, loaded only against trusted types."""

from shallowvision.persistence._model_file import (
    FORMAT_VERSION,
    ModelFileError,
    SavedModel,
    library_versions,
    load_model,
    read_manifest,
    save_model,
    training_provenance,
)
from shallowvision.persistence._trusted import TRUSTED_TYPES

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "ModelFileError",
    "SavedModel",
    "library_versions",
    "load_model",
    "read_manifest",
    "save_model",
    "training_provenance",
]
