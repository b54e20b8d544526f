import pytest

from modeltrain.exceptions import InvalidCsv
from modeltrain.uploads.csv_format import inspect_head


def test_a_plain_comma_csv_gives_its_columns():
    fmt = inspect_head(b"a,b,label\n1,2,x\n", complete=True, target="label")
    assert (fmt.encoding, fmt.delimiter, fmt.columns) == ("utf-8", ",", ["a", "b", "label"])


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_sniffed_from_the_header(delimiter):
    head = (
        delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "2", "3"]) + "\n"
    ).encode()
    assert inspect_head(head, complete=True, target=None).delimiter == delimiter


def test_a_utf8_bom_does_not_end_up_in_the_first_column_name():
    fmt = inspect_head("\ufeffname,value\nx,1\n".encode(), complete=True, target="name")
    assert fmt.columns[0] == "name" and fmt.encoding == "utf-8-sig"


def test_utf16_with_bom_is_read():
    fmt = inspect_head("a,b\n1,2\n".encode("utf-16"), complete=True, target=None)
    assert fmt.columns == ["a", "b"] and fmt.encoding == "utf-16"


def test_latin1_is_the_fallback():
    fmt = inspect_head("café,prix\nx,1\n".encode("latin-1"), complete=True, target=None)
    assert fmt.columns == ["café", "prix"] and fmt.encoding == "latin-1"


def test_an_incomplete_header_waits_for_more_bytes():
    assert inspect_head(b"a,b,c", complete=False, target=None) is None


def test_a_multibyte_character_cut_at_the_end_is_not_latin1():
    head = "prix,été\n1,".encode() + "é".encode()[:1]
    assert inspect_head(head, complete=False, target=None).encoding == "utf-8"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"PK\x03\x04rest", "ZIP"),
        (b"\x1f\x8b\x08rest", "gzip"),
        (b"a\x00b,c\n", "NUL"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"justone\n1\n", "at least two columns"),
        (b"a,,c\n1,2,3\n", "empty column name"),
        (b"a,b,a\n1,2,3\n", "repeats column names: a"),
        (b"a,b\n", "no data rows"),
    ],
)
def test_files_that_cannot_be_a_usable_csv_are_refused(head, message):
    with pytest.raises(InvalidCsv, match=message):
        inspect_head(head, complete=True, target=None)


def test_an_unknown_target_names_the_columns():
    with pytest.raises(InvalidCsv, match="'z' is not in the header; columns are: a, b"):
        inspect_head(b"a,b\n1,2\n", complete=True, target="z")


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields; the header has 3"),
        (b"a,b\n1,2\n3,4,5,6\n", "line 3 has 4 fields; the header has 2"),
        (b'a,b\n1,"never closed\n2,3\n', "a quoted field is never closed"),
        (b"a,b\n1," + b"x" * 70_000 + b"\n", "line 2 has a field larger than 65536 bytes"),
    ],
)
def test_broken_rows_are_refused_with_their_line_number(head, message):
    with pytest.raises(InvalidCsv, match=message):
        inspect_head(head, complete=True, target=None)


def test_a_row_cut_at_the_end_of_an_unfinished_upload_is_not_an_error():
    assert inspect_head(b'a,b\n1,2\n3,"multi\nline', complete=False, target=None) is not None
    assert inspect_head(b"a,b,c\n1,2,3\n4,5", complete=False, target=None) is not None


def test_blank_lines_and_a_final_newline_are_fine():
    assert inspect_head(b"a,b\n1,2\n\n3,4\n", complete=True, target=None).columns == ["a", "b"]


def test_quoted_fields_with_delimiters_and_newlines_count_as_one_field():
    head = b'a,b\n"x, y",1\n"multi\nline",2\n'
    assert inspect_head(head, complete=True, target=None).columns == ["a", "b"]


def test_a_first_row_longer_than_the_sniffed_head_is_a_giant_field():
    head = b"a,b\n1," + b"x" * 200
    with pytest.raises(InvalidCsv, match="line 2 is longer than 65536 bytes"):
        inspect_head(head, complete=False, target=None, header_cap=len(head))


def test_a_header_longer_than_the_sniffed_head_is_refused():
    with pytest.raises(InvalidCsv, match="header line is longer than 100 bytes"):
        inspect_head(b"a," * 60, complete=False, target=None, header_cap=100)
