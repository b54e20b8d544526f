import pytest

from modeltrain.exceptions import InvalidInput
from modeltrain.registry.model_ids import ModelRef, parse_model_id, safe_model_name


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        ("models:/churn/3", ModelRef("churn", "3")),
        ("churn/12", ModelRef("churn", "12")),
        ("models:/churn@champion", ModelRef("churn", alias="champion")),
        ("models:/my.model-v_2/1", ModelRef("my.model-v_2", "1")),
    ],
)
def test_model_ids_in_every_accepted_form_parse(raw, ref):
    assert parse_model_id(raw) == ref


@pytest.mark.parametrize(
    "raw", ["", "churn", "models:/churn", "models:/churn/x", "churn@a", "../x/1"]
)
def test_malformed_model_ids_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_model_id(raw)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Sales Data.csv", "Sales-Data"),
        ("../../etc/passwd", "etc-passwd"),
        ("données.csv", "donnees"),
        ("", "model"),
        ("!!!", "model"),
        ("x" * 500, "x" * 100),
    ],
)
def test_model_names_are_made_registry_safe(raw, name):
    assert safe_model_name(raw) == name
