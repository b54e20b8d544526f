"""The run's dataset input (modeltrain/registry/dataset.py): MLflow's own schema, digest and
profile, with the schema made from a sample of rows and the whole frame's missing values."""

import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas

from modeltrain.registry.dataset import SCHEMA_SAMPLE_ROWS, training_dataset


def test_the_dataset_says_what_mlflows_own_says_of_the_whole_frame():
    rows = SCHEMA_SAMPLE_ROWS * 3
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 9, size=rows),
            "city": rng.choice(["a", "b"], size=rows),
            "y": rng.choice(["yes", "no"], size=rows),
        }
    )
    frame.loc[rows - 1, "x"] = np.nan  # one gap, far past any sample's reach
    ours = training_dataset(frame, "data.csv", "y")
    theirs = from_pandas(frame, name="data.csv", targets="y")
    assert ours.schema.to_dict() == theirs.schema.to_dict()
    assert [c.required for c in ours.schema.inputs] == [False, True, True, True]
    assert ours.digest == theirs.digest and ours.profile == theirs.profile
    assert ours.to_dict()["source"] == theirs.to_dict()["source"]
