import asyncio
import threading

import numpy as np

from modeltrain.pipeline.featurizer import ColumnBatch
from modeltrain.serving.batching import MicroBatcher


def _recording_run(calls):
    def run(data, probabilities):
        calls.append((threading.current_thread(), data.rows))
        return list(data["x"] * 2), None

    return run


def _batch(*values):
    return ColumnBatch({"x": np.array(values, dtype=float)}, len(values))


def test_small_batches_run_on_the_event_loop_only_when_asked_to():
    for inline_rows, on_loop in ((16, True), (0, False)):
        calls = []
        batcher = MicroBatcher(_recording_run(calls), inline_rows=inline_rows)

        async def one(b=batcher):
            return await b.submit(_batch(1.0, 2.0), False)

        assert asyncio.run(one()) == ([2.0, 4.0], None)
        assert (calls[0][0] is threading.main_thread()) is on_loop


def test_concurrent_requests_share_one_call_and_each_gets_its_own_rows():
    calls = []
    batcher = MicroBatcher(_recording_run(calls), inline_rows=0)

    async def many():
        return await asyncio.gather(*(batcher.submit(_batch(float(i)), False) for i in range(6)))

    answers = asyncio.run(many())
    assert [a[0] for a in answers] == [[2.0 * i] for i in range(6)]
    assert len(calls) < 6 and sum(rows for _, rows in calls) == 6
