import numpy as np
import pandas as pd

from modeltrain.pipeline.features import normalise_features, plan_columns
from modeltrain_model.featurizer import Featurizer


def _mixed_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=rows, freq="53h")
    words = ["good", "bad", "service", "slow", "fast", "price", "ok"]
    return pd.DataFrame(
        {
            "amount": rng.normal(size=rows),
            "flag": rng.choice([True, False], size=rows),
            "colour": rng.choice(["red", "green", "blue", None], size=rows),
            "when": [d.strftime("%Y-%m-%d %H:%M:%S") for d in days],
            "review": [" ".join(rng.choice(words, size=rng.integers(3, 9))) for _ in range(rows)],
        }
    )


def test_columns_are_typed_as_numbers_categories_dates_and_text():
    plan = plan_columns(normalise_features(_mixed_frame()))
    assert plan.numeric == ["amount", "flag"]
    assert plan.categorical == ["colour"]
    assert plan.datetime == {"when": "%Y-%m-%d %H:%M:%S"}
    assert plan.text == ["review"]
    assert plan.kinds()["review"] == "text" and not plan.dropped


def test_day_first_dates_are_recognised_and_a_column_of_words_is_not_a_date():
    X = pd.DataFrame(
        {"d": ["31/01/2024", "15/02/2024", "01/03/2024"] * 20, "w": ["x", "y", "z"] * 20}
    )
    plan = plan_columns(X)
    assert plan.datetime == {"d": "%d/%m/%Y"} and plan.categorical == ["w"]


def test_the_featurizer_expands_dates_and_text_and_codes_categories():
    X = normalise_features(_mixed_frame())
    plan = plan_columns(X)
    f = Featurizer(plan.numeric, plan.categorical, plan.datetime, plan.text).fit(X)
    names = list(f.get_feature_names_out())
    assert {"when.year", "when.month", "when.hour", "when.day_of_week", "when.days"} <= set(names)
    assert {"review.chars", "review.words"} <= set(names)
    M = f.transform(X)
    assert M.shape == (len(X), len(names)) and M.dtype == np.float64
    colour = M[:, names.index("colour")]
    assert np.isnan(colour[X["colour"].isna().to_numpy()]).all()
    assert set(colour[~np.isnan(colour)]) <= {0.0, 1.0, 2.0}
    words = M[:, names.index("review.words")]
    assert (words == X["review"].str.split().str.len().to_numpy()).all()
    assert f.feature_sources_[names.index("when.hour")] == "when"
    assert f.categorical_indices_ == [names.index("colour")]


def test_one_row_gives_the_same_features_as_in_a_batch_and_unseen_values_are_missing():
    X = normalise_features(_mixed_frame())
    plan = plan_columns(X)
    f = Featurizer(plan.numeric, plan.categorical, plan.datetime, plan.text).fit(X)
    batch = f.transform(X)
    for i in (0, 17, 199):
        np.testing.assert_array_equal(f.transform(X.iloc[[i]]), batch[[i]])
    odd = X.head(1).assign(colour="purple", when="not a date", amount=None)
    row = f.transform(odd)[0]
    names = list(f.get_feature_names_out())
    assert np.isnan(row[names.index("colour")]) and np.isnan(row[names.index("when.year")])
    assert np.isnan(row[names.index("amount")])


def test_rare_values_of_a_high_cardinality_column_share_one_code():
    X = pd.DataFrame({"c": [f"v{i % 40}" for i in range(400)]})
    f = Featurizer([], ["c"], {}, [], max_categories=10).fit(X)
    codes = f.transform(X)[:, 0]
    assert set(codes) == set(range(11))  # ten kept values and "other"


def test_many_rows_of_strings_get_the_codes_one_row_at_a_time_gets():
    from modeltrain_model.featurizer import lookup_each

    codes, other = {"a": 0.0, "b": 1.0, "c": 2.0}, 3.0

    def code(text):
        return codes.get(text, other)

    values = np.array(["a", "b", None, "zzz", np.nan, "c", pd.NA] * 30, dtype=object)
    many = lookup_each(values, code, np.nan)  # one lookup per distinct value
    one_by_one = np.concatenate([lookup_each(values[i : i + 1], code, np.nan)
                                 for i in range(len(values))])  # fmt: skip
    np.testing.assert_array_equal(many, one_by_one)
    np.testing.assert_array_equal(many[:7], [0.0, 1.0, np.nan, 3.0, np.nan, 2.0, np.nan])
    mixed = np.array([1, "1", 2.5, 1.0] * 30, dtype=object)  # not all strings: str() of each
    lookup = {"1": 5.0, "2.5": 6.0, "1.0": 7.0}
    np.testing.assert_array_equal(
        lookup_each(mixed, lambda t: lookup.get(t, other), np.nan), [5.0, 5.0, 6.0, 7.0] * 30
    )
