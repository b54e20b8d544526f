"""Tell early whether an upload is a CSV we can train on, from its first bytes.

Finds the encoding and the delimiter and reads the header; refuses what is clearly not a
usable CSV with a message a person can act on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from modeltrain.constants import MAX_COLUMNS, MAX_FIELD_BYTES
from modeltrain.exceptions import InvalidCsv

_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (or an Excel .xlsx file)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PAR1": "a Parquet file",
}
_DELIMITERS = [",", ";", "\t", "|"]


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    columns: list[str]


def _decode(head: bytes) -> tuple[str, str]:
    """Decode the head of a file; returns (text, encoding name for pandas)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return head[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore"), "utf-16"
    if b"\x00" in head:
        raise InvalidCsv("the file is not text (it contains NUL bytes); upload a CSV file")
    try:
        return head.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is fine.
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8"), "utf-8"
        return head.decode("latin-1"), "latin-1"


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def inspect_head(
    head: bytes,
    *,
    complete: bool,
    target: str | None,
    header_cap: int | None = None,
    min_columns: int = 2,
) -> CsvFormat | None:
    """Check the start of an upload; ``complete`` says the head is the whole file. A file to
    train on needs two columns (features and a target); one to predict, one (``min_columns``).

    Returns None when the header has not fully arrived yet (and the upload is not complete);
    raises InvalidCsv with a readable message when the file cannot be a usable CSV.
    """
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InvalidCsv(f"the file is {what}, not a CSV text file")
    if not head.strip():
        if complete:
            raise InvalidCsv("the file is empty")
        return None
    text, encoding = _decode(head)
    newline = text.find("\n")
    if newline < 0 and not complete:
        if header_cap is not None and len(head) >= header_cap:
            raise InvalidCsv(f"the header line is longer than {header_cap} bytes")
        return None
    header_line = text if newline < 0 else text[:newline]
    delimiter = _sniff_delimiter(header_line)
    try:
        header = next(csv.reader(io.StringIO(header_line.rstrip("\r")), delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise InvalidCsv(f"the header line cannot be read as CSV: {exc}") from exc
    columns = [c.strip() for c in header]
    if len(columns) < min_columns:
        what = "two columns (the features and the column to predict)"
        raise InvalidCsv(
            f"the file needs a header row with at least {what if min_columns > 1 else 'a column'}"
            f"; found {len(columns)} column{'s' if len(columns) != 1 else ''}"
        )
    if len(columns) > MAX_COLUMNS:
        raise InvalidCsv(f"the file has {len(columns)} columns; at most {MAX_COLUMNS} are allowed")
    if any(not c for c in columns):
        raise InvalidCsv("the header has an empty column name")
    seen: set[str] = set()
    dupes = sorted({c for c in columns if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dupes:
        raise InvalidCsv(f"the header repeats column names: {', '.join(dupes)}")
    if target is not None and target not in columns:
        raise InvalidCsv(
            f"target column {target!r} is not in the header; columns are: "
            + ", ".join(columns[:50])
        )
    rest = text[newline + 1 :] if newline >= 0 else ""
    if complete and not rest.strip():
        raise InvalidCsv("the file has a header but no data rows")
    head_full = header_cap is not None and len(head) >= header_cap
    _check_rows(rest, delimiter, len(columns), complete=complete, head_full=head_full)
    return CsvFormat(encoding=encoding, delimiter=delimiter, columns=columns)


def _check_rows(
    body: str, delimiter: str, width: int, *, complete: bool, head_full: bool = False
) -> None:
    """Ragged rows, unclosed quotes and giant fields in the rows we have, by line number."""
    if not complete:  # the last line may be cut off mid-row: leave it for the next chunk
        cut = body.rfind("\n")
        if cut < 0 and head_full:
            raise InvalidCsv(
                f"line 2 is longer than {MAX_FIELD_BYTES} bytes; "
                f"a field may be at most {MAX_FIELD_BYTES} bytes"
            )
        body = body[: cut + 1] if cut >= 0 else ""
    reader = csv.reader(io.StringIO(body), delimiter=delimiter, strict=True)
    previous = csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = reader.line_num + 1
                if "field larger" in str(exc):
                    raise InvalidCsv(
                        f"line {line} has a field larger than {MAX_FIELD_BYTES} bytes"
                    ) from None
                if not complete and "end of data" in str(exc).lower():
                    return  # a quoted field that goes on in the next chunk
                if "end of data" in str(exc).lower() or "quote" in str(exc).lower():
                    raise InvalidCsv(f"line {line}: a quoted field is never closed") from None
                raise InvalidCsv(f"line {line} cannot be read as CSV: {exc}") from None
            if row and len(row) != width and any(cell.strip() for cell in row):
                raise InvalidCsv(
                    f"line {reader.line_num + 1} has {len(row)} fields; the header has {width}"
                )
    finally:
        csv.field_size_limit(previous)
