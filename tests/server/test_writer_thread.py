"""WriterThread: jobs run in arrival order; jobs queued together with the same group run as one call."""

from __future__ import annotations

import threading
from typing import Any

from modelyard.server.hotpath import WriterThread


def test_jobs_queued_with_the_same_group_run_together_in_order():
    writer = WriterThread("test-writer")
    gate = threading.Event()
    calls: list[Any] = []
    answers: dict[int, Any] = {}
    finished = threading.Event()

    def done_for(i: int) -> Any:
        def done(result: Any, exc: BaseException | None) -> None:
            answers[i] = exc if exc is not None else result
            if len(answers) == 7:
                finished.set()
        return done

    def single(x: int) -> str:
        calls.append(("single", x))
        if x == 0:
            gate.wait(10)  # hold the writer while the others queue up
        return f"one {x}"

    def group(batch: list[tuple[int]]) -> list[str]:
        calls.append(("group", [x for (x,) in batch]))
        return [f"many {x}" for (x,) in batch]

    def broken(batch: list[tuple[int]]) -> list[str]:
        raise RuntimeError("the whole group failed")

    writer.submit(single, (0,), done_for(0))  # holds the writer until the gate opens
    for i in (1, 2, 3):
        writer.submit(single, (i,), done_for(i), group)
    writer.submit(single, (4,), done_for(4))  # no group: runs alone, in its place
    writer.submit(single, (5,), done_for(5), broken)
    writer.submit(single, (6,), done_for(6), broken)
    assert not writer.idle
    gate.set()
    assert finished.wait(10)
    writer.stop()
    assert calls == [("single", 0), ("group", [1, 2, 3]), ("single", 4)]
    assert [answers[i] for i in range(5)] == ["one 0", "many 1", "many 2", "many 3", "one 4"]
    assert all(isinstance(answers[i], RuntimeError) for i in (5, 6))
    assert writer.idle
