"""ColumnBatch: rows as one 1-D array per column. Its own module, with numpy only, because the
API builds it on every prediction and should not import scikit-learn to do so."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class ColumnBatch(Mapping):
    """Rows as one 1-D array per column: what the prediction service builds from JSON records
    without pandas (a DataFrame of one row costs more to build than the model takes to
    predict). The featurizer reads it like a DataFrame."""

    def __init__(self, columns: dict[str, np.ndarray], rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @staticmethod
    def concat(batches: list[ColumnBatch]) -> ColumnBatch:
        names = batches[0].columns
        return ColumnBatch(
            {name: np.concatenate([b.columns[name] for b in batches]) for name in names},
            sum(b.rows for b in batches),
        )
