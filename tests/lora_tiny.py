"""A random LoRA for a tiny pipeline's transformer, saved as diffusers saves LoRAs
(``save_lora_weights``), so the engines load it through their own settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_tiny_lora(pipeline_class: Any, model: Path, out: Path, seed: int = 0) -> Path:
    """``out``/pytorch_lora_weights.safetensors: rank-2 LoRA on every attention projection of
    ``model``'s transformer, with non-zero weights (so fusing it changes the output)."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict

    transformer = pipeline_class.from_pretrained(model).transformer
    torch.manual_seed(seed)
    transformer.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():  # large enough to matter in a two-step tiny model
        for name, parameter in transformer.named_parameters():
            if "lora_" in name:
                parameter.mul_(4.0)
    pipeline_class.save_lora_weights(
        out, transformer_lora_layers=get_peft_model_state_dict(transformer))
    return out / "pytorch_lora_weights.safetensors"
