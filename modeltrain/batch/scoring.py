"""Predicting a whole frame with a loaded model, block by block, as CSV: the same steps as the
synchronous predict route (conform to the signature, run the model, the answer as CSV), so a
batch job's predictions are those the route gives for the same rows. Framework-free."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from modeltrain.exceptions import InvalidInput
from modeltrain.serving.cache import LoadedModel
from modeltrain.serving.predictor import (
    answer,
    answer_as_csv,
    check_probabilities,
    conform,
    run_model,
)


class BatchMismatch(InvalidInput):
    """The file's columns or values do not fit the model."""


def score_blocks(
    model: LoadedModel, frame: pd.DataFrame, probabilities: bool, block_rows: int
) -> Iterator[tuple[int, pd.DataFrame, bytes]]:
    """(rows done so far, the block's conformed inputs, the block's CSV) per block of
    ``block_rows`` rows, in the file's order; only the first block's CSV has the header."""
    if probabilities:
        check_probabilities(model)
    done = 0
    for start in range(0, len(frame), block_rows):
        block = frame.iloc[start : start + block_rows]
        try:
            data = conform(block, model)
            result = answer(model, *run_model(model, data, probabilities))
        except InvalidInput as exc:
            lines = f" (rows {start + 1}–{start + len(block)})" if start else ""
            raise BatchMismatch(
                f"the file does not fit {model.model_id}{lines}: {exc.message}", **exc.extra
            ) from None
        csv = answer_as_csv(result)
        if start:
            csv = csv[csv.index(b"\n") + 1 :]  # the header once, in the first block
        done += len(block)
        yield done, data, csv
