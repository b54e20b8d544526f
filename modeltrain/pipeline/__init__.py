"""Pure training: a DataFrame and options in, a fitted scikit-learn pipeline and metrics out.

No Redis, Celery or MLflow here; progress is reported through a callback.
"""

from modeltrain.pipeline.train import TrainedModel, TrainOptions, train

__all__ = ["TrainOptions", "TrainedModel", "train"]
