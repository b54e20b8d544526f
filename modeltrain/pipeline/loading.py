"""Reading the staged CSV bytes into a DataFrame."""

from __future__ import annotations

import csv
import io

import pandas as pd

from modeltrain.constants import MAX_FIELD_BYTES
from modeltrain.exceptions import TrainingError


def read_csv(data: bytes, *, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            sep=delimiter or ",",
            encoding=encoding or "utf-8",
            encoding_errors="replace",
            skipinitialspace=True,
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        raise TrainingError(f"the CSV cannot be parsed: {exc}") from exc
    except (csv.Error, UnicodeError, ValueError) as exc:
        raise TrainingError(f"the CSV cannot be read: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise TrainingError("the CSV has no data rows")
    _refuse_giant_fields(df)
    return df


def _refuse_giant_fields(df: pd.DataFrame) -> None:
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        lengths = col.astype("string").str.len()
        if lengths.max(skipna=True) > MAX_FIELD_BYTES:
            row = int(lengths.to_numpy(na_value=0).argmax())
            raise TrainingError(
                f"line {row + 2}, column {name!r}: a field is longer than {MAX_FIELD_BYTES} "
                "characters"
            )
