"""Kept so that model versions registered before the pipeline's classes moved to the
``modeltrain_model`` package (whose saved files name this module) still load."""

from modeltrain_model.ensemble import Ensemble

__all__ = ["Ensemble"]
