"""Small real datasets, made in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd


def classification_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two numeric columns, a categorical one with gaps, and a string label learnable from them."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=rows),
            "income": rng.normal(50_000, 15_000, size=rows).round(2),
            "city": rng.choice(["paris", "lyon", "nice", None], size=rows),
        }
    )
    score = (df["age"] - 50) / 10 + (df["income"] - 50_000) / 10_000 + (df["city"] == "paris") * 1.5
    df["churn"] = np.where(score + rng.normal(0, 0.5, size=rows) > 0.3, "yes", "no")
    return df


def regression_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=rows),
            "x2": rng.uniform(0, 10, size=rows),
            "kind": rng.choice(["a", "b", "c"], size=rows),
        }
    )
    df["y"] = 3 * df["x1"] + df["x2"] ** 1.5 + df["kind"].map({"a": 0, "b": 5, "c": -5})
    df["y"] += rng.normal(0, 0.3, size=rows)
    return df


def to_chunks(data: bytes, count: int) -> list[bytes]:
    size = -(-len(data) // count)
    return [data[i : i + size] for i in range(0, len(data), size)]


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts, missing values as null."""
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def slow_frame(rows: int = 60_000, seed: int = 0) -> pd.DataFrame:
    """A regression problem that keeps LightGBM boosting for many rounds (seconds on one
    thread): for tests that need a job to be in the middle of training."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 12))
    y = (
        np.sin(X[:, 0] * 3) * X[:, 1]
        + np.abs(X[:, 2] * X[:, 3])
        + np.cos(X[:, 4] * X[:, 5] * 2)
        + X[:, 6:].sum(axis=1) ** 2 / 10
    )
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)]).round(4)
    df["y"] = (y + rng.normal(0, 0.05, size=rows)).round(4)
    return df


def mixed_frame(rows: int = 400, seed: int = 0, noise: float = 0.4) -> pd.DataFrame:
    """Every kind of column the featurizer knows: numbers, a category, dates and free text; a
    label that depends on the number and the category (and on ``noise``)."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, size=rows).round(2)
    segment = rng.choice(["retail", "business", "public"], size=rows)
    words = np.array(["late", "fine", "again", "refund", "thanks", "broken", "slow", "great"])
    df = pd.DataFrame(
        {
            "amount": amount,
            "segment": segment,
            "signup": (
                pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), "D")
            ).strftime("%Y-%m-%d"),
            "comment": [" ".join(rng.choice(words, size=rng.integers(3, 7))) for _ in range(rows)],
        }
    )
    score = (amount - 100) / 40 + (segment == "business") * 1.5 + rng.normal(0, noise, rows)
    df["label"] = np.where(score > 0.2, "yes", "no")
    return df


def boosting_frame(rows: int, seed: int) -> pd.DataFrame:
    """A noisy sum of curves, steps and an interaction: boosted trees fit it best (a forest
    averages the noise less well, a line misses the curves)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.uniform(-2, 2, size=rows).round(3) for i in range(4)})
    frame["kind"] = rng.choice(["a", "b", "c"], size=rows)
    frame["y"] = (
        2 * np.sin(2 * frame["x0"])
        + 2 * (frame["x1"] > 0) * (frame["x2"] > 0)
        + frame["x3"] ** 2
        + frame["kind"].map({"a": 0.0, "b": 1.0, "c": -1.0})
        + rng.normal(0, 1.0, size=rows)
    )
    return frame
