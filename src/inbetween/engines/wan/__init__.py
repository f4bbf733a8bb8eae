"""The Wan adapters of the diffusion family: Wan2.1 FLF2V and Wan2.2 I2V A14B (both through
``WanImageToVideoPipeline`` with ``last_image``; ``inbetween[diffusion]``)."""
