"""A tiny Wan FLF2V pipeline, built in code from random weights (nothing downloaded): the same
architecture as Wan2.1-FLF2V-14B-720P (a UMT5 text encoder and its tokenizer, a CLIP vision
encoder, the Wan VAE, and a Wan transformer with ``added_kv_proj_dim`` for the image tokens),
a few thousand parameters each; and a tiny Wan2.2 I2V A14B (two experts switched at
``boundary_ratio``, no image encoder), or with ``ti2v`` a TI2V-style folder
(``expand_timesteps``) that the Wan2.2 engine must refuse (``benchmarks/checkpoints.py``, size
``toy``)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.checkpoints import wan21, wan22

__all__ = ["save_tiny_wan", "save_tiny_wan22"]


def save_tiny_wan(folder: Path) -> Path:
    wan21("toy").save_pretrained(folder)
    return folder


def save_tiny_wan22(folder: Path, ti2v: bool = False) -> Path:
    wan22("toy", ti2v).save_pretrained(folder)
    return folder
