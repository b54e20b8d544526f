"""The registration gate and the champion alias against a real MLflow server."""

from __future__ import annotations

import uuid

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from modeltrain.registry.champion import Judged
from modeltrain.registry.registry import RegisteredModel, RegistrationGateError, Registry

pytestmark = pytest.mark.integration

# Names of their own: other tests register models on the same server.
BROKEN = f"gate-broken-{uuid.uuid4().hex[:6]}"
RANKED = f"gate-ranked-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def registry(mlflow_server) -> Registry:
    mlflow.set_tracking_uri(mlflow_server)
    return Registry(
        MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server), "gate-tests"
    )


def test_the_gate_fails_a_version_that_cannot_be_loaded_and_deletes_it(registry, mlflow_server):
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    with mlflow.start_run(experiment_id=registry.experiment_id()) as run:
        mlflow.log_text("this is not an MLmodel file: [", "broken/MLmodel")  # a model that breaks
    client.create_registered_model(BROKEN)
    version = client.create_model_version(
        BROKEN, source=f"{run.info.artifact_uri}/broken", run_id=run.info.run_id
    )
    registered = RegisteredModel(BROKEN, str(version.version), run_id=run.info.run_id)
    with pytest.raises(RegistrationGateError, match="cannot be loaded and used"):
        registry.verify(registered, pd.DataFrame({"a": [1.0]}), [0])
    assert not client.search_model_versions(f"name='{BROKEN}'")


def test_a_version_becomes_champion_only_when_it_is_better(registry, mlflow_server):
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    client.create_registered_model(RANKED)
    with mlflow.start_run(experiment_id=registry.experiment_id()) as run:
        mlflow.log_text("placeholder", "model/README")
    versions = []
    for value in ("0.80", "0.75", "0.90"):
        mv = client.create_model_version(
            RANKED,
            source=f"{run.info.artifact_uri}/model",
            run_id=run.info.run_id,
            tags={"modeltrain.primaryMetric": "roc_auc", "modeltrain.primaryMetricValue": value},
        )
        versions.append(RegisteredModel(RANKED, str(mv.version), run_id=""))

    def judged(value: float) -> Judged:
        return Judged("roc_auc", value, "classification", "y", "random")

    assert registry.promote_if_better(versions[0], judged(0.80)).promoted
    worse = registry.promote_if_better(versions[1], judged(0.75))
    assert not worse.promoted and "scores 0.8 roc_auc" in worse.reason
    assert client.get_model_version_by_alias(RANKED, "champion").version == versions[0].version
    assert registry.promote_if_better(versions[2], judged(0.90)).promoted
    assert client.get_model_version_by_alias(RANKED, "champion").version == versions[2].version
