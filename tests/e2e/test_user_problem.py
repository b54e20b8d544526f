"""Training for the user's problem, through the real service: a metric, a positive class and
its decision threshold, row weights, groups and time as validation schemes; every option
round-trips through chunk 0, the status document and a retrain; the champion moves only
between versions judged the same way; what only the data can tell fails the job naming it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.factories import records
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration


def sites_frame(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A rare positive class (about one row in six) over 40 sites, with row weights."""
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(40), rows // 40)
    effect = rng.normal(0, 0.7, 40)[site]
    amount = rng.gamma(2.0, 50.0, rows).round(2)
    score = (amount - 100) / 40 + effect + rng.normal(0, 0.6, rows)
    return pd.DataFrame(
        {
            "amount": amount,
            "segment": rng.choice(["retail", "business", "public"], rows),
            "site": [f"s{s}" for s in site],
            "w": rng.uniform(0.5, 2.0, rows).round(3),
            "churn": np.where(score > 1.2, "yes", "no"),
        }
    )


def days_frame(days: int = 100, per_day: int = 4, seed: int = 1) -> pd.DataFrame:
    """Sales per store and day: rows of one day share the day's effect; outliers on one side."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(days), per_day)
    price = rng.uniform(1, 10, len(day)).round(2)
    sales = 50 - 3 * price + rng.normal(0, 4, days)[day] + rng.normal(0, 1, len(day))
    sales += np.where(rng.random(len(day)) < 0.08, rng.exponential(40, len(day)), 0)
    return pd.DataFrame(
        {
            "day": (pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")).strftime("%Y-%m-%d"),
            "price": price,
            "store": rng.choice(["north", "south"], len(day)),
            "sales": sales.round(2),
        }
    )


@pytest.fixture(scope="module")
def jobs(stack) -> dict[str, dict]:
    """Two jobs trained once for the module: classes judged by F1 over groups with weights,
    values judged by MAE over time."""
    started = {}
    with stack.http() as client:
        for name, df, fields in (
            ("sites", sites_frame(), {"target": "churn", "metric": "f1", "positiveClass": "yes",
                                      "weightColumn": "w", "groupColumn": "site",
                                      "excludeColumns": "segment"}),
            ("days", days_frame(), {"metric": "mae", "timeColumn": "day"}),
        ):  # fmt: skip
            answer = upload(client, df.to_csv(index=False).encode(), filename=f"{name}.csv",
                            timeBudget=3, modelName=f"problem-{name}", **fields)[0]  # fmt: skip
            assert answer.status_code == 202, answer.text
            started[name] = {"frame": df, "id": answer.json()["trackingId"]}
        for job in started.values():
            job["job"] = wait_for_job(client, job["id"])
            assert job["job"]["status"] == "completed", job["job"]["error"]
    return started


def test_options_round_trip_and_the_result_says_how_the_model_was_judged(jobs):
    job = jobs["sites"]["job"]
    assert job["options"]["metric"] == "f1"
    for field, value in (("positiveClass", "yes"), ("weightColumn", "w"), ("groupColumn", "site"),
                         ("excludeColumns", ["segment"]), ("timeColumn", None)):  # fmt: skip
        assert job["options"][field] == value, field
    result = job["result"]
    assert result["primaryMetric"] == "f1" and result["higherIsBetter"] is True
    assert result["positiveClass"] == "yes" and 0 < result["decisionThreshold"] < 1
    validation = result["validation"]
    assert validation["scheme"] == "group" and validation["column"] == "site"
    assert validation["groups"] == 40 and 4 <= validation["heldOutGroups"] <= 12
    assert result["droppedColumns"]["w"] == "row weights (weightColumn)"
    assert result["droppedColumns"]["site"] == "the validation's groups (groupColumn)"
    assert {"w", "site", "segment"}.isdisjoint(result["features"])
    assert "f1" in result["metrics"] and "f1" in result["leaderboard"][0]
    assert "group" in result["search"]["validation"]


def test_the_predict_route_answers_labels_at_the_decision_threshold(stack, jobs):
    job, frame = jobs["sites"]["job"], jobs["sites"]["frame"]
    rows = records(frame[job["result"]["features"]])
    with stack.http() as client:
        body = client.post(
            "/api/model-inference/predict",
            json={"modelId": job["modelId"], "inputs": rows, "probabilities": True},
        ).json()
    yes = body["classes"].index("yes")
    p_yes = np.array([p[yes] for p in body["probabilities"]])
    threshold = job["result"]["decisionThreshold"]
    assert body["predictions"] == np.where(p_yes >= threshold, "yes", "no").tolist()
    argmax = np.where(p_yes > 0.5, "yes", "no")
    assert (np.array(body["predictions"]) != argmax).any(), "the threshold changed no label"


def test_time_validation_and_a_loss_reported_smallest_first(jobs):
    options = jobs["days"]["job"]["options"]
    assert (options["metric"], options["timeColumn"], options["groupColumn"]) == (
        "mae",
        "day",
        None,
    )
    result = jobs["days"]["job"]["result"]
    assert result["primaryMetric"] == "mae" and result["higherIsBetter"] is False
    validation = result["validation"]
    assert validation["scheme"] == "time" and validation["column"] == "day"
    assert validation["heldOutFrom"] >= "2024-03-10" and validation["heldOutTo"].startswith(
        "2024-04-09"
    )  # the latest fifth of 100 days
    assert "forward" in result["search"]["validation"]
    losses = [r["mae"] for r in result["leaderboard"] if r.get("trial") is not None and "mae" in r]
    assert losses == sorted(losses)
    assert result["champion"]["promoted"]


def test_a_retrain_with_another_metric_keeps_the_other_options_and_not_the_champion(stack, jobs):
    first = jobs["sites"]["job"]
    with stack.http() as client:
        answer = client.post(
            f"/api/model-train/{first['trackingId']}/retrain",
            json={"metric": "balanced_accuracy", "timeBudget": 2},
        )
        assert answer.status_code == 202, answer.text
        job = wait_for_job(client, answer.json()["trackingId"])
    assert job["status"] == "completed", job["error"]
    assert job["options"]["metric"] == "balanced_accuracy"
    assert (job["options"]["weightColumn"], job["options"]["groupColumn"]) == ("w", "site")
    result = job["result"]
    assert (
        result["primaryMetric"] == "balanced_accuracy" and result["decisionThreshold"] is not None
    )
    champion = result["champion"]
    assert not champion["promoted"] and "another metric (f1" in champion["reason"]


def test_what_only_the_data_tells_fails_the_job_naming_the_column(stack):
    df = sites_frame(rows=120)
    df.loc[3, "w"] = -1.0
    with stack.http() as client:
        answer = upload(client, df.to_csv(index=False).encode(), weightColumn="w", timeBudget=1)[0]
        assert answer.status_code == 202, answer.text
        job = wait_for_job(client, answer.json()["trackingId"])
    assert job["status"] == "failed" and "weightColumn 'w' has negative" in job["error"]
