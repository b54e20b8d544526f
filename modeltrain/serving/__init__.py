"""Model cache and schema-checked predict(); framework-free."""

from modeltrain.serving.cache import LoadedModel, ModelCache
from modeltrain.serving.predictor import answer_as_csv, frame_from_csv, frame_from_request

__all__ = [
    "LoadedModel",
    "ModelCache",
    "answer_as_csv",
    "frame_from_csv",
    "frame_from_request",
]
