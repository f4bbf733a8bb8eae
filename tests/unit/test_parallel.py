"""``parallel.both``: two calls at once, results in order, the first failure wins."""

from __future__ import annotations

import threading

import pytest

from inbetween.parallel import both


def test_both_returns_the_results_in_order_from_two_threads() -> None:
    barrier = threading.Barrier(2, timeout=10)  # passes only if both calls run at once

    def call(x: int) -> tuple[int, str]:
        barrier.wait()
        return x * 10, threading.current_thread().name

    (a, thread_a), (b, thread_b) = both(call, 1, 2)
    assert (a, b) == (10, 20)
    assert thread_a != thread_b


def test_both_raises_the_first_calls_error_first() -> None:
    def call(x: int) -> int:
        if x:
            raise ValueError(f"bad {x}")
        return x

    with pytest.raises(ValueError, match="bad 1"):
        both(call, 1, 2)
    with pytest.raises(ValueError, match="bad 2"):
        both(call, 0, 2)
    with pytest.raises(ValueError, match="bad 1"):
        both(call, 1, 0)
