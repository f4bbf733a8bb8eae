"""Diffusion checkpoints built in code from random weights (nothing downloaded), in the format
the engines load (``save_pretrained``): LTX-2.0- and LTX-2.3-shaped LTX-2 condition pipelines
(Gemma 3 text encoder, text connectors, audio-video transformer, video and audio VAEs,
vocoder), Wan2.1-FLF2V-14B and Wan2.2-I2V-A14B pipelines, an LTX-2 latent upsampler and a LoRA.

Three sizes of each:

- ``toy``: a few thousand parameters per component — the tests' models (``tests/ltx2_tiny.py``,
  ``tests/wan_tiny.py``), built in a second on a CPU.
- ``rows``: the real models' widths, heads, patch sizes and VAE / vocoder layouts, with 2
  transformer blocks (and 2 text-encoder and image-encoder layers): what
  ``benchmarks/gpu_acceptance.py`` runs each setting on, built in seconds on a GPU.
- ``full``: the real depth as well (LTX-2 48 blocks + Gemma 3 12B; Wan 40 blocks + UMT5-XXL):
  the rows that prove the defaults fit one 80 GB GPU (built on the GPU in bfloat16, never
  saved).

The real shapes are the configurations of diffusers' conversion script
(``scripts/convert_ltx2_to_diffusers.py``: versions 2.0 and 2.3) and of the published
diffusers folders (``Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers``,
``Wan-AI/Wan2.2-I2V-A14B-Diffusers``); the tokenizers are tiny (their ids are valid for any
vocabulary), the schedulers are the tests'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SIZES = ("toy", "rows", "full")
VOCODER_RATE = 16_000  # the toy vocoder's output rate
CLIP_SIZE, CLIP_PATCH = 32, 16  # the toy image encoder's

# -- LTX-2 ----------------------------------------------------------------------------------

_LTX2_TRANSFORMER = {
    "in_channels": 128, "out_channels": 128, "patch_size": 1, "patch_size_t": 1,
    "num_attention_heads": 32, "attention_head_dim": 128, "cross_attention_dim": 4096,
    "vae_scale_factors": (8, 32, 32), "pos_embed_max_pos": 20, "base_height": 2048,
    "base_width": 2048, "audio_in_channels": 128, "audio_out_channels": 128,
    "audio_patch_size": 1, "audio_patch_size_t": 1, "audio_num_attention_heads": 32,
    "audio_attention_head_dim": 64, "audio_cross_attention_dim": 2048, "audio_scale_factor": 4,
    "audio_pos_embed_max_pos": 20, "audio_sampling_rate": 16000, "audio_hop_length": 160,
    "num_layers": 48, "activation_fn": "gelu-approximate", "qk_norm": "rms_norm_across_heads",
    "norm_elementwise_affine": False, "norm_eps": 1e-6, "caption_channels": 3840,
    "attention_bias": True, "attention_out_bias": True, "rope_theta": 10000.0,
    "rope_double_precision": True, "causal_offset": 1, "timestep_scale_multiplier": 1000,
    "cross_attn_timestep_scale_multiplier": 1000, "rope_type": "split",
}
_LTX23 = {"gated_attn": True, "cross_attn_mod": True, "audio_gated_attn": True,
          "audio_cross_attn_mod": True, "use_prompt_embeddings": False, "perturbed_attn": True}
LTX2_TRANSFORMER = {
    "2.0": {**_LTX2_TRANSFORMER, "gated_attn": False, "cross_attn_mod": False,
            "audio_gated_attn": False, "audio_cross_attn_mod": False,
            "use_prompt_embeddings": True, "perturbed_attn": False},
    "2.3": {**_LTX2_TRANSFORMER, **_LTX23},
}
_CONNECTORS = {"caption_channels": 3840, "connector_rope_base_seq_len": 4096,
               "rope_theta": 10000.0, "rope_double_precision": True,
               "causal_temporal_positioning": False, "rope_type": "split",
               "video_connector_num_learnable_registers": 128,
               "audio_connector_num_learnable_registers": 128}
LTX2_CONNECTORS = {
    "2.0": {**_CONNECTORS, "video_connector_num_attention_heads": 30,
            "video_connector_attention_head_dim": 128, "video_connector_num_layers": 2,
            "video_gated_attn": False, "audio_connector_num_attention_heads": 30,
            "audio_connector_attention_head_dim": 128, "audio_connector_num_layers": 2,
            "audio_gated_attn": False, "per_modality_projections": False, "proj_bias": False},
    "2.3": {**_CONNECTORS, "video_connector_num_attention_heads": 32,
            "video_connector_attention_head_dim": 128, "video_connector_num_layers": 8,
            "video_gated_attn": True, "audio_connector_num_attention_heads": 32,
            "audio_connector_attention_head_dim": 64, "audio_connector_num_layers": 8,
            "audio_gated_attn": True, "per_modality_projections": True,
            "video_hidden_dim": 4096, "audio_hidden_dim": 2048, "proj_bias": True},
}
_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 128,
        "down_block_types": ("LTX2VideoDownBlock3D",) * 4,
        "spatio_temporal_scaling": (True, True, True, True),
        "downsample_type": ("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        "timestep_conditioning": False, "patch_size": 4, "patch_size_t": 1,
        "resnet_norm_eps": 1e-6, "encoder_causal": True, "decoder_causal": False,
        "encoder_spatial_padding_mode": "zeros", "spatial_compression_ratio": 32,
        "temporal_compression_ratio": 8}
LTX2_VAE = {
    "2.0": {**_VAE, "block_out_channels": (256, 512, 1024, 2048),
            "decoder_block_out_channels": (256, 512, 1024), "layers_per_block": (4, 6, 6, 2, 2),
            "decoder_layers_per_block": (5, 5, 5, 5),
            "decoder_spatio_temporal_scaling": (True, True, True),
            "decoder_inject_noise": (False, False, False, False),
            "upsample_type": ("spatiotemporal",) * 3, "upsample_residual": (True, True, True),
            "upsample_factor": (2, 2, 2), "decoder_spatial_padding_mode": "reflect"},
    "2.3": {**_VAE, "block_out_channels": (256, 512, 1024, 1024),
            "decoder_block_out_channels": (256, 512, 512, 1024),
            "layers_per_block": (4, 6, 4, 2, 2), "decoder_layers_per_block": (4, 6, 4, 2, 2),
            "decoder_spatio_temporal_scaling": (True, True, True, True),
            "decoder_inject_noise": (False,) * 5,
            "upsample_type": ("spatiotemporal", "spatiotemporal", "temporal", "spatial"),
            "upsample_residual": (False,) * 4, "upsample_factor": (2, 2, 1, 2),
            "decoder_spatial_padding_mode": "zeros"},
}
LTX2_AUDIO_VAE = {"base_channels": 128, "output_channels": 2, "ch_mult": (1, 2, 4),
                  "num_res_blocks": 2, "attn_resolutions": None, "in_channels": 2,
                  "resolution": 256, "latent_channels": 8, "norm_type": "pixel",
                  "causality_axis": "height", "dropout": 0.0, "mid_block_add_attention": False,
                  "sample_rate": 16000, "mel_hop_length": 160, "is_causal": True,
                  "mel_bins": 64, "double_z": True}
_RESNETS = {"resnet_kernel_sizes": [3, 7, 11], "resnet_dilations": [[1, 3, 5]] * 3}
LTX2_VOCODER = {
    "2.0": {**_RESNETS, "in_channels": 128, "hidden_channels": 1024, "out_channels": 2,
            "upsample_kernel_sizes": [16, 15, 8, 4, 4], "upsample_factors": [6, 5, 2, 2, 2],
            "act_fn": "leaky_relu", "leaky_relu_negative_slope": 0.1, "antialias": False,
            "final_act_fn": "tanh", "final_bias": True, "output_sampling_rate": 24000},
    "2.3": {**_RESNETS, "in_channels": 128, "hidden_channels": 1536, "out_channels": 2,
            "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4], "upsample_factors": [5, 2, 2, 2, 2, 2],
            "act_fn": "snakebeta", "leaky_relu_negative_slope": 0.1, "antialias": True,
            "antialias_ratio": 2, "antialias_kernel_size": 12, "final_act_fn": None,
            "final_bias": False, "bwe_in_channels": 128, "bwe_hidden_channels": 512,
            "bwe_out_channels": 2, "bwe_upsample_kernel_sizes": [12, 11, 4, 4, 4],
            "bwe_upsample_factors": [6, 5, 2, 2, 2], "bwe_resnet_kernel_sizes": [3, 7, 11],
            "bwe_resnet_dilations": [[1, 3, 5]] * 3, "bwe_act_fn": "snakebeta",
            "bwe_leaky_relu_negative_slope": 0.1, "bwe_antialias": True,
            "bwe_antialias_ratio": 2, "bwe_antialias_kernel_size": 12,
            "bwe_final_act_fn": None, "bwe_final_bias": False, "filter_length": 512,
            "hop_length": 80, "window_length": 512, "num_mel_channels": 64,
            "input_sampling_rate": 16000, "output_sampling_rate": 48000},
}
GEMMA3_12B_TEXT = {"vocab_size": 262_208, "hidden_size": 3840, "intermediate_size": 15360,
                   "num_hidden_layers": 48, "num_attention_heads": 16,
                   "num_key_value_heads": 8, "head_dim": 256, "sliding_window": 1024,
                   "max_position_embeddings": 131_072, "pad_token_id": 0, "eos_token_id": 1,
                   "bos_token_id": 2}
SIGLIP_400M = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
               "num_attention_heads": 16, "image_size": 896, "patch_size": 14}
LTX2_UPSAMPLER: dict[str, Any] = {}  # LTX2LatentUpsamplerModel's defaults are LTX-2's

# -- Wan ------------------------------------------------------------------------------------

WAN_14B = {"patch_size": (1, 2, 2), "num_attention_heads": 40, "attention_head_dim": 128,
           "in_channels": 36, "out_channels": 16, "text_dim": 4096, "freq_dim": 256,
           "ffn_dim": 13824, "num_layers": 40, "cross_attn_norm": True,
           "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "rope_max_seq_len": 1024}
WAN21_IMAGE = {"image_dim": 1280, "added_kv_proj_dim": 5120, "pos_embed_seq_len": 2 * 257}
UMT5_XXL = {"d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64,
            "vocab_size": 256_384, "relative_attention_num_buckets": 32,
            "feed_forward_proj": "gated-gelu", "pad_token_id": 0, "eos_token_id": 1,
            "decoder_start_token_id": 0}
CLIP_VIT_H = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
              "num_attention_heads": 16, "image_size": 224, "patch_size": 14,
              "projection_dim": 1024, "hidden_act": "gelu"}


def _depth(size: str, full: int) -> int:
    if size not in SIZES:
        raise ValueError(f"size {size!r}: use one of {SIZES}")
    return full if size == "full" else 2


def ltx2(version: str = "2.0", size: str = "toy") -> Any:
    """An ``LTX2ConditionPipeline`` (version ``2.0`` or ``2.3``) of ``size``."""
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2ConditionPipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        GemmaTokenizer,
        SiglipVisionConfig,
    )

    if version not in LTX2_TRANSFORMER:
        raise ValueError(f"LTX-2 version {version!r}: use one of {sorted(LTX2_TRANSFORMER)}")
    torch.manual_seed(0)
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["▁", ",", "."]
    vocab = {token: i for i, token in enumerate(specials + letters)}
    tokenizer = GemmaTokenizer(vocab=vocab, merges=[])
    tokenizer.padding_side = "left"
    latest = version == "2.3"
    if size == "toy":
        text = Gemma3TextConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                num_hidden_layers=2, num_attention_heads=2,
                                num_key_value_heads=1, head_dim=8, sliding_window=16,
                                max_position_embeddings=256, pad_token_id=0, eos_token_id=1,
                                bos_token_id=2)
        vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, image_size=28, patch_size=14)
        text_encoder = Gemma3ForConditionalGeneration(Gemma3Config(
            text_config=text, vision_config=vision, mm_tokens_per_image=4))
        transformer = LTX2VideoTransformer3DModel(
            in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2,
            attention_head_dim=8, cross_attention_dim=16, audio_in_channels=4,
            audio_out_channels=4, audio_num_attention_heads=2, audio_attention_head_dim=4,
            audio_cross_attention_dim=8, num_layers=2, qk_norm="rms_norm_across_heads",
            caption_channels=text.hidden_size, rope_double_precision=False, rope_type="split",
            **(_LTX23 if latest else {}))
        # LTX-2.3: each modality's connector projects to its transformer's width (16, 8)
        modality = ({"per_modality_projections": True, "video_hidden_dim": 16,
                     "audio_hidden_dim": 8, "proj_bias": True} if latest else {})
        connectors = LTX2TextConnectors(
            caption_channels=text.hidden_size, text_proj_in_factor=text.num_hidden_layers + 1,
            video_connector_num_attention_heads=2, video_connector_attention_head_dim=8,
            video_connector_num_layers=1, video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=2,
            audio_connector_attention_head_dim=4 if latest else 8,
            audio_connector_num_layers=1, audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32, rope_theta=10000.0, rope_double_precision=False,
            causal_temporal_positioning=False, rope_type="split", **modality)
        # LTX-2's own compression: 4×4 patches, then three space-time halvings (32× in space,
        # 8× in time), so the engine's multiples and frame counts are exercised as with the
        # real model
        vae = AutoencoderKLLTX2Video(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8),
            down_block_types=("LTX2VideoDownBlock3D",) * 3,
            decoder_block_out_channels=(8, 8, 8), layers_per_block=(1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1), spatio_temporal_scaling=(True, True, True),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            downsample_type=("spatiotemporal",) * 3, upsample_type=("spatiotemporal",) * 3,
            upsample_residual=(False, False, False), upsample_factor=(1, 1, 1),
            timestep_conditioning=False, patch_size=4, patch_size_t=1, encoder_causal=True,
            decoder_causal=False)
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1,
            attn_resolutions=None, in_channels=2, resolution=32, latent_channels=2,
            norm_type="pixel", causality_axis="height", dropout=0.0,
            mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160,
            is_causal=True, mel_bins=8)
        vocoder = LTX2Vocoder(
            in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
            # upsampling by the mel hop (160 samples), as the real vocoder does
            hidden_channels=32, out_channels=2, upsample_kernel_sizes=[8, 8, 20],
            upsample_factors=[4, 4, 10], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
            leaky_relu_negative_slope=0.1, output_sampling_rate=VOCODER_RATE)
        with torch.no_grad():  # a sound at speech-like level (random weights are quieter)
            vocoder.conv_out.weight.mul_(8.0)
            vocoder.conv_out.bias.zero_()
    else:
        layers = _depth(size, 48)
        text = Gemma3TextConfig(**{**GEMMA3_12B_TEXT, "num_hidden_layers": layers})
        vision = SiglipVisionConfig(**{**SIGLIP_400M,
                                       "num_hidden_layers": _depth(size, 27)})
        text_encoder = Gemma3ForConditionalGeneration(Gemma3Config(
            text_config=text, vision_config=vision, mm_tokens_per_image=256))
        transformer = LTX2VideoTransformer3DModel(
            **{**LTX2_TRANSFORMER[version], "num_layers": layers})
        connectors = LTX2TextConnectors(**LTX2_CONNECTORS[version],
                                        text_proj_in_factor=layers + 1)
        vae = AutoencoderKLLTX2Video(**LTX2_VAE[version])
        audio_vae = AutoencoderKLLTX2Audio(**LTX2_AUDIO_VAE)
        vocoder = (LTX2VocoderWithBWE if latest else LTX2Vocoder)(**LTX2_VOCODER[version])
    return LTX2ConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae,
        text_encoder=text_encoder, tokenizer=tokenizer, connectors=connectors,
        transformer=transformer, vocoder=vocoder)


def ltx2_upsampler(size: str = "toy") -> Any:
    """An LTX-2 latent upsampler (×2 in space) for a pipeline of ``size``."""
    import torch
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    torch.manual_seed(0)
    if size == "toy":
        return LTX2LatentUpsamplerModel(in_channels=4, mid_channels=32, num_blocks_per_stage=1)
    return LTX2LatentUpsamplerModel(**LTX2_UPSAMPLER)


def _umt5(size: str) -> tuple[Any, Any]:
    """A UMT5 text encoder of ``size`` and a tokenizer of a few words."""
    import torch
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    words = ["a", "the", "slow", "push", "in", "cat", "rocket", "rain", "falls", "camera", "orbit"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(f"\u2581{w}", -float(i)) for i, w in enumerate(words)]
    vocab += [(c, -20.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    # transformers 5: a tokenizer built from (token, score) pairs (vocab_file= would be ignored)
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    if size == "toy":
        config = UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1,
                            num_heads=4, relative_attention_num_buckets=8, pad_token_id=0,
                            eos_token_id=1, decoder_start_token_id=0)
    else:
        config = UMT5Config(**{**UMT5_XXL, "num_layers": _depth(size, 24)})
    return tokenizer, UMT5EncoderModel(config)


def _wan_vae(size: str) -> Any:
    from diffusers import AutoencoderKLWan

    if size == "toy":
        return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                temperal_downsample=[False, True, True])
    return AutoencoderKLWan()  # its defaults are Wan2.1's VAE (Wan2.2-A14B uses the same)


def _wan_transformer(size: str, image: bool) -> Any:
    from diffusers import WanTransformer3DModel

    if size == "toy":
        image_kwargs = {"image_dim": 8, "added_kv_proj_dim": 24,  # the image tokens' own K/V
                        "pos_embed_seq_len": 2 * ((CLIP_SIZE // CLIP_PATCH) ** 2 + 1)}
        return WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36,
            out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
            **(image_kwargs if image else {}))
    return WanTransformer3DModel(**{**WAN_14B, "num_layers": _depth(size, 40),
                                    **(WAN21_IMAGE if image else {})})


def wan21(size: str = "toy") -> Any:
    """A Wan2.1-FLF2V ``WanImageToVideoPipeline`` (with its CLIP image encoder) of ``size``."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    tokenizer, text_encoder = _umt5(size)
    if size == "toy":
        clip = CLIPVisionConfig(hidden_size=8, projection_dim=8, num_hidden_layers=2,
                                num_attention_heads=2, image_size=CLIP_SIZE,
                                intermediate_size=16, patch_size=CLIP_PATCH)
    else:
        clip = CLIPVisionConfig(**{**CLIP_VIT_H, "num_hidden_layers": _depth(size, 32)})
    image_encoder = CLIPVisionModel(clip)
    image_processor = CLIPImageProcessor(crop_size=clip.image_size, size=clip.image_size)
    vae = _wan_vae(size)
    transformer = _wan_transformer(size, image=True)
    return WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, image_encoder=image_encoder,
        image_processor=image_processor, transformer=transformer, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))


def wan22(size: str = "toy", ti2v: bool = False) -> Any:
    """A Wan2.2-I2V-A14B ``WanImageToVideoPipeline`` (two experts switched at
    ``boundary_ratio``, no image encoder) of ``size``; with ``ti2v`` a TI2V-style pipeline
    (``expand_timesteps``, one transformer) that the Wan2.2 engine must refuse."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline

    tokenizer, text_encoder = _umt5(size)
    vae = _wan_vae(size)
    experts = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        experts.append(_wan_transformer(size, image=False))
    return WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), transformer=experts[0],
        transformer_2=None if ti2v else experts[1], boundary_ratio=None if ti2v else 0.9,
        expand_timesteps=ti2v)


def save_lora(pipeline_class: Any, transformer: Any, out: Path, seed: int = 0) -> Path:
    """``out``/pytorch_lora_weights.safetensors: rank-2 LoRA on every attention projection of
    ``transformer`` (which gains the adapter), with non-zero weights (so fusing it changes the
    output), saved as ``pipeline_class`` saves LoRAs."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict

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


FLOAT32_PARTS = {"wan2.1": ("vae", "image_encoder"), "wan2.2": ("vae",)}
"""Components the engines load in float32 (the rest: bfloat16)."""


def weights_gib(model: str) -> dict[str, float]:
    """GiB of each component of ``model`` (``ltx2.0``, ``ltx2.3``, ``wan2.1``, ``wan2.2``) at
    full depth, in the dtype the engine loads it in: counted on the meta device (nothing
    allocated), for docs/diffusion.md's memory estimates."""
    import torch

    builders = {"ltx2.0": lambda: ltx2("2.0", "full"), "ltx2.3": lambda: ltx2("2.3", "full"),
                "wan2.1": lambda: wan21("full"), "wan2.2": lambda: wan22("full")}
    with torch.device("meta"):
        pipe = builders[model]()
    return {name: sum(p.numel() for p in part.parameters())
            * (4 if name in FLOAT32_PARTS.get(model, ()) else 2) / 2**30
            for name, part in pipe.components.items() if isinstance(part, torch.nn.Module)}
