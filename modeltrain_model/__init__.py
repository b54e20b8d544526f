"""The code that a registered model's pipeline is made of, shipped inside every model version
(MLflow ``code_paths``) so that a version loads in any Python environment made from its own
``requirements.txt``, without the ``modeltrain`` service installed.

Its own top-level name, so that the copy shipped with a model can never shadow the service's
``modeltrain`` package or be shadowed by it. It imports numpy, pandas and scikit-learn only
(LightGBM through the fitted models themselves), never ``modeltrain``."""

CLASSIFICATION = "classification"  # the Ensemble's ``task`` values
REGRESSION = "regression"
