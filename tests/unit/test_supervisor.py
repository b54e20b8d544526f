"""The supervisor's restart loop on tiny real processes (sh), and its back-off arithmetic."""

from __future__ import annotations

import time

import orjson

from modeltrain.runtime.processes import ManagedProcess
from modeltrain.runtime.supervisor import (
    FIRST_BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    STABLE_AFTER_SECONDS,
    ChildState,
    Supervisor,
    next_backoff,
    ordinal,
    read_state,
)


def test_the_backoff_doubles_for_a_child_that_keeps_dying_and_is_capped():
    waits = [0.0]
    for _ in range(10):
        waits.append(next_backoff(waits[-1], ran_for=0.5))
    assert waits[1:5] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == MAX_BACKOFF_SECONDS


def test_a_child_that_ran_a_while_before_dying_starts_a_new_backoff():
    assert next_backoff(32.0, ran_for=STABLE_AFTER_SECONDS + 1) == FIRST_BACKOFF_SECONDS


def test_ordinals_read_as_english():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
    ]  # fmt: skip


def _wait(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_a_dying_child_is_restarted_with_its_exit_code_while_the_others_keep_running(tmp_path):
    state_file = tmp_path / "state.json"
    supervisor = Supervisor(state_file, stop_grace_seconds=2)
    steady = supervisor.start("steady", ManagedProcess("steady", ["sleep", "60"]), 5)
    dying = supervisor.start(
        "dying", ManagedProcess("dying", ["sh", "-c", "exit 3"], log_path=tmp_path / "d.log"), 5
    )
    steady_pid = steady.process.pid
    try:
        _wait(lambda: (supervisor.tend(), dying.restarts >= 2)[1])
        assert dying.last_exit == 3 and dying.backoff == 2.0
        assert steady.state == ChildState.RUNNING and steady.process.pid == steady_pid
        state = read_state(state_file)
        assert state is not None
        assert state["children"]["steady"]["state"] == "running"
        assert state["children"]["dying"]["description"].endswith("time, last exit 3)")
    finally:
        supervisor.stop_all()
    assert not steady.process.alive()
    assert orjson.loads(state_file.read_bytes())["children"]["steady"]["state"] == "stopped"


def test_a_state_file_of_a_supervisor_that_is_gone_is_ignored(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(orjson.dumps({"pid": 2**22 + 12345, "children": {}}))
    assert read_state(path) is None
    assert read_state(tmp_path / "missing.json") is None
