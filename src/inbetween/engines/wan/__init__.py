"""The open-weights diffusion engine (Wan2.1 FLF2V through diffusers; ``inbetween[diffusion]``)."""
