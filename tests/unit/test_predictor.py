import pandas as pd
import pytest

from modeltrain.exceptions import InvalidInput, PayloadTooLarge
from modeltrain.serving.cache import LoadedModel
from modeltrain.serving.predictor import conform, frame_from_request

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
        frame = frame_from_request(body, max_rows=10)
        assert frame.to_dict(orient="records") == rows


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
