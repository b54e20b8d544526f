"""MLflow's registry errors as ours: a missing model, version or alias is a 404, anything else
the registry answers with (or not at all) a 503."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.exceptions import MlflowException

from modeltrain.exceptions import NotFound, ServiceUnavailable


def is_missing(exc: MlflowException) -> bool:
    return (
        exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")
        or "not found" in str(exc).lower()
    )


@contextmanager
def registry_call(missing: str, **extra: str) -> Iterator[None]:
    """Run MLflow client calls; a missing resource becomes ``NotFound(missing)``."""
    try:
        yield
    except MlflowException as exc:
        if is_missing(exc):
            raise NotFound(missing, **extra) from None
        raise ServiceUnavailable(f"the model registry did not answer: {exc.message}") from exc
