"""Model cache and schema-checked predict(); framework-free."""

from modeltrain.serving.cache import LoadedModel, ModelCache
from modeltrain.serving.predictor import frame_from_request, predict

__all__ = ["LoadedModel", "ModelCache", "frame_from_request", "predict"]
