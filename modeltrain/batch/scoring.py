"""Predicting a whole frame with a loaded model, block by block, as CSV: the same steps as the
synchronous predict route (conform to the signature, run the model, the answer as CSV), so a
batch job's predictions are those the route gives for the same rows. Framework-free."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

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


@dataclass
class Block:
    done: int  # rows done so far, this block's included
    inputs: pd.DataFrame  # the block's rows conformed to the signature
    csv: bytes  # its predictions; only the first block's CSV has the header
    compiled: bool  # predicted by a compiled view of the model (batch/compiled.py)


def score_blocks(
    model: LoadedModel,
    frame: pd.DataFrame,
    probabilities: bool,
    block_rows: int,
    faster: Callable[[LoadedModel], LoadedModel | None] = lambda model: None,
) -> Iterator[Block]:
    """The frame's blocks of ``block_rows`` rows predicted in the file's order. ``faster``
    gives, before each block, a view of the model that predicts the same values faster, when
    there is one yet (batch/compiled.py)."""
    if probabilities:
        check_probabilities(model)
    done = 0
    for start in range(0, len(frame), block_rows):
        block = frame.iloc[start : start + block_rows]
        view = faster(model)
        try:
            data = conform(block, model)
            result = answer(model, *run_model(view or model, data, probabilities))
        except InvalidInput as exc:
            lines = f" (rows {start + 1}–{start + len(block)})" if start else ""
            raise BatchMismatch(
                f"the file does not fit {model.model_id}{lines}: {exc.message}", **exc.extra
            ) from None
        csv = answer_as_csv(result)
        if start:
            csv = csv[csv.index(b"\n") + 1 :]  # the header once, in the first block
        done += len(block)
        yield Block(done, data, csv, compiled=view is not None)
