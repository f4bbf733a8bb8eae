"""A tiny Wan FLF2V pipeline, built in code from random weights (nothing downloaded): the same
architecture as Wan2.1-FLF2V-14B-720P (a UMT5 text encoder and its tokenizer, a CLIP vision
encoder, the Wan VAE, and a Wan transformer with ``added_kv_proj_dim`` for the image tokens),
a few thousand parameters each; and a tiny Wan2.2 I2V A14B (two experts switched at
``boundary_ratio``, no image encoder), or with ``ti2v`` a TI2V-style folder
(``expand_timesteps``) that the Wan2.2 engine must refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CLIP_SIZE, CLIP_PATCH = 32, 16


def _text() -> tuple[Any, Any]:
    """A UMT5 text encoder and its tokenizer (random weights, a few words)."""
    import torch
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    words = ["a", "the", "slow", "push", "in", "cat", "rocket", "rain", "falls", "camera", "orbit"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(f"\u2581{w}", -float(i)) for i, w in enumerate(words)]
    vocab += [(c, -20.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    # transformers 5: a tokenizer built from (token, score) pairs (vocab_file= would be ignored)
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0))
    return tokenizer, text_encoder


def save_tiny_wan(folder: Path) -> Path:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
    )

    tokenizer, text_encoder = _text()
    clip = CLIPVisionConfig(hidden_size=8, projection_dim=8, num_hidden_layers=2,
                            num_attention_heads=2, image_size=CLIP_SIZE, intermediate_size=16,
                            patch_size=CLIP_PATCH)
    image_encoder = CLIPVisionModel(clip)
    image_processor = CLIPImageProcessor(crop_size=CLIP_SIZE, size=CLIP_SIZE)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    patches = (CLIP_SIZE // CLIP_PATCH) ** 2
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36,
        out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        image_dim=clip.hidden_size,  # the CLIP hidden size
        added_kv_proj_dim=24,  # as in FLF2V: the image tokens get their own K/V
        pos_embed_seq_len=2 * (patches + 1))  # two images' patches + class tokens
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, image_encoder=image_encoder,
        image_processor=image_processor, transformer=transformer, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    pipe.save_pretrained(folder)
    return folder


def save_tiny_wan22(folder: Path, ti2v: bool = False) -> Path:
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    tokenizer, text_encoder = _text()
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    experts = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        experts.append(WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36,
            out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32))
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), transformer=experts[0],
        transformer_2=None if ti2v else experts[1], boundary_ratio=None if ti2v else 0.9,
        expand_timesteps=ti2v)
    pipe.save_pretrained(folder)
    return folder
