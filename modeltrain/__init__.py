"""Model Train Service: CSV in, registered MLflow model and prediction endpoint out."""

__version__ = "0.1.0"
