"""The training options are declared once (modeltrain/training_options.py): the stored record,
the duplicate key, the pipeline's options and the CLI's flags are made from that table."""

from __future__ import annotations

import pytest

from modeltrain.cli import build_parser
from modeltrain.client.commands import _options_given
from modeltrain.config import Settings
from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.models import JobOptions
from modeltrain.jobs.options import build_options
from modeltrain.training_options import TRAINING, Given, parse_given

SETTINGS = Settings(_env_file=None)


def test_every_option_round_trips_through_the_stored_record():
    options = build_options(
        SETTINGS,
        {"target": " y ", "task": "regression", "modelName": "Sales 2024", "timeBudget": "12",
         "families": "ridge,lightgbm", "metric": " MAE", "weightColumn": "w",
         "timeColumn": "day", "groupColumn": "store"},
        "sales.csv",
    )  # fmt: skip
    assert options.target == "y" and options.task == Task.REGRESSION
    assert options.model_name == "Sales-2024" and options.time_budget == 12.0
    assert options.families == ("linear", "lightgbm")
    assert JobOptions.from_json(options.to_json()) == options
    assert options.pipeline_options() == {
        "target": "y", "task": Task.REGRESSION, "families": ("linear", "lightgbm"),
        "exclude_columns": None, "metric": "mae", "positive_class": None, "weight_column": "w",
        "time_column": "day", "group_column": "store",
    }  # fmt: skip
    assert options.duplicate_key().endswith('"mae","w","day","store"]')


def test_the_duplicate_key_of_the_first_options_is_what_it_was():
    """Keys stored before the table existed still match: an option added later joins the key
    only when it is set."""
    plain = JobOptions(target="y", model_name="m", time_budget=10.0, file_sha256="ab")
    assert plain.duplicate_key() == '["ab","y","auto","m",10.0]'
    picked = JobOptions(target="y", model_name="m", time_budget=10.0, families=("lightgbm",))
    assert picked.duplicate_key() == '[null,"y","auto","m",10.0,["lightgbm"]]'


def test_records_written_with_snake_case_keys_still_read():
    old = JobOptions.from_json('{"target": "y", "model_name": "m", "time_budget": 5}')
    assert (old.model_name, old.time_budget) == ("m", 5.0)


def test_a_retrain_changes_only_what_it_names_and_refuses_unknown_fields():
    given = Given(SETTINGS, "f.csv")
    assert parse_given({"timeBudget": 30}, given) == {"time_budget": 30.0}
    assert parse_given({"families": []}, given) == {"families": None}  # every family again
    assert parse_given({"metric": "f1", "positiveClass": "yes"}, given) == {
        "metric": "f1", "positive_class": "yes"}  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        parse_given({"metrics": "mae"}, given)
    assert refused.value.extra["field"] == "metrics"


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"metric": "auc"}, "metric", "unknown 'auc'; for classes: roc_auc"),
        ({"metric": "mae", "task": "classification"}, "metric", "'mae' is for regression"),
        ({"metric": "f1", "task": "regression"}, "metric", "its metrics are: r2, rmse"),
        ({"positiveClass": "yes", "task": "regression"}, "positiveClass", "not regression"),
        ({"positiveClass": "yes", "metric": "rmse"}, "positiveClass", "not regression"),
    ],
)
def test_options_that_contradict_each_other_are_refused_naming_the_field(fields, field, says):
    with pytest.raises(InvalidInput, match=says) as refused:
        build_options(SETTINGS, fields, "f.csv")
    assert refused.value.extra["field"] == field


def test_the_cli_has_a_flag_per_option_and_sends_it_by_its_field_name():
    parser = build_parser(SETTINGS)
    args = parser.parse_args(["train", "f.csv", "--time-budget", "5", "--model-name", "x",
                              "--metric", "f1", "--positive-class", "yes", "--exclude", "id",
                              "--weight-column", "w", "--time-column", "t",
                              "--group-column", "g"])  # fmt: skip
    assert _options_given(args) == {"timeBudget": 5.0, "modelName": "x", "metric": "f1",
                                    "positiveClass": "yes", "excludeColumns": "id",
                                    "weightColumn": "w", "timeColumn": "t",
                                    "groupColumn": "g"}  # fmt: skip
    retrain = parser.parse_args(["retrain", "abc", "--families", "lightgbm,linear"])
    assert _options_given(retrain) == {"families": "lightgbm,linear"}
    assert len(TRAINING) == len({o.field for o in TRAINING})


def test_a_column_option_must_name_columns_of_the_header_other_than_the_target():
    from modeltrain.training_options import check_columns

    options = build_options(SETTINGS, {"excludeColumns": "id, note,id"}, "f.csv")
    assert options.exclude_columns == ("id", "note")
    check_columns(options, ["id", "note", "x", "y"])  # the target: the last column
    with pytest.raises(InvalidInput) as missing:
        check_columns(options, ["id", "x", "y"])
    assert missing.value.extra["field"] == "excludeColumns" and "'note'" in missing.value.message
    with pytest.raises(InvalidInput, match="target"):
        check_columns(options, ["x", "id", "note"])
    weighted = build_options(SETTINGS, {"weightColumn": "y", "timeColumn": "t"}, "f.csv")
    with pytest.raises(InvalidInput) as the_target:
        check_columns(weighted, ["t", "x", "y"])
    assert the_target.value.extra["field"] == "weightColumn"
    with pytest.raises(InvalidInput) as no_time:
        check_columns(weighted, ["x", "w", "y"])
    assert no_time.value.extra["field"] in ("weightColumn", "timeColumn")
    assert JobOptions.from_json(options.to_json()) == options
    assert options.duplicate_key().endswith('["id","note"]]')
