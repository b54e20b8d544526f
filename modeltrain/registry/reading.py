"""RegistryReader: what the service reads back from MLflow — model ids checked against the
registry, the artifacts a run logged (its CSV, plots, input profile, data set columns) and the
list of registered models. ``Registry`` (registry.py) adds logging and registering on top."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from modeltrain.drift.profile import Profile
from modeltrain.registry.errors import is_missing, registry_call
from modeltrain.registry.model_ids import parse_model_id, version_id

TAG_TRACKING_ID = "modeltrain.trackingId"  # the job that made a run or a version
STORED_CSV_DIR, STORED_CSV_NAME = "data", "input.csv"  # the uploaded bytes, as a run artifact
PROFILE_ARTIFACT = "report/profile.json"  # the inputs' training profile (drift/profile.py)


def read_artifact(client: MlflowClient, run_id: str, path: str) -> bytes:
    """The bytes of one artifact of a run."""
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        with open(local, "rb") as fh:
            return fh.read()


def load_profile(client: MlflowClient, run_id: str) -> Profile | None:
    """A run's ``report/profile.json``, or None when it has none."""
    try:
        raw = read_artifact(client, run_id, PROFILE_ARTIFACT)
    except (MlflowException, OSError):
        return None
    return Profile.from_json(json.loads(raw))


class RegistryReader:
    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def check_model_id(self, model_id: str) -> str:
        """``models:/…`` of a version or alias the registry knows: 422 for a malformed id, 404
        for an unknown model, version or alias (what a batch job is refused with at chunk 0)."""
        ref = parse_model_id(model_id)
        with registry_call(f"no registered model {ref.uri}", field="modelId"):
            if ref.version is not None:
                self._client.get_model_version(ref.name, ref.version)
            else:
                self._client.get_model_version_by_alias(ref.name, ref.alias or "")
        return ref.uri

    def version_exists(self, model_id: str) -> bool:
        """Whether ``models:/<name>/<version>`` is still registered (True when MLflow cannot
        tell: then nothing could be served from it either, and the caller's answer stands)."""
        ref = parse_model_id(model_id)
        try:
            self._client.get_model_version(ref.name, ref.version or "")
        except MlflowException as exc:
            return not is_missing(exc)
        return True

    def has_stored_csv(self, run_id: str) -> bool:
        """Whether the run kept the CSV it was trained on (what a retrain reads)."""
        listed = self._client.list_artifacts(run_id, STORED_CSV_DIR)
        return any(f.path == f"{STORED_CSV_DIR}/{STORED_CSV_NAME}" for f in listed)

    def stored_csv(self, run_id: str) -> bytes:
        return read_artifact(self._client, run_id, f"{STORED_CSV_DIR}/{STORED_CSV_NAME}")

    def stored_columns(self, run_id: str) -> list[str] | None:
        """The columns of the data set logged with the run (its schema), when it has one."""
        inputs = self._client.get_run(run_id).inputs
        for dataset_input in inputs.dataset_inputs if inputs else []:
            try:
                schema = json.loads(dataset_input.dataset.schema or "{}")
                return [column["name"] for column in schema.get("mlflow_colspec", [])]
            except (ValueError, KeyError, TypeError):
                return None
        return None

    def plot_png(self, run_id: str, name: str) -> bytes:
        """One of a run's plots (`plots/<name>.png`)."""
        return read_artifact(self._client, run_id, f"plots/{name}.png")

    def list_models(self, max_results: int = 200) -> list[dict[str, Any]]:
        out = []
        for rm in self._client.search_registered_models(max_results=max_results):
            versions = self._client.search_model_versions(
                f"name='{rm.name}'", max_results=200, order_by=["version_number DESC"]
            )
            out.append(
                {
                    "name": rm.name,
                    "aliases": dict(getattr(rm, "aliases", {}) or {}),
                    "versions": [self._version_summary(v) for v in versions],
                }
            )
        return out

    def _version_summary(self, v: ModelVersion) -> dict[str, Any]:
        metrics: dict[str, float] = {}
        if v.run_id:
            try:
                run = self._client.get_run(v.run_id)
                metrics = {
                    k.removeprefix("holdout_"): val
                    for k, val in run.data.metrics.items()
                    if k.startswith("holdout_")
                }
            except MlflowException:
                pass
        return {
            "modelId": version_id(v.name, v.version),
            "version": v.version,
            "status": v.status,
            "runId": v.run_id,
            "trackingId": (v.tags or {}).get(TAG_TRACKING_ID),
            "createdAt": v.creation_timestamp,
            "metrics": metrics,
        }
