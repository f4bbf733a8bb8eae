"""A random LoRA for a tiny pipeline's transformer, saved as diffusers saves LoRAs
(``save_lora_weights``), so the engines load it through their own settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.checkpoints import save_lora

__all__ = ["save_tiny_lora"]


def save_tiny_lora(pipeline_class: Any, model: Path, out: Path, seed: int = 0) -> Path:
    """A LoRA for the transformer of the pipeline saved in ``model``."""
    transformer = pipeline_class.from_pretrained(model).transformer
    return save_lora(pipeline_class, transformer, out, seed)
