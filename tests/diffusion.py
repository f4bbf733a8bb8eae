"""What every diffusion-engine test module shares: one torch thread per test, and the
process's model dropped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Import this into a test module: torch on one thread, the loaded model dropped after."""
    import torch

    from inbetween.engines.diffusion import runtime

    torch.set_num_threads(1)
    yield
    runtime.unload()
