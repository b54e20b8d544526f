import numpy as np
import pandas as pd
import pytest

from modeltrain.constants import Task
from modeltrain.exceptions import TrainingError
from modeltrain.pipeline import TrainOptions, train
from modeltrain.pipeline.features import plan_columns
from modeltrain.pipeline.tasks import detect_task
from tests.factories import classification_frame, regression_frame


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"] * 10, Task.CLASSIFICATION),
        ([True, False] * 15, Task.CLASSIFICATION),
        ([0, 1, 2] * 10, Task.CLASSIFICATION),
        ([0.0, 1.0] * 15, Task.CLASSIFICATION),
        (list(range(30)), Task.REGRESSION),
        ([0.5, 1.25, 3.0] * 10, Task.REGRESSION),
    ],
)
def test_auto_task_follows_the_target(values, task):
    assert detect_task(pd.Series(values)) == task


def test_an_explicit_task_wins():
    assert detect_task(pd.Series([0, 1] * 10), Task.REGRESSION) == Task.REGRESSION


def test_constant_empty_and_id_like_columns_are_dropped_with_a_reason():
    n = 100
    X = pd.DataFrame(
        {
            "const": [1] * n,
            "empty": [None] * n,
            "id": [f"user-{i}" for i in range(n)],
            "row": np.arange(n, dtype=float),
            "num": np.random.default_rng(0).normal(size=n),
            "cat": ["a", "b"] * (n // 2),
        }
    )
    plan = plan_columns(X)
    assert plan.numeric == ["num"] and plan.categorical == ["cat"]
    assert set(plan.dropped) == {"const", "empty", "id", "row"}
    assert "identifier" in plan.dropped["id"]
    assert "row number" in plan.dropped["row"]


def test_a_classifier_learns_a_learnable_target_and_reports_held_out_metrics():
    df = classification_frame(rows=400)
    trained = train(df, TrainOptions(target="churn", time_budget=4))
    assert trained.task == Task.CLASSIFICATION
    assert trained.classes == ["no", "yes"]
    assert trained.metrics["roc_auc"] > 0.85
    assert {"accuracy", "balanced_accuracy", "f1_macro", "log_loss"} <= set(trained.metrics)
    tried = {row["estimator"] for row in trained.leaderboard}
    assert {"lightgbm", "logistic_regression", "random_forest", "extra_trees"} <= tried
    # The registered pipeline takes raw rows, gaps included.
    raw = pd.DataFrame({"age": [30.0], "income": [None], "city": [None]})
    assert trained.pipeline.predict(raw)[0] in ("yes", "no")


def test_a_regressor_is_chosen_for_a_continuous_target_by_default_the_last_column():
    trained = train(regression_frame(rows=300), TrainOptions(time_budget=4))
    assert trained.task == Task.REGRESSION and trained.target == "y"
    assert trained.metrics["r2"] > 0.8 and {"rmse", "mae"} <= set(trained.metrics)


def test_a_single_class_target_is_a_readable_training_error():
    df = pd.DataFrame({"a": range(30), "y": ["only"] * 30})
    with pytest.raises(TrainingError, match="single class"):
        train(df, TrainOptions())


def test_too_few_rows_with_a_target_is_a_readable_training_error():
    df = pd.DataFrame({"a": range(30), "y": [None] * 25 + [1, 2, 1, 2, 1]})
    with pytest.raises(TrainingError, match="5 usable rows"):
        train(df, TrainOptions())


def test_no_usable_feature_is_a_readable_training_error():
    df = pd.DataFrame({"const": [1] * 40, "y": [0, 1] * 20})
    with pytest.raises(TrainingError, match="no usable feature columns"):
        train(df, TrainOptions())


def test_the_input_example_gives_integer_columns_as_floats_so_the_signature_allows_gaps():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"visits": rng.integers(0, 500, size=200), "city": ["a", "b"] * 100})
    df["label"] = np.where(df["visits"] > 250, "high", "low")
    trained = train(df, TrainOptions(target="label", time_budget=2))
    example = trained.input_example
    assert example["visits"].dtype == "float64"
    assert example["city"].tolist() == ["a", "b", "a", "b", "a"]


def test_excluded_columns_are_never_features_and_say_why():
    df = classification_frame(rows=200)
    df["leak"] = (df["churn"] == "yes").astype(int)  # the outcome itself, as a column
    options = TrainOptions(target="churn", time_budget=1, exclude_columns=("leak",))
    trained = train(df, options)
    assert "leak" not in trained.features
    assert trained.dropped_columns["leak"] == "excluded on request (excludeColumns)"
    assert "leak" not in trained.input_example.columns
    with pytest.raises(TrainingError, match="excludeColumns"):
        train(df, TrainOptions(target="churn", time_budget=1, exclude_columns=("churn",)))


def _rare_positive_frame(rows: int = 400) -> pd.DataFrame:
    df = classification_frame(rows=rows)
    rng = np.random.default_rng(5)
    score = (df["age"] - 50) / 10 + rng.normal(0, 1, rows)
    df["churn"] = np.where(score > 1.6, "yes", "no")  # about one row in ten
    df["w"] = rng.uniform(0.5, 2.0, rows).round(3)
    return df


def test_a_label_metric_gets_a_threshold_tuned_and_kept_in_the_model():
    df = _rare_positive_frame()
    options = TrainOptions(target="churn", time_budget=2, metric="f1", weight_column="w")
    trained = train(df, options)
    assert trained.primary_metric == "f1" and trained.positive_class == "yes"
    threshold = trained.decision_threshold
    assert threshold is not None and 0 < threshold < 1
    assert (
        trained.dropped_columns["w"] == "row weights (weightColumn)" and "w" not in trained.features
    )
    X = df[trained.features]
    proba = trained.pipeline.predict_proba(X)[:, trained.classes.index("yes")]
    labels = trained.pipeline.predict(X)
    assert (labels == np.where(proba >= threshold, "yes", "no")).all()
    assert list(trained.leaderboard[0])[2] == "f1"  # the leaderboard speaks in the metric
    values = [r["f1"] for r in trained.leaderboard if r.get("f1") is not None]
    assert (
        values == sorted(values, reverse=True) or trained.leaderboard[0]["estimator"] == "ensemble"
    )


def test_a_loss_is_reported_smallest_first():
    trained = train(regression_frame(rows=300), TrainOptions(time_budget=2, metric="mae"))
    assert trained.primary_metric == "mae" and not trained.higher_is_better
    rows = [
        r for r in trained.leaderboard if r.get("trial") is not None and r.get("mae") is not None
    ]
    assert [r["mae"] for r in rows] == sorted(r["mae"] for r in rows)
    assert trained.validation == {"scheme": "random", "heldOutRows": 60}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "f1"}, "metric 'f1' is about one class of two; the target has 3 classes"),
        ({"positive_class": "maybe"}, "positiveClass applies to two classes; this job has 3"),
        ({"metric": "r2"}, "metric 'r2' is for regression, not classification"),
        ({"weight_column": "neg"}, "weightColumn 'neg' has negative or infinite weights"),
        ({"weight_column": "zero"}, "weightColumn 'zero' is zero on every row"),
        ({"weight_column": "city"}, "weightColumn 'city' has .* missing or non-numeric"),
        ({"time_column": "city"}, "timeColumn 'city' has .* rows without a time"),
        ({"group_column": "few"}, "groupColumn 'few' has 2 groups"),
        ({"weight_column": "kind"}, "weightColumn names the target column 'kind'"),
    ],
)
def test_what_only_the_data_tells_fails_the_job_naming_the_option(change, message):
    df = classification_frame(rows=60)
    df["kind"] = np.resize(["a", "b", "c"], len(df))
    df["neg"], df["zero"], df["few"] = -1.0, 0.0, np.resize(["x", "y"], len(df))
    with pytest.raises(TrainingError, match=message):
        train(df, TrainOptions(target="kind", time_budget=1, task=Task.CLASSIFICATION, **change))


def test_a_positive_class_that_is_no_class_and_rmsle_of_negative_values_fail():
    with pytest.raises(TrainingError, match="positiveClass 'maybe' is no class of the target"):
        train(classification_frame(rows=60), TrainOptions(target="churn", positive_class="maybe"))
    df = regression_frame(rows=60)
    df["y"] -= 100
    with pytest.raises(TrainingError, match="metric 'rmsle' needs a non-negative target"):
        train(df, TrainOptions(metric="rmsle"))


def test_the_guardrails_hint_at_time_and_groups_until_the_options_are_given():
    from modeltrain.pipeline.guardrails import validation_hints

    df = regression_frame(rows=200)
    df["store_id"] = np.resize(np.arange(20), 200)
    df["date"] = pd.date_range("2024-01-01", periods=200, freq="D").astype(str)
    plan = plan_columns(df.drop(columns=["y"]))
    hints = validation_hints(df, "y", plan, None, None)
    assert any("set timeColumn=date" in h for h in hints)
    assert any("set groupColumn=store_id" in h for h in hints)
    assert validation_hints(df, "y", plan, "date", None) == []
    plain = regression_frame(rows=200)
    assert validation_hints(plain, "y", plan_columns(plain.drop(columns=["y"])), None, None) == []
