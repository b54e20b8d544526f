import pandas as pd
import pytest

from modeltrain.exceptions import InvalidInput, PayloadTooLarge
from modeltrain.serving.cache import LoadedModel
from modeltrain.serving.predictor import conform, frame_from_request, model_frame

MODEL = LoadedModel(
    name="m",
    version="1",
    pyfunc=None,
    raw=None,
    columns=[("age", "double", True), ("city", "string", False)],
    load_seconds=0.0,
)


def test_rows_come_from_inputs_records_or_split():
    rows = [{"age": 1, "city": "x"}]
    split = {"columns": ["age", "city"], "data": [[1, "x"]]}
    for body in ({"inputs": rows}, {"dataframe_records": rows}, {"dataframe_split": split}):
        got = frame_from_request(body, max_rows=10)
        as_records = got if isinstance(got, list) else got.to_dict(orient="records")
        assert as_records == rows


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": [], "dataframe_records": []},
        {"inputs": "x"},
        {"inputs": []},
        {"dataframe_split": {"data": []}},
    ],
)
def test_bad_row_payloads_are_refused(body):
    with pytest.raises(InvalidInput):
        frame_from_request(body, max_rows=10)


def test_too_many_rows_is_413():
    with pytest.raises(PayloadTooLarge):
        frame_from_request({"inputs": [{"a": 1}] * 11}, max_rows=10)


def test_integers_become_doubles_missing_optional_columns_are_added_extras_dropped():
    frame = conform(pd.DataFrame([{"age": 3, "extra": 1}]), MODEL)
    assert list(frame.columns) == ["age", "city"]
    assert frame["age"].dtype == "float64" and frame["city"].iloc[0] is None


def test_a_missing_required_column_is_named():
    with pytest.raises(InvalidInput, match="missing columns: age"):
        conform(pd.DataFrame([{"city": "x"}]), MODEL)


def test_a_value_of_the_wrong_type_names_its_column():
    with pytest.raises(InvalidInput, match="age"):
        conform(pd.DataFrame([{"age": "old", "city": "x"}]), MODEL)


def test_records_become_the_signature_frame_in_one_pass():
    frame = model_frame([{"age": 3, "city": "x"}, {"age": "4.5"}, {"age": None, "city": 7}], MODEL)
    assert list(frame.columns) == ["age", "city"]
    assert frame["age"].tolist()[:2] == [3.0, 4.5] and pd.isna(frame["age"][2])
    city = frame["city"].tolist()
    assert city[0] == "x" and pd.isna(city[1]) and city[2] == "7"


def test_records_with_text_in_a_number_column_name_it():
    with pytest.raises(InvalidInput, match="age"):
        model_frame([{"age": "old"}], MODEL)


def test_records_without_a_required_column_name_it():
    with pytest.raises(InvalidInput, match="missing columns: age"):
        model_frame([{"city": "x"}], MODEL)


def test_records_and_csv_rows_become_the_same_frame():
    rows = [{"age": 30, "city": None}, {"age": 40.5, "city": "x"}]
    from_records = model_frame(rows, MODEL)
    from_csv = model_frame(pd.DataFrame(rows), MODEL)
    pd.testing.assert_frame_equal(from_records, from_csv)


def test_a_pipeline_of_ours_predicts_the_same_from_columns_as_from_a_frame():
    from modeltrain.pipeline import TrainOptions, train
    from modeltrain.serving.batching import concat
    from modeltrain.serving.predictor import run_model
    from modeltrain_model.columns import ColumnBatch
    from tests.factories import classification_frame

    trained = train(classification_frame(rows=200), TrainOptions(target="churn", time_budget=2))
    model = LoadedModel("m", "1", None, trained.pipeline,
                        [("age", "double", True), ("income", "double", True),
                         ("city", "string", False)], 0.0)  # fmt: skip
    rows = [{"age": 30, "income": 52_000.5, "city": "paris"}, {"age": 61, "income": None}]
    columns = model_frame(rows, model)
    assert isinstance(columns, ColumnBatch) and columns.rows == 2
    frame = conform(pd.DataFrame.from_records(rows), model)
    assert run_model(model, columns, True) == run_model(model, frame, True)
    both = concat([columns, model_frame(rows[:1], model)])
    assert both.rows == 3 and run_model(model, both)[0][2] == run_model(model, frame)[0][0]


def test_columns_read_from_a_csv_are_conformed_as_value_by_value():
    """The fast paths for typed columns (numbers, strings) give what the per-value path gives."""
    frame = pd.DataFrame(
        {
            "age": pd.Series([1, 2, None, 4] * 50, dtype="float64"),
            "city": pd.Series(["x", None, "y", "z"] * 50, dtype="str"),
        }
    )
    fast = conform(frame, MODEL)
    mixed = frame.astype(object)
    mixed.loc[3, "city"] = 7  # not all strings: every value looked at
    slow = conform(mixed, MODEL)
    pd.testing.assert_frame_equal(fast.drop(index=3), slow.drop(index=3))
    assert slow.loc[3, "city"] == "7"
    assert fast["city"].isna().sum() == 50 and fast["city"].iloc[0] == "x"
    assert fast["age"].dtype == "float64" and fast["age"].isna().sum() == 50
    flags = conform(pd.DataFrame({"age": [True, False], "city": ["a", "b"]}), MODEL)
    assert flags["age"].tolist() == [1.0, 0.0]
