"""The worker's warm-up (modeltrain/worker/warmup.py) runs the steps of a job on its own data,
and a warm-up that fails still lets jobs run."""

import logging
from types import SimpleNamespace

from modeltrain.worker.warmup import WarmUp


class _Registry:
    def __init__(self) -> None:
        self.asked = 0

    def experiment_id(self) -> str:
        self.asked += 1
        return "0"


def test_the_warm_up_goes_through_a_jobs_steps_and_then_lets_jobs_in():
    registry = _Registry()
    warm = WarmUp(SimpleNamespace(registry=registry))
    warm.wait(120)
    assert warm.done and not warm.failed and registry.asked == 1


def test_a_failed_warm_up_is_logged_and_lets_jobs_in(caplog):
    with caplog.at_level(logging.WARNING):
        warm = WarmUp(SimpleNamespace(registry=None))  # no registry: the last step fails
        warm.wait(120)
    assert warm.done and warm.failed
    assert "worker.warm_up_failed" in caplog.text
