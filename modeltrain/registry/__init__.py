"""MLflow: logging a trained model, registering it, and resolving `models:/` ids."""

from modeltrain.registry.model_ids import ModelRef, parse_model_id
from modeltrain.registry.registry import RegisteredModel, Registry

__all__ = ["ModelRef", "Registry", "RegisteredModel", "parse_model_id"]
