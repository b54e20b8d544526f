"""The whole path on real processes: chunked upload -> Celery worker -> MLflow registry ->
predictions, checked against the same model loaded outside the service."""

from __future__ import annotations

import io

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.factories import classification_frame, records, regression_frame, to_chunks
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration


def test_a_csv_uploaded_in_chunks_becomes_a_registered_model_that_predicts(stack):
    df = classification_frame(rows=400)
    data = df.to_csv(index=False).encode()
    with stack.http() as client:
        answers = upload(
            client, data, to_chunks(data, 4), filename="churn.csv", target="churn", timeBudget=5
        )
        assert [r.status_code for r in answers] == [200, 200, 200, 202]
        first, last = answers[0].json(), answers[-1].json()
        tracking_id = first["trackingId"]
        assert last["status"] == "pending" and last["receivedChunks"] == 4
        assert last["receivedBytes"] == len(data)

        job = wait_for_job(client, tracking_id)
        assert job["status"] == "completed", job["error"]
        assert job["progress"] == 100 and job["stage"] == "done"
        seen = job["_progress_seen"]
        assert seen == sorted(seen), "progress went down"
        result = job["result"]
        assert result["task"] == "classification" and result["target"] == "churn"
        assert result["rows"] == 400 and result["columns"] == 4
        assert result["metrics"]["roc_auc"] > 0.8
        # bestScore is the search's: the best single candidate's cross-validated ROC AUC.
        singles = [row for row in result["leaderboard"] if row["trial"] is not None]
        assert job["bestScore"] == pytest.approx(max(row["roc_auc"] for row in singles))
        assert result["search"]["validation"] == "5-fold cross-validation"
        assert job["eta"] is not None and job["eta"] >= 0
        assert {row["estimator"] for row in result["leaderboard"]} >= {"lightgbm"}
        # One nested MLflow run per candidate under the job's run.
        children = MlflowClient(tracking_uri=stack.mlflow_uri).search_runs(
            [result["experimentId"]], f"tags.mlflow.parentRunId = '{result['runId']}'"
        )
        names = {child.info.run_name for child in children}
        for row in result["leaderboard"]:  # the best ones, with a run each
            assert (f"{row['estimator']}-{row['trial']}" if row["trial"] is not None
                    else "ensemble") in names  # fmt: skip
        model_id = job["modelId"]
        assert model_id == f"models:/churn/{result['modelVersion']}"

        # The registry knows it, and the version points at the job's run.
        registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
        version = registry.get_model_version("churn", result["modelVersion"])
        assert version.run_id == result["runId"]
        assert version.tags["modeltrain.trackingId"] == tracking_id
        run = registry.get_run(result["runId"])
        assert run.info.status == "FINISHED"
        assert run.data.metrics["holdout_roc_auc"] == pytest.approx(result["metrics"]["roc_auc"])

        # Predictions from the API equal those of the model loaded outside the service.
        rows = df.drop(columns=["churn"]).head(25)
        answer = client.post(
            "/api/model-inference/predict",
            json={"modelId": model_id, "inputs": records(rows)},
        )
        assert answer.status_code == 200, answer.text
        mlflow.set_tracking_uri(stack.mlflow_uri)
        outside = mlflow.pyfunc.load_model(model_id)
        expected = outside.predict(rows.astype({"age": "float64"}))
        assert answer.json()["predictions"] == list(expected)
        assert set(answer.json()["predictions"]) <= {"yes", "no"}

        listed = client.get("/api/model-train/status").json()
        assert listed[0]["trackingId"] == tracking_id and listed[0]["modelId"] == model_id
        models = client.get("/api/models").json()
        churn = next(m for m in models if m["name"] == "churn")
        mine = next(v for v in churn["versions"] if v["modelId"] == model_id)
        assert mine["trackingId"] == tracking_id and mine["metrics"]["roc_auc"] > 0.8


def test_a_regression_target_is_detected_and_predictions_come_in_every_format(stack):
    df = regression_frame(rows=300)
    data = df.to_csv(index=False, sep=";").encode()
    with stack.http() as client:
        answers = upload(client, data, to_chunks(data, 3), filename="My Prices!.csv", timeBudget=5)
        job = wait_for_job(client, answers[0].json()["trackingId"])
        assert job["status"] == "completed", job["error"]
        assert job["result"]["task"] == "regression" and job["result"]["target"] == "y"
        assert job["result"]["metrics"]["r2"] > 0.8
        assert job["modelId"].startswith("models:/My-Prices/")
        rows = df.drop(columns=["y"])  # > 256 rows: framed and answered off the event loop
        by_records = client.post(
            "/api/model-inference/predict",
            json={"modelId": job["modelId"], "dataframe_records": records(rows)},
        ).json()
        by_split = client.post(
            "/api/model-inference/predict",
            json={
                "modelId": job["modelId"].removeprefix("models:/"),
                "dataframe_split": rows.to_dict(orient="split", index=False),
            },
        ).json()
        as_csv = client.post(
            "/api/model-inference/predict",
            json={"modelId": job["modelId"], "dataframe_split": rows.to_dict("split", index=False)},
            headers={"accept": "text/csv"},
        )
        assert by_records["predictions"] == pytest.approx(by_split["predictions"])
        assert by_records["predictions"][:3] == pytest.approx(list(df["y"].head(3)), abs=3.0)
        table = pd.read_csv(io.StringIO(as_csv.text))
        assert table["prediction"].tolist() == pytest.approx(by_split["predictions"])


def test_a_job_that_cannot_train_fails_with_a_readable_error_and_leaves_no_run_running(stack):
    df = pd.DataFrame({"a": range(50), "b": [1.5] * 50, "label": ["same"] * 50})
    with stack.http() as client:
        answers = upload(client, df.to_csv(index=False).encode(), filename="flat.csv")
        assert answers[-1].status_code == 202
        tracking_id = answers[0].json()["trackingId"]
        job = wait_for_job(client, tracking_id)
    assert job["status"] == "failed"
    assert "single class" in job["error"] and "'label'" in job["error"]
    assert job["modelId"] is None
    runs = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri).search_runs(
        experiment_ids=[
            e.experiment_id
            for e in MlflowClient(
                tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri
            ).search_experiments()
        ],
        filter_string=f"tags.`modeltrain.trackingId` = '{tracking_id}'",
    )
    assert all(run.info.status != "RUNNING" for run in runs)


def test_predicting_with_probabilities_names_the_classes(stack):
    df = classification_frame(rows=200, seed=3)
    with stack.http() as client:
        answers = upload(
            client, df.to_csv(index=False).encode(), filename="probs.csv", timeBudget=3
        )
        job = wait_for_job(client, answers[0].json()["trackingId"])
        assert job["status"] == "completed", job["error"]
        body = client.post(
            "/api/model-inference/predict",
            json={
                "modelId": job["modelId"],
                "inputs": records(df.drop(columns=["churn"]).head(4)),
                "probabilities": True,
            },
        ).json()
    assert body["classes"] == ["no", "yes"]
    assert len(body["probabilities"]) == 4
    for probs, label in zip(body["probabilities"], body["predictions"], strict=True):
        assert sum(probs) == pytest.approx(1.0)
        assert body["classes"][probs.index(max(probs))] == label


def test_prediction_inputs_are_checked_against_the_model_signature(stack):
    df = regression_frame(rows=120, seed=5)
    with stack.http() as client:
        answers = upload(client, df.to_csv(index=False).encode(), filename="sig.csv", timeBudget=2)
        model_id = wait_for_job(client, answers[0].json()["trackingId"])["modelId"]

        def predict(**body):
            return client.post("/api/model-inference/predict", json={"modelId": model_id, **body})

        missing = predict(inputs=[{"x1": 1.0, "kind": "a"}])
        assert missing.status_code == 422 and missing.json()["error"] == "missing columns: x2"
        wrong = predict(inputs=[{"x1": "one", "x2": 2.0, "kind": "a"}])
        assert wrong.status_code == 422 and "x1" in wrong.json()["error"]
        proba = predict(inputs=[{"x1": 1.0, "x2": 2.0, "kind": "a"}], probabilities=True)
        assert proba.status_code == 422 and "not a classifier" in proba.json()["error"]
        extra = predict(inputs=[{"x1": 1, "x2": 2, "kind": "a", "ignored": "yes"}])
        assert extra.status_code == 200 and len(extra.json()["predictions"]) == 1
        unknown_version = client.post(
            "/api/model-inference/predict",
            json={"modelId": model_id.rsplit("/", 1)[0] + "/999", "inputs": [{"x1": 1}]},
        )
        assert unknown_version.status_code == 404


def test_reports_plots_and_the_champion_alias_land_in_mlflow(stack):
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    with stack.http() as client:
        good = classification_frame(rows=300, seed=61).to_csv(index=False).encode()
        first = wait_for_job(
            client,
            upload(client, good, filename="ranked.csv", timeBudget=2)[0].json()["trackingId"],
        )
        noise = classification_frame(rows=300, seed=62)
        noise["churn"] = noise["churn"].sample(frac=1, random_state=0).to_numpy()  # unlearnable
        second = wait_for_job(
            client,
            upload(client, noise.to_csv(index=False).encode(), filename="ranked.csv", timeBudget=2)[
                0
            ].json()["trackingId"],
        )
    assert first["status"] == second["status"] == "completed"
    assert first["result"]["champion"] == {
        "promoted": True,
        "reason": "the model had no champion",
    }
    assert second["result"]["champion"]["promoted"] is False
    assert "on its held-out data" in second["result"]["champion"]["reason"]
    champion = registry.get_model_version_by_alias("ranked", "champion")
    assert champion.version == first["result"]["modelVersion"]

    run_id = first["result"]["runId"]
    names = {a.path for a in registry.list_artifacts(run_id, "plots")}
    assert names == {
        "plots/confusion_matrix.png",
        "plots/roc.png",
        "plots/feature_importance.png",
        "plots/shap_summary.png",
    }
    reports = {a.path for a in registry.list_artifacts(run_id, "report")}
    assert {
        "report/guardrails.json",
        "report/leaderboard.json",
        "report/mean_contributions.json",
    } <= reports
    result = first["result"]
    assert result["guardrails"]["leakage"] == {} and "warnings" in result["guardrails"]
    assert set(result["featureImportance"]) <= {"age", "income", "city"}
    assert result["plots"] == ["confusion_matrix", "roc", "feature_importance", "shap_summary"]
    assert set(result["explanations"]) == {"age", "income", "city"}
    with stack.http() as client:
        png = client.get(f"/api/model-train/{first['trackingId']}/plots/roc")
        missing = client.get(f"/api/model-train/{first['trackingId']}/plots/nope")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert missing.status_code == 404 and "has no plot" in missing.json()["error"]


def test_a_regressor_gets_its_own_plots(stack):
    with stack.http() as client:
        data = regression_frame(rows=200, seed=63).to_csv(index=False).encode()
        job = wait_for_job(
            client,
            upload(client, data, filename="reg-plots.csv", timeBudget=2)[0].json()["trackingId"],
        )
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    names = {a.path for a in registry.list_artifacts(job["result"]["runId"], "plots")}
    assert {"plots/predicted_vs_actual.png", "plots/residuals.png"} <= names
