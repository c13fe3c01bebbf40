"""Child processes we start (LiveKit, API, worker, inference server): readiness and stopping."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable


class ProcessNotReadyError(RuntimeError):
    """The child exited, or its HTTP endpoint did not answer 200 in time."""


def wait_until_answering(
    url: str,
    proc: subprocess.Popen[bytes],
    *,
    timeout: float,
    details: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` exits.

    ``details`` adds context (a log tail) to the error message.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProcessNotReadyError(f"{proc.args!r} exited with {proc.returncode}{details()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own URL
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise ProcessNotReadyError(f"{url} did not answer within {timeout:.0f}s{details()}")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate ``proc``, killing it if it has not exited after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_processes(procs: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """Stop ``procs`` together, in their order: all are asked to terminate first, then
    each is waited for (killed after ``timeout`` seconds), so their shutdowns overlap."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
