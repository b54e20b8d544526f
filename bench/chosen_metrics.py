"""Model quality with a metric the user chose: ours (`metric=`), FLAML (`metric=`) and AutoGluon
(`eval_metric=`, its decision threshold calibrated as it does by default) at the same budget on
the same splits as bench/quality.py, each scored by that metric on the held-out rows.

    .venv/bin/python -m bench.chosen_metrics [--budget 30] [--datasets Hdma ...]

Log loss on the multi-class sets, F1 of the rare class on the imbalanced binary ones (the
target recoded 1 = rare, 0 = other for every system, so that each is about the same class),
MAE on the regressions, and one time-ordered set (economics) trained with `timeColumn` (FLAML:
`split_type="time"`) and scored on its latest 20 %. Writes bench/results/quality-metrics.md.
AutoGluon runs when its virtualenv exists (see bench/quality.py)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics

from bench.quality import (
    AUTOGLUON_PRESETS,
    AUTOGLUON_PYTHON,
    DATASETS,
    SMALL_SPLIT_SEEDS,
    THREADS,
    Dataset,
    load,
    split,
    split_seeds,
)

RESULTS = Path(__file__).parent / "results" / "quality-metrics.md"
# data set -> (metric, time column or None)
CHOSEN = {
    "penguins": ("log_loss", None),
    "Yogurt": ("log_loss", None),
    "Hdma": ("f1", None),
    "Computers": ("f1", None),
    "pneumon": ("f1", None),
    "diamonds": ("mae", None),
    "medpar": ("mae", None),
    "Star": ("mae", None),
    "economics": ("mae", "date"),
}
FLAML_METRICS = {"log_loss": "log_loss", "f1": "f1", "mae": "mae"}
AUTOGLUON_METRICS = {"log_loss": "log_loss", "f1": "f1", "mae": "mean_absolute_error"}
LOSSES = {"log_loss", "mae"}
ANCHORS = {"flaml": "FLAML", "ag_medium": "AutoGluon medium", "ag_best": "AutoGluon best"}


def prepared(ds: Dataset, metric: str) -> pd.DataFrame:
    """The data set, an F1 target recoded 1 for its rarer class, 0 for the other."""
    df = load(ds)
    if metric == "f1":
        rare = df[ds.target].value_counts().idxmin()
        df[ds.target] = (df[ds.target] == rare).astype(int)
    return df


def splits(ds: Dataset, df: pd.DataFrame, time_column: str | None):
    """(seed, training rows, held-out rows): bench/quality.py's splits, or by time."""
    if time_column is not None:
        ordered = df.sort_values(time_column, kind="mergesort").reset_index(drop=True)
        cut = int(len(ordered) * 0.8)
        return [(0, ordered.iloc[:cut], ordered.iloc[cut:])]
    return [(seed, *split(ds, df, seed)) for seed in split_seeds(ds, df)]


def score(metric: str, y: pd.Series, pred: np.ndarray, proba: np.ndarray | None,
          classes: list) -> float:  # fmt: skip
    if metric == "log_loss":
        return float(metrics.log_loss(y, proba, labels=classes))
    if metric == "f1":
        return float(metrics.f1_score(np.asarray(y).astype(int), np.asarray(pred).astype(int)))
    return float(metrics.mean_absolute_error(y, pred))


def run_ours(ds: Dataset, metric: str, time_column: str | None, train: pd.DataFrame,
             test: pd.DataFrame, budget: float) -> dict:  # fmt: skip
    from modeltrain.constants import Task
    from modeltrain.pipeline import TrainOptions
    from modeltrain.pipeline import train as fit
    from modeltrain.pipeline.budget import search_budget
    from modeltrain.pipeline.features import normalise_features

    searched = search_budget(budget, len(train.to_csv(index=False).encode()), elapsed=0.0)
    options = TrainOptions(target=ds.target, task=Task(ds.task), time_budget=searched,
                           threads=THREADS, metric=metric, time_column=time_column,
                           positive_class="1" if metric == "f1" else None)  # fmt: skip
    started = time.monotonic()
    trained = fit(train, options)
    seconds = time.monotonic() - started
    X = normalise_features(test[trained.features])
    pred, y = trained.pipeline.predict(X), test[ds.target]
    proba = trained.pipeline.predict_proba(X) if ds.task == "classification" else None
    if ds.task == "classification" and not pd.api.types.is_numeric_dtype(y):
        y = y.astype(str)
    return {"score": score(metric, y, pred, proba, trained.classes or []), "seconds": seconds,
            "model": trained.estimator}  # fmt: skip


def run_flaml(ds: Dataset, metric: str, time_column: str | None, train: pd.DataFrame,
              test: pd.DataFrame, budget: float) -> dict:  # fmt: skip
    from flaml import AutoML

    X, y = train.drop(columns=[ds.target]), train[ds.target]
    extra = {"split_type": "time"} if time_column is not None else {}
    automl = AutoML()
    started = time.monotonic()
    automl.fit(X, y, task=ds.task, time_budget=budget, metric=FLAML_METRICS[metric],
               n_jobs=THREADS, seed=0, verbose=0, **extra)  # fmt: skip
    seconds = time.monotonic() - started
    Xt = test.drop(columns=[ds.target])
    proba = automl.predict_proba(Xt) if ds.task == "classification" else None
    classes = list(automl.classes_) if ds.task == "classification" else []
    return {"score": score(metric, test[ds.target], automl.predict(Xt), proba, classes),
            "seconds": seconds, "model": automl.best_estimator}  # fmt: skip


def run_autogluon(ds: Dataset, metric: str, train: pd.DataFrame, test: pd.DataFrame,
                  budget: float, preset: str) -> dict:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.csv" for name in ("train", "test")}
        train.to_csv(paths["train"], index=False)
        test.to_csv(paths["test"], index=False)
        out = Path(tmp) / "out.json"
        subprocess.run([str(AUTOGLUON_PYTHON), str(Path(__file__).parent / "_autogluon.py"),
                        str(paths["train"]), str(paths["test"]), ds.target, ds.task, preset,
                        str(budget), str(out), AUTOGLUON_METRICS[metric]], check=True,
                       capture_output=True, timeout=budget * 10 + 300)  # fmt: skip
        got = json.loads(out.read_text())
    y = test[ds.target]
    if ds.task == "classification" and metric != "f1":
        y = y.astype(str)
    proba = np.asarray(got["proba"]) if got["proba"] is not None else None
    return {"score": score(metric, y, np.asarray(got["pred"]), proba, got["classes"]),
            "seconds": got["seconds"], "model": got["model"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=30)
    parser.add_argument("--datasets", nargs="+", default=list(CHOSEN))
    parser.add_argument("--previous", type=Path, help="a log of this script's earlier run (its "
                        "printed lines): its data sets join the report as they were")  # fmt: skip
    args = parser.parse_args()
    anchors = ["flaml", *(AUTOGLUON_PRESETS if AUTOGLUON_PYTHON.exists() else [])]
    rows = previous_rows(args.previous) if args.previous else []
    earlier = [row["dataset"] for row in rows]
    for name in args.datasets:
        ds, (metric, time_column) = DATASETS[name], CHOSEN[name]
        df = prepared(ds, metric)
        row: dict = {"dataset": name, "rows": len(df), "metric": metric, "time": time_column}
        for seed, train, test in splits(ds, df, time_column):
            for who in ["ours", *anchors]:
                if who == "ours":
                    got = run_ours(ds, metric, time_column, train, test, args.budget)
                elif who == "flaml":
                    got = run_flaml(ds, metric, time_column, train, test, args.budget)
                else:
                    got = run_autogluon(ds, metric, train, test, args.budget,
                                        AUTOGLUON_PRESETS[who])  # fmt: skip
                row.setdefault(who, []).append(got)
                print(name, seed, who, got, flush=True)
        rows.append(row)
        RESULTS.write_text(report(rows, anchors, args.budget, earlier))
    print(RESULTS.read_text())


def previous_rows(log: Path) -> list[dict]:
    """The rows of an earlier run from its printed lines (`name seed who {result}`)."""
    import ast

    rows: dict[str, dict] = {}
    for line in log.read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[0] not in CHOSEN or not parts[3].startswith("{"):
            continue
        name, _seed, who, got = parts
        metric, time_column = CHOSEN[name]
        row = rows.setdefault(name, {"dataset": name, "rows": len(load(DATASETS[name])),
                                     "metric": metric, "time": time_column})  # fmt: skip
        row.setdefault(who, []).append(ast.literal_eval(got))
    return list(rows.values())


def report(rows: list[dict], anchors: list[str], budget: float, earlier: list[str]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    names = ["ours", *(ANCHORS[a] for a in anchors)]
    lines = [
        "# Model quality with a chosen metric: ours against FLAML and AutoGluon",
        "",
        f"Run {when} on {platform.machine()}, {os.cpu_count()} cores; {THREADS} threads each; "
        f"{budget:g} s each. The splits of bench/quality.py (data sets under 1,000 rows, or "
        "binary with few held-out rows of the rarer class: the mean over seeds "
        f"{', '.join(map(str, SMALL_SPLIT_SEEDS))}); economics by time (trained on the first "
        "80 % of months, scored on the latest 20 %; ours with `timeColumn=date`, FLAML with "
        '`split_type="time"`, AutoGluon on the same rows). Each system optimises the metric '
        "named and is scored by it on the held-out rows: log loss and MAE (lower is better), "
        "F1 of the rarer class (higher is better; ours and AutoGluon tune a decision "
        "threshold). Command: `.venv/bin/python -m bench.chosen_metrics`."
        + (
            f" The rows of {', '.join(earlier)} come from an earlier run "
            "(`--previous`, its printed lines)."
            if earlier
            else ""
        ),
        "",
        "| dataset | rows | metric | " + " | ".join(names) + " | ours vs the best other |",
        "| --- | --- | --- |" + " --- |" * (len(names) + 1),
    ]
    ratios, gaps = [], []
    for row in rows:
        means = {who: float(np.mean([g["score"] for g in row[who]])) for who in ["ours", *anchors]}
        others = [means[a] for a in anchors]
        if row["metric"] in LOSSES:
            best = min(others)
            ratios.append(means["ours"] / best)
            versus = f"× {ratios[-1]:.3f}"
        else:
            best = max(others)
            gaps.append(means["ours"] - best)
            versus = f"{gaps[-1]:+.4f}"
        cells = [f"{means[w]:.4f} ({', '.join(dict.fromkeys(g['model'] for g in row[w]))})"
                 for w in ["ours", *anchors]]  # fmt: skip
        label = row["metric"] + (f", by {row['time']}" if row["time"] else "")
        lines.append(f"| {row['dataset']} | {row['rows']} | {label} | " + " | ".join(cells)
                     + f" | {versus} |")  # fmt: skip

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    lines.append("")
    if ratios:
        lines.append(
            f"- Losses: ours ≤ 1.02 × the best other on each set: {verdict(max(ratios) <= 1.02)} "
            f"(worst × {max(ratios):.3f}); below it on average: "
            f"{verdict(float(np.mean(ratios)) < 1)} (mean × {float(np.mean(ratios)):.3f})."
        )
    if gaps:
        lines.append(
            f"- F1: ours ≥ the best other − 0.01 on each set: {verdict(min(gaps) >= -0.01)} "
            f"(worst {min(gaps):+.4f})."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
