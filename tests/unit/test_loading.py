import pytest

from modeltrain.exceptions import TrainingError
from modeltrain.pipeline.loading import read_csv


def test_a_csv_is_read_with_the_encoding_and_delimiter_found_at_upload():
    df = read_csv("a;b\n1;é\n".encode("latin-1"), encoding="latin-1", delimiter=";")
    assert list(df.columns) == ["a", "b"] and df["b"][0] == "é"


def test_a_ragged_row_past_the_checked_head_fails_with_its_line_number():
    data = b"a,b\n" + b"1,2\n" * 10 + b"3,4,5\n"
    with pytest.raises(TrainingError, match="line 12"):
        read_csv(data, encoding="utf-8", delimiter=",")


def test_a_giant_field_past_the_checked_head_fails_with_its_line_number():
    data = b"a,b\n1,2\n3," + b"z" * 70_000 + b"\n"
    with pytest.raises(TrainingError, match="line 3, column 'b'"):
        read_csv(data, encoding="utf-8", delimiter=",")
