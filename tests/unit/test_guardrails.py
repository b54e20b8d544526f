import numpy as np
import pandas as pd

from modeltrain.constants import Task
from modeltrain.pipeline.features import normalise_features, plan_columns
from modeltrain.pipeline.guardrails import build_report
from tests.factories import classification_frame, regression_frame


def _report(df: pd.DataFrame, target: str, task: Task) -> dict:
    X = normalise_features(df.drop(columns=[target]))
    plan = plan_columns(X)
    return build_report(df, target, task, X[plan.used], df[target], plan)


def test_a_column_that_is_the_label_in_disguise_is_reported_as_leakage():
    df = classification_frame(rows=300)
    df.insert(0, "outcome_code", df["churn"].map({"yes": "Y", "no": "N"}))
    report = _report(df, "churn", Task.CLASSIFICATION)
    assert "outcome_code" in report["leakage"]
    assert any("possible leakage: 'outcome_code'" in w for w in report["warnings"])


def test_a_numeric_copy_of_a_regression_target_is_reported_as_leakage():
    df = regression_frame(rows=300)
    df.insert(0, "y_times_two", df["y"] * 2)
    report = _report(df, "y", Task.REGRESSION)
    assert set(report["leakage"]) == {"y_times_two"}


def test_honest_data_has_no_leakage_and_the_report_describes_it():
    df = classification_frame(rows=300)
    df = pd.concat([df, df.head(7)], ignore_index=True)
    report = _report(df, "churn", Task.CLASSIFICATION)
    assert report["leakage"] == {}
    assert report["duplicateRows"] == 7 and report["rows"] == 307
    assert set(report["classBalance"]) == {"yes", "no"}
    assert 0 < report["missingShare"]["city"] < 0.5


def test_rare_classes_and_skewed_targets_are_warned_about():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=400), "label": ["common"] * 380 + ["rare"] * 20})
    assert any("rare classes" in w for w in _report(df, "label", Task.CLASSIFICATION)["warnings"])
    skewed = pd.DataFrame({"x": rng.normal(size=400), "y": rng.lognormal(0, 2, size=400)})
    report = _report(skewed, "y", Task.REGRESSION)
    assert report["targetSummary"]["skew"] > 2 and any("skewed" in w for w in report["warnings"])
