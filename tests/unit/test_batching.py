import asyncio
import threading

import numpy as np

from modeltrain.serving.batching import MicroBatcher
from modeltrain_model.columns import ColumnBatch


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


def _slow_run(started: threading.Event):
    def run(data, probabilities):
        started.set()
        threading.Event().wait(0.02)  # a model that takes a moment, in the thread pool
        return list(data["x"] * 2), None

    return run


def test_closing_under_load_answers_every_request_queued_or_in_flight_and_later_ones():
    started = threading.Event()
    batcher = MicroBatcher(_slow_run(started), max_rows=3, inline_rows=0)

    async def scenario():
        first = [asyncio.ensure_future(batcher.submit(_batch(float(i)), False)) for i in range(9)]
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        # the cache evicts from another thread while a batch runs and more are queued
        await asyncio.get_running_loop().run_in_executor(None, batcher.close)
        later = [asyncio.ensure_future(batcher.submit(_batch(float(i)), False)) for i in (9, 10)]
        return await asyncio.wait_for(asyncio.gather(*first, *later), timeout=10)

    answers = asyncio.run(scenario())
    assert [a[0] for a in answers] == [[2.0 * i] for i in range(11)]


def test_a_cancelled_batcher_fails_its_waiting_requests_instead_of_leaving_them():
    started = threading.Event()
    batcher = MicroBatcher(_slow_run(started), max_rows=1, inline_rows=0)

    async def scenario():
        waiting = [asyncio.ensure_future(batcher.submit(_batch(float(i)), False)) for i in range(4)]
        await asyncio.get_running_loop().run_in_executor(None, started.wait)
        batcher._task.cancel()  # what happens to it when its event loop shuts down
        return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=10)

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    assert "stopped before this prediction" in str(outcomes[-1])
