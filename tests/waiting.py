"""Waiting for an effect without a fixed sleep: poll until it is there, or fail saying what
never came."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float = 10.0, what: str = "the effect") -> T:
    """``check()``'s first truthy answer, asked every 10 ms; ``AssertionError`` naming
    ``what`` if none comes within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)  # the poll's interval, not a wait for anything
