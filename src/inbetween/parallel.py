"""Two independent calls at once, for work that releases the GIL (OpenCV, NumPy, Pillow)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["both"]

A = TypeVar("A")
R = TypeVar("R")


def both(fn: Callable[[A], R], first: A, second: A) -> tuple[R, R]:
    """``(fn(first), fn(second))``, the second computed on a thread of its own meanwhile.

    A fresh thread each time, not a pool: a pool made before a fork (the Celery worker's
    prefork children) would wait forever for threads the child does not have. If either call
    raises, the first one's exception wins, as it would have done in sequence — but only
    once the second call has returned too (a thread cannot be stopped), so pair only calls
    of bounded length.
    """
    outcome: list[R | BaseException] = []

    def run() -> None:
        try:
            outcome.append(fn(second))
        except BaseException as e:  # handed to the caller below
            outcome.append(e)

    thread = threading.Thread(target=run, name="both", daemon=True)
    thread.start()
    try:
        result = fn(first)
    finally:
        thread.join()
    other = outcome[0]
    if isinstance(other, BaseException):
        raise other
    return result, other
