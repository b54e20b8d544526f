"""The `result` document of a completed job, made from the trained model and its registered
version. Beside the job record (models.py); the worker's runner fills it in."""

from __future__ import annotations

from typing import Any

from modeltrain.pipeline import TrainedModel
from modeltrain.pipeline.final import notable
from modeltrain.pipeline.guardrails import summary as guardrails_summary
from modeltrain.registry import RegisteredModel
from modeltrain.registry.champion import ChampionDecision
from modeltrain.registry.plots import plot_names

RESULT_LEADERBOARD_ROWS = 25  # the best candidates in `result`; MLflow has a run for each


def build_result(
    trained: TrainedModel, registered: RegisteredModel, champion: ChampionDecision
) -> dict[str, Any]:
    """The `result` of a completed job (see the README's API section for each field)."""
    return {
        "task": trained.task.value,
        "target": trained.target,
        "rows": trained.rows,
        "columns": trained.columns,
        "features": trained.features,
        "droppedColumns": trained.dropped_columns,
        "metrics": trained.metrics,
        "primaryMetric": trained.primary_metric,
        "higherIsBetter": trained.higher_is_better,  # the primary metric's direction
        "positiveClass": trained.positive_class,  # two classes: what binary metrics are about
        "decisionThreshold": trained.decision_threshold,  # on p(positiveClass), or null
        "validation": trained.validation,  # {scheme, heldOutRows, column, time range/groups}
        "estimator": trained.estimator,
        "leaderboard": notable(trained.leaderboard, RESULT_LEADERBOARD_ROWS),
        "search": trained.search,
        "classes": trained.classes,
        "trainSeconds": round(trained.train_seconds, 3),
        "guardrails": guardrails_summary(trained.guardrails),
        "featureImportance": dict(list(trained.importance.items())[:20]),
        "explanations": trained.explanations,
        "plots": plot_names(trained.task, bool(trained.importance), bool(trained.explanations)),
        "runId": registered.run_id,
        "experimentId": registered.experiment_id,
        "modelName": registered.name,
        "modelVersion": registered.version,
        "champion": champion.to_json(),  # {promoted, reason}
    }
