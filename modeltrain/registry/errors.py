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
def registry_call(
    missing: str, *, invalid_is_missing: bool = False, **extra: str
) -> Iterator[None]:
    """Run MLflow client calls; a missing resource becomes ``NotFound(missing)`` (and so does a
    refused parameter with ``invalid_is_missing``: MLflow's answer for an alias it cannot
    find), anything else ``ServiceUnavailable``. The one place MLflow's errors become ours."""
    try:
        yield
    except MlflowException as exc:
        invalid = invalid_is_missing and exc.error_code == "INVALID_PARAMETER_VALUE"
        if is_missing(exc) or invalid:
            raise NotFound(missing, **extra) from None
        raise ServiceUnavailable(f"the model registry did not answer: {exc.message}") from exc
