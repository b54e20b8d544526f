"""Drift's pure parts: a training profile, served rows put in its bins, PSI and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeltrain.drift.counting import DriftCounter, bin_field
from modeltrain.drift.profile import Profile, build_profile, psi
from modeltrain.drift.report import drift_report

KINDS = {"age": "numeric", "city": "categorical", "day": "datetime", "note": "text"}
FORMATS = {"day": "%Y-%m-%d"}


def _frame(rows: int, seed: int, age_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Series(pd.date_range("2024-01-01", periods=365).strftime("%Y-%m-%d"))
    return pd.DataFrame(
        {
            "age": rng.normal(40 + age_shift, 10, rows),
            "city": rng.choice(["paris", "lyon", "nice", None], rows),
            "day": days.sample(rows, replace=True, random_state=seed).to_numpy(),
            "note": rng.choice(["good service", "slow and late delivery", None], rows),
        }
    )


@pytest.fixture(scope="module")
def profile() -> Profile:
    built = build_profile(_frame(5000, 0), KINDS, FORMATS)
    return Profile.from_json(json.loads(json.dumps(built.to_json())))  # as logged and loaded


def _counts(profile: Profile, frame: pd.DataFrame) -> dict[str, str]:
    counter = DriftCounter("m", "1", profile)
    for start in range(0, len(frame), 100):  # as requests of 100 rows
        counter.record(frame.iloc[start : start + 100])
    rows, counts = counter.take()
    return {"rows": str(rows), **{k: str(v) for k, v in counts.items()}}


def test_the_training_shares_add_up_and_name_their_bins(profile):
    for column in profile.columns:
        assert sum(column.shares) == pytest.approx(1.0, abs=1e-4)
        assert len(column.labels()) == len(column.shares)
    age = profile.columns[0]
    assert age.shares[1] == 0 and age.shares[-1] == 0  # nothing outside the training range
    assert max(age.shares[2:-1]) == pytest.approx(0.1, abs=0.01)  # deciles
    city = profile.columns[1]
    assert city.labels()[-2:] == ["other", "unseen"] and city.shares[0] == pytest.approx(0.25, 0.1)


def test_rows_like_the_training_rows_do_not_drift(profile):
    report = drift_report("models:/m/1", profile, _counts(profile, _frame(1000, 1)), 0.2, 500)
    assert report["rows"] == 1000 and report["drifted"] == []
    assert all(c["psi"] < 0.05 for c in report["columns"]), report["columns"]


def test_a_shifted_column_and_only_it_drifts(profile):
    counted = _counts(profile, _frame(1000, 2, age_shift=15))
    report = drift_report("models:/m/1", profile, counted, 0.2, 500)
    assert report["drifted"] == ["age"]
    age = report["columns"][0]
    assert age["outsideTrainingShare"] > 0  # values above the training maximum are reported


def test_unseen_categories_and_missing_values_have_their_own_bins(profile):
    served = _frame(600, 3)
    served["city"] = ["rome"] * 300 + [None] * 300
    report = drift_report("models:/m/1", profile, _counts(profile, served), 0.2, 500)
    city = next(c for c in report["columns"] if c["column"] == "city")
    assert city["drifted"] and city["outsideTrainingShare"] == 0.5
    assert city["missingShare"] == 0.5
    assert {b["bin"]: b["served"] for b in city["bins"]}["unseen"] == 0.5


def test_too_few_rows_say_why_and_judge_nothing(profile):
    report = drift_report("models:/m/1", profile, _counts(profile, _frame(100, 4)), 0.2, 500)
    assert report["drifted"] is None and "100 rows" in report["reason"]
    assert all(c["drifted"] is None for c in report["columns"])


def test_psi_of_the_same_shares_is_zero_and_grows_with_the_difference():
    assert psi([0.5, 0.5], np.array([50, 50])) == pytest.approx(0.0)
    assert psi([0.5, 0.5], np.array([70, 30])) < psi([0.5, 0.5], np.array([90, 10]))
    assert psi([0.5, 0.5], np.array([0, 0])) == 0.0


def test_a_counter_takes_what_piled_up_once(profile):
    counter = DriftCounter("m", "1", profile)
    counter.record(_frame(10, 5))
    rows, counts = counter.take()
    assert rows == 10 and sum(v for k, v in counts.items() if k.startswith("c0:")) == 10
    assert bin_field(0, 3) == "c0:3"
    assert counter.take() == (0, {})


def test_each_category_value_falls_in_its_bin(profile):
    city = next(c for c in profile.columns if c.name == "city")
    labels = city.labels()
    values = ["paris", "", None, np.nan, "rome", "lyon"] * 20  # as many rows as a block
    got = [labels[b] for b in city.bins(values)[:6]]
    assert got == ["paris", labels[0], labels[0], labels[0], "unseen", "lyon"]
    assert list(city.bins(values[:6])) == list(city.bins(values)[:6])


def test_many_requests_binned_at_once_count_as_each_binned_alone(profile):
    """The flusher bins every pending request's column in one go; the counts are those of
    binning each request (frames, and the column batches the predict route keeps) by itself."""
    from modeltrain_model.columns import ColumnBatch

    frame = _frame(60, 7)
    requests = [frame.iloc[i : i + 1] for i in range(30)]
    requests += [ColumnBatch({c: frame[c].to_numpy()[i : i + 2] for c in frame}, 2)
                 for i in range(30, 60, 2)]  # fmt: skip
    together = DriftCounter("m", "1", profile)
    expected: dict[str, int] = {}
    for request in requests:
        together.record(request)
        alone = DriftCounter("m", "1", profile)
        alone.record(request)
        for key, count in alone.take()[1].items():
            expected[key] = expected.get(key, 0) + count
    assert together.take() == (60, expected)
