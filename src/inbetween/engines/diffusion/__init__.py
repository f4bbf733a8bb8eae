"""The open-weights diffusion engines (``inbetween[diffusion]``): one family, one runtime.

``runtime`` holds what every model shares — loading once per process from a local folder,
device, dtype, offload, VAE tiling, distilled LoRAs, quantization, attention backend,
first-block cache and ``torch.compile``, per-step progress and cancel, out-of-memory, the
ends pinned to the inputs and retiming to 24 fps; ``checks`` refuses bad settings when a
worker starts. One small adapter per model: ``inbetween.engines.wan`` (Wan2.1 FLF2V and
Wan2.2 I2V, through ``WanImageToVideoPipeline``) and ``ltx2`` (LTX-2.x through
``LTX2ConditionPipeline``, with the model's own sound).

torch and diffusers are imported only inside the functions that need them.
"""
