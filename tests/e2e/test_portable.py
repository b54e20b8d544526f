"""Registered versions that stand on their own (loaded in a fresh virtualenv made from nothing
but their own requirements.txt) and explain every prediction through the API."""

from __future__ import annotations

import io
import json
import subprocess
import venv
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts

from tests.factories import mixed_frame, records, regression_frame
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration

ROWS = 50


@pytest.fixture(scope="module")
def trained(stack) -> dict[str, dict]:
    """A classifier on numbers, a category, dates and text, judged by F1 (so its labels come at
    a tuned decision threshold); a regressor."""
    frames = {
        "classifier": (
            mixed_frame(rows=400, noise=1.5),
            "label",
            {"metric": "f1", "positiveClass": "yes"},
        ),
        "regressor": (regression_frame(rows=300), "y", {}),
    }
    jobs = {}
    with stack.http() as client:
        for name, (df, target, fields) in frames.items():
            data = df.to_csv(index=False).encode()
            answers = upload(
                client, data, filename=f"{name}.csv", target=target, timeBudget=4,
                modelName=f"portable-{name}", **fields,
            )  # fmt: skip
            jobs[name] = {"frame": df.drop(columns=[target]), "id": answers[0].json()["trackingId"]}
        for job in jobs.values():
            job["job"] = wait_for_job(client, job["id"])
            assert job["job"]["status"] == "completed", job["job"]["error"]
    return jobs


def _predict(stack, body: dict, **kwargs) -> dict:
    with stack.http() as client:
        r = client.post("/api/model-inference/predict", json=body, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("name", ["classifier", "regressor"])
def test_explanations_add_up_to_each_prediction_over_the_signature_columns(stack, trained, name):
    job, rows = trained[name]["job"], records(trained[name]["frame"].head(20))
    answer = _predict(stack, {"modelId": job["modelId"], "inputs": rows, "explain": True})
    columns = list(trained[name]["frame"].columns)
    assert len(answer["explanations"]) == 20
    for prediction, row in zip(answer["predictions"], answer["explanations"], strict=True):
        assert list(row["contributions"]) == columns
        total = row["base"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["value"], rel=1e-6, abs=1e-9)
        if name == "classifier":
            # the class explained is the label, after the decision threshold
            assert row["class"] == prediction and 0.0 <= row["value"] <= 1.0
        else:
            assert row["value"] == pytest.approx(prediction, rel=1e-9)
    result = job["result"]
    assert set(result["explanations"]) == set(columns) and "shap_summary" in result["plots"]
    top = max(result["explanations"], key=result["explanations"].get)
    assert top in (["amount", "segment"] if name == "classifier" else ["x1", "x2", "kind"])


def test_explanations_come_as_csv_columns(stack, trained):
    job, frame = trained["classifier"]["job"], trained["classifier"]["frame"].head(10)
    with stack.http() as client:
        r = client.post(
            "/api/model-inference/predict",
            params={"modelId": job["modelId"], "explain": "true"},
            content=frame.to_csv(index=False).encode(),
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        )
    assert r.status_code == 200, r.text
    out = pd.read_csv(io.StringIO(r.text))
    contrib = [f"contrib_{c}" for c in frame.columns]
    assert list(out.columns) == ["prediction", "value", "base", *contrib]
    pd.testing.assert_series_equal(
        out["base"] + out[contrib].sum(axis=1), out["value"], check_names=False, rtol=1e-6
    )


def _fresh_venv(path: Path, requirements: Path) -> Path:
    """A virtualenv with nothing but the model's requirements (and what they pull in)."""
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    probe = subprocess.run(
        [python, "-m", "pip", "download", "--no-deps", "-d", path / "probe", "six"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"no package index answers here, so no fresh virtualenv: {probe.stderr[-300:]}")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", requirements],
        check=True, timeout=900,
    )  # fmt: skip
    return python


LOAD_AND_PREDICT = """
import json, sys
import mlflow, pandas as pd
try:
    import modeltrain  # noqa: F401
    sys.exit("modeltrain is importable here: this is not a fresh environment")
except ModuleNotFoundError:
    pass
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_json(sys.argv[2], orient="split", dtype=False)
print(json.dumps(pd.Series(model.predict(rows)).tolist()))
"""


def test_a_version_loads_in_a_fresh_virtualenv_from_its_own_requirements(stack, trained, tmp_path):
    python = None
    for name in ("classifier", "regressor"):
        job, frame = trained[name]["job"], trained[name]["frame"].head(ROWS)
        if name == "classifier":  # every row: some of them are labelled by the threshold
            frame = trained[name]["frame"]
        registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
        where = registry.get_model_version_download_uri(
            job["result"]["modelName"], job["result"]["modelVersion"]
        )
        local = Path(
            download_artifacts(
                artifact_uri=where,
                dst_path=str(tmp_path / name),
                tracking_uri=stack.mlflow_uri,
            )
        )
        mlmodel = yaml.safe_load((local / "MLmodel").read_text())
        assert mlmodel["flavors"]["python_function"]["code"] == "code"
        assert (local / "code" / "modeltrain_model" / "featurizer.py").is_file()
        if python is None:  # both versions list the same pinned requirements
            python = _fresh_venv(tmp_path / "venv", local / "requirements.txt")
        schema = {c["name"]: c["type"] for c in json.loads(mlmodel["signature"]["inputs"])}
        sent = frame.astype({c: "float64" for c, t in schema.items() if t == "double"})
        data = tmp_path / f"{name}.json"
        data.write_text(sent.to_json(orient="split", index=False, double_precision=15))
        ran = subprocess.run(
            [python, "-I", "-c", LOAD_AND_PREDICT, str(local), str(data)],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-3000:]
        theirs = json.loads(ran.stdout.strip().splitlines()[-1])
        ours = _predict(stack, {"modelId": job["modelId"], "inputs": records(frame)})
        if name == "regressor":
            assert theirs == pytest.approx(ours["predictions"], rel=1e-7, abs=1e-9)
        else:
            assert theirs == ours["predictions"]
            _some_label_is_the_thresholds(stack, job, frame, ours["predictions"])


def _some_label_is_the_thresholds(stack, job: dict, frame: pd.DataFrame, labels: list) -> None:
    """The F1 version's labels are not the likeliest classes on every row: the fresh
    environment applied the decision threshold kept in the model."""
    threshold = job["result"]["decisionThreshold"]
    assert threshold is not None and job["result"]["positiveClass"] == "yes"
    answer = _predict(stack, {"modelId": job["modelId"], "inputs": records(frame),
                              "probabilities": True})  # fmt: skip
    yes = answer["classes"].index("yes")
    likeliest = ["yes" if p[yes] > 0.5 else "no" for p in answer["probabilities"]]
    assert likeliest != labels
