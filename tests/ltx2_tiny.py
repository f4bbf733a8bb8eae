"""A tiny LTX-2 condition pipeline, built in code from random weights (nothing downloaded): the
same architecture as LTX-2 (a Gemma 3 text encoder and its tokenizer, the text connectors, the
audio-video transformer, the video and audio VAEs and the vocoder), a few thousand parameters
each (``benchmarks/checkpoints.py``, size ``toy``). Saved with ``save_pretrained`` so the
engine loads it through its own loader."""

from __future__ import annotations

from pathlib import Path

from benchmarks.checkpoints import VOCODER_RATE, ltx2

__all__ = ["VOCODER_RATE", "save_tiny_ltx2"]


def save_tiny_ltx2(folder: Path, version: str = "2.0") -> Path:
    ltx2(version, "toy").save_pretrained(folder)
    return folder
