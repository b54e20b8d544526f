"""Runs AutoGluon-Tabular on one split, inside AutoGluon's own virtualenv (it needs pandas < 2.4,
this project pins 3.x): bench/quality.py calls it as a subprocess and scores its predictions.

    .venv-autogluon/bin/python bench/_autogluon.py TRAIN.csv TEST.csv TARGET TASK PRESET SECONDS OUT.json [METRIC]

METRIC is AutoGluon's `eval_metric` (default: ROC AUC for two classes, log loss for several, R²
for values); for a label metric AutoGluon calibrates its decision threshold, as it does by
default.

Imports nothing of this project. Writes {"pred", "proba", "classes", "model", "seconds"}."""

import json
import sys
import tempfile
import time

import pandas as pd
from autogluon.tabular import TabularPredictor


def main() -> None:
    train_csv, test_csv, target, task, preset, seconds, out = sys.argv[1:8]
    chosen = sys.argv[8] if len(sys.argv) > 8 else None
    train = pd.read_csv(train_csv)
    test = pd.read_csv(test_csv).drop(columns=[target])
    classes = sorted(train[target].astype(str).unique())
    if task == "classification":
        train[target] = train[target].astype(str)
        problem = "binary" if len(classes) == 2 else "multiclass"
        metric = "roc_auc" if problem == "binary" else "log_loss"
    else:
        problem, metric = "regression", "r2"
    metric = chosen or metric
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label=target, problem_type=problem, eval_metric=metric, path=path, verbosity=0
        ).fit(train, presets=preset, time_limit=float(seconds), num_cpus=2, num_gpus=0)
        fitted = time.monotonic() - started
        pred = predictor.predict(test)
        proba = None
        if task == "classification":
            proba = predictor.predict_proba(test)[classes].to_numpy().tolist()
        best = predictor.model_best
    result = {"pred": pred.tolist(), "proba": proba, "classes": classes, "model": best,
              "seconds": fitted}  # fmt: skip
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
