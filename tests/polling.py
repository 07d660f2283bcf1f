"""Readiness by polling with a deadline (never a bare sleep)."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float = 60, interval: float = 0.3):
    """Poll ``condition`` until it is truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_until_fixed(problems, what: str, timeout: float = 180, interval: float = 0.5) -> float:
    """Poll ``problems()`` (a list of what is still wrong) until it is empty; returns the seconds it took, or fails
    after ``timeout`` seconds saying ``what`` is not yet and the last problems seen."""
    t0 = time.monotonic()
    last: list = []

    def fixed() -> bool:
        last[:] = problems()
        return not last

    try:
        wait_for(fixed, timeout=timeout, interval=interval)
    except AssertionError:
        raise AssertionError(f"the embedded system is not {what} after {timeout} s: {last}") from None
    return time.monotonic() - t0
