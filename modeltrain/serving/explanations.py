"""Per-row explanations of a loaded version's predictions, as the predict route answers them
(the method: modeltrain_model/explain.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from modeltrain.exceptions import InvalidInput
from modeltrain.serving.cache import LoadedModel
from modeltrain_model.columns import ColumnBatch


def check_explainable(model: LoadedModel) -> None:
    if not model.takes_columns or not model.columns:
        raise InvalidInput(
            "this model cannot be explained: it is not a pipeline trained by this service",
            field="explain",
        )


def explanations(model: LoadedModel, data: pd.DataFrame | ColumnBatch) -> list[dict[str, Any]]:
    """One ``{"value", "base", "class"?, "contributions": {column: …}}`` per row, for the
    signature's columns in order (a column the model does not use contributes 0)."""
    from modeltrain_model.explain import ExplanationUnavailable, explain

    columns = [name for name, _, _ in model.columns]
    try:
        out = explain(model.raw, data, columns)
    except ExplanationUnavailable as exc:
        raise InvalidInput(f"this model cannot be explained: {exc}", field="explain") from None
    rows = []
    for i in range(len(out.value)):
        row: dict[str, Any] = {"value": float(out.value[i]), "base": float(out.base[i])}
        if out.classes is not None:
            label = out.classes[i]
            row["class"] = label.item() if hasattr(label, "item") else label
        row["contributions"] = dict(zip(columns, out.contributions[i].tolist(), strict=True))
        rows.append(row)
    return rows
