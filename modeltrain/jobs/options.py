"""The options a client gives a job (on an upload's chunk 0, or to a retrain), checked against
the settings; each refusal names its field."""

from __future__ import annotations

from modeltrain.config import Settings
from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.models import JobOptions
from modeltrain.registry.model_ids import safe_model_name


def parse_task(task: str | None) -> Task:
    try:
        return Task(task or Task.AUTO)
    except ValueError:
        raise InvalidInput(
            "task must be one of: auto, classification, regression", field="task"
        ) from None


def check_budget(settings: Settings, budget: float | None) -> float:
    budget = settings.default_time_budget if budget is None else budget
    if not 1 <= budget <= settings.max_time_budget:
        raise InvalidInput(
            f"timeBudget must be between 1 and {settings.max_time_budget:g} seconds",
            field="timeBudget",
        )
    return float(budget)


def clean_target(target: str | None) -> str | None:
    return target.strip() if target and target.strip() else None


def build_options(
    settings: Settings,
    *,
    target: str | None,
    task: str | None,
    model_name: str | None,
    time_budget: float | None,
    filename: str,
) -> JobOptions:
    return JobOptions(
        target=clean_target(target),
        task=parse_task(task),
        model_name=safe_model_name(model_name or filename),
        time_budget=check_budget(settings, time_budget),
    )
