import time

import numpy as np
import pandas as pd
import pytest

from modeltrain.constants import Task
from modeltrain.pipeline import TrainOptions, train
from modeltrain.pipeline.families import families_for
from modeltrain.pipeline.search import search
from modeltrain.pipeline.selection import select_weights
from modeltrain.pipeline.trials import make_folds


def test_small_data_is_cross_validated_and_large_data_uses_one_split():
    y = np.array([0, 1] * 500)
    folds, how = make_folds(y, Task.CLASSIFICATION)
    assert how == "5-fold cross-validation" and len(folds) == 5
    covered = np.sort(np.concatenate([v for _, v in folds]))
    assert (covered == np.arange(len(y))).all()  # every row validated once
    folds, how = make_folds(np.arange(30_000, dtype=float), Task.REGRESSION)
    assert how == "holdout" and len(folds) == 1 and len(folds[0][1]) == 6_000


def test_greedy_selection_mixes_candidates_only_when_the_mix_scores_better():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    over, under = y + 1.0, y - 1.0  # each off by one, their average is exact
    neg_mse = lambda truth, out, weight: -float(((truth - out) ** 2).mean())  # noqa: E731
    mixed = select_weights([over, under], y, neg_mse)
    assert mixed.counts == [1, 1] and mixed.score == pytest.approx(0.0)
    assert mixed.output == pytest.approx(y)  # the average the score was of
    alone = select_weights([y, over], y, neg_mse)
    assert alone.counts == [1, 0] and alone.score == pytest.approx(0.0)
    assert alone.output == pytest.approx(y)


def test_the_search_tries_every_family_first_then_explores_within_the_budget():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    seen = []
    found = search(X, y, Task.CLASSIFICATION, [], time.monotonic() + 8, threads=1,
                   on_progress=seen.append)  # fmt: skip
    families = [t.family for t in found.trials[:4]]
    assert families == ["linear", "lightgbm", "extra_trees", "random_forest"]
    assert len(found.trials) > 4 and len(seen) >= len(found.trials)
    assert seen[-1] is found.ranked[0]  # progress reports carry the best so far
    assert found.ranked[0].score == max(t.score for t in found.trials)
    assert found.ranked[0].score > 0.9


def test_a_search_told_its_families_tries_only_those():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    calls = iter(range(1000))
    found = search(X, y, Task.CLASSIFICATION, [0], time.monotonic() + 60, threads=1,
                   should_stop=lambda: next(calls) >= 12,
                   only=("random_forest", "linear"))  # fmt: skip
    assert {t.family for t in found.trials} == {"linear", "random_forest"}
    assert [t.family for t in found.trials[:2]] == ["linear", "random_forest"]
    assert found.families == ("linear", "random_forest")
    assert families_for(50_000, ("random_forest",)) == ("random_forest",)  # asked for by name
    assert "random_forest" not in families_for(50_000)


def test_asking_to_finish_ends_the_search_and_keeps_the_best_so_far():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] * 3 + rng.normal(size=200) * 0.1
    calls = iter(range(1000))
    found = search(X, y, Task.REGRESSION, [], time.monotonic() + 60, threads=1,
                   should_stop=lambda: next(calls) > 2)  # fmt: skip
    assert found.stopped_early and 1 <= len(found.trials) <= 3 and found.ranked


def test_a_skewed_positive_target_is_also_tried_on_a_log_scale():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 3, size=400)
    df = pd.DataFrame({"x": x, "noise": rng.normal(size=400), "y": np.exp(2 * x) * 10})
    trained = train(df, TrainOptions(target="y", time_budget=4, threads=1))
    assert any(row.get("log_target") for row in trained.leaderboard)
    assert trained.metrics["r2"] > 0.9


def test_a_frame_with_dates_and_text_trains_and_predicts_from_raw_rows():
    rng = np.random.default_rng(3)
    rows = 300
    days = pd.date_range("2023-01-01", periods=rows, freq="D")
    text = [("great " if i % 2 else "awful terrible ") + "stay at the hotel" for i in range(rows)]
    df = pd.DataFrame(
        {
            "day": days.strftime("%Y-%m-%d"),
            "note": text,
            "x": rng.normal(size=rows),
        }
    )
    df["y"] = np.where(days.day_of_week >= 5, 10.0, 0.0) + np.array([len(t) for t in text]) / 5
    trained = train(df, TrainOptions(target="y", time_budget=4, threads=1))
    assert trained.guardrails["columnTypes"] == {"day": "datetime", "note": "text", "x": "numeric"}
    assert trained.metrics["r2"] > 0.9
    assert trained.search["refitOnAllRows"] is True
    raw = pd.DataFrame({"day": ["2024-06-01"], "note": ["awful terrible stay"], "x": [None]})
    assert np.isfinite(trained.pipeline.predict(raw)).all()


def test_a_long_boosting_fit_leaves_room_to_refit_and_reports_progress_meanwhile():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30_000, 8))
    y = X @ rng.normal(size=8) + np.sin(X[:, 0] * 3) + rng.normal(size=30_000) * 0.1
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(y=y)
    ticks = []

    def progress(stage, pct=None, **details):
        ticks.append((stage, pct, details))

    trained = train(df, TrainOptions(target="y", time_budget=4, threads=1), progress)
    training = [t for t in ticks if t[0] == "training"]
    assert len(training) >= 4 and any(t[2].get("best_score") is not None for t in training)
    assert trained.metrics["r2"] > 0.5


def test_the_search_ends_before_its_budget_once_more_trials_stop_helping(monkeypatch):
    from modeltrain.pipeline import search as search_module

    monkeypatch.setattr(search_module, "PATIENCE", 6)
    X = np.arange(80, dtype=float).reshape(-1, 1)
    y = (X[:, 0] >= 40).astype(int)  # every family scores 1.0 at once
    found = search(X, y, Task.CLASSIFICATION, [], time.monotonic() + 120, threads=1)
    assert len(found.trials) <= 6 + 4  # the four families, then PATIENCE trials without gain
    assert not found.stopped_early and found.ranked[0].score == 1.0


def test_imbalanced_classes_are_also_tried_with_balanced_class_weights():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = ((X[:, 0] > 1.2) | (X[:, 1] > 2.0)).astype(int)  # about 13 % positives
    found = search(X, y, Task.CLASSIFICATION, [], time.monotonic() + 6, threads=1)
    weights = {t.params.get("class_weight") for t in found.trials}
    assert weights == {None, "balanced"} and found.ranked[0].score > 0.9
