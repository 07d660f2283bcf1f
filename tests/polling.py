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
