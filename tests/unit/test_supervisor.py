"""`vocable up` starts a child that exited again, with backoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vocable.cli.run import Backoff, Supervised


@dataclass
class FakeProcess:
    args: Any = "worker"
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def die(self, code: int = -9) -> None:
        self.returncode = code


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Starts:
    processes: list[FakeProcess] = field(default_factory=list)

    def __call__(self) -> FakeProcess:
        self.processes.append(FakeProcess())
        return self.processes[-1]


def supervised(clock: Clock, starts: Starts, notes: list[str]) -> Supervised:
    return Supervised(
        name="the voice worker",
        start=starts,
        backoff=Backoff(first=1.0, maximum=8.0, stable_after=60.0),
        clock=clock,
        notify=notes.append,
    )


def test_a_worker_that_dies_is_started_again_after_the_first_delay() -> None:
    clock, starts, notes = Clock(100.0), Starts(), []
    child = supervised(clock, starts, notes)
    child.check()
    assert len(starts.processes) == 1  # running: nothing to do
    clock.now = 200.0
    starts.processes[0].die()
    child.check()
    assert notes == ["the voice worker exited with -9; starting it again in 1s"]
    clock.now = 200.5
    child.check()
    assert len(starts.processes) == 1  # still waiting out the delay
    clock.now = 201.0
    child.check()
    assert len(starts.processes) == 2 and child.process is starts.processes[1]
    assert child.restarts == 1


def test_a_crash_loop_backs_off_doubling_up_to_the_maximum() -> None:
    clock, starts, notes = Clock(), Starts(), []
    child = supervised(clock, starts, notes)
    delays = []
    for _ in range(6):
        child.process.die(1)  # type: ignore[attr-defined]
        child.check()
        died_at, count = clock.now, len(starts.processes)
        while len(starts.processes) == count:
            clock.now += 0.25
            child.check()
        delays.append(clock.now - died_at)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_child_that_ran_long_enough_starts_from_the_first_delay_again() -> None:
    clock, starts, notes = Clock(), Starts(), []
    child = supervised(clock, starts, notes)
    for _ in range(3):  # quick crashes: 1, 2, 4 s
        child.process.die(1)  # type: ignore[attr-defined]
        child.check()
        clock.now += 10
        child.check()
    clock.now += 61  # then it ran for a minute
    child.process.die(1)  # type: ignore[attr-defined]
    child.check()
    assert notes[-1].endswith("starting it again in 1s")
