"""The drift report of one version: PSI per column of the rows served since the window began,
against the training profile."""

from __future__ import annotations

from typing import Any

import numpy as np

from modeltrain.drift.counting import ROWS_FIELD, SINCE_FIELD, bin_field
from modeltrain.drift.profile import Profile, psi


def drift_report(
    model_id: str,
    profile: Profile,
    counted: dict[str, str],
    threshold: float,
    min_rows: int,
) -> dict[str, Any]:
    """``counted`` is the version's Redis hash (field -> count), as text."""
    rows = int(counted.get(ROWS_FIELD, 0))
    enough = rows >= min_rows
    columns = []
    for i, column in enumerate(profile.columns):
        counts = np.array(
            [int(counted.get(bin_field(i, b), 0)) for b in range(column.size)], dtype=float
        )
        shares = counts / counts.sum() if counts.sum() else counts
        value = round(psi(column.shares, counts), 6)
        labels = column.labels()
        columns.append(
            {
                "column": column.name,
                "kind": column.kind,
                "psi": value,
                "missingShare": round(float(shares[0]), 6),
                "outsideTrainingShare": round(float(shares[column.outside_bins()].sum()), 6),
                "drifted": (value > threshold) if enough else None,
                "bins": [
                    {
                        "bin": labels[b],
                        "training": column.shares[b],
                        "served": round(float(shares[b]), 6),
                    }
                    for b in range(column.size)
                ],
            }
        )
    return {
        "modelId": model_id,
        "rows": rows,
        "since": counted.get(SINCE_FIELD),
        "threshold": threshold,
        "minRows": min_rows,
        "columns": columns,
        "drifted": [c["column"] for c in columns if c["drifted"]] if enough else None,
        "reason": None
        if enough
        else f"{rows} rows counted since the window began; drift is judged from {min_rows}",
    }
