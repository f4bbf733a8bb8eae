"""The one Settings object: every knob is an ``INBETWEEN_…`` environment variable.

Settings are read once, in ``main()`` (or by a test), and passed down. Nothing in the
package reads ``os.environ`` at import time. ``docs/settings.md`` lists every field.

The environment is read by ``Settings`` itself (a plain pydantic model): every setting is a
scalar, so the variables need no parsing beyond pydantic's own, and the CLI starts ~40 ms
sooner than with pydantic-settings (whose sources import asyncio, importlib.metadata,
zipfile and dotenv).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["ENV_PREFIX", "Lora", "Settings", "parse_loras"]

ENV_PREFIX = "INBETWEEN_"


@dataclass(frozen=True)
class Lora:
    """One LoRA to fuse into a diffusion model: a file or folder, and its weight."""

    path: str
    scale: float = 1.0


def parse_loras(value: str) -> tuple[Lora, ...]:
    """``path[:scale],path[:scale],…`` (a path may hold ``:`` when a scale follows it)."""
    loras = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        path, scale = item, 1.0
        head, colon, tail = item.rpartition(":")
        if colon and head:
            with contextlib.suppress(ValueError):  # no scale: the colon is the path's
                path, scale = head, float(tail)
        if not math.isfinite(scale):
            raise ValueError(f"LoRA {path!r}: the scale must be a finite number")
        loras.append(Lora(path, scale))
    return tuple(loras)


class Settings(BaseModel):
    """Configuration of one inbetween process (server, worker or CLI).

    ``Settings()`` reads ``INBETWEEN_<FIELD>`` (any case) from the environment; keyword
    arguments win over it. Other ``INBETWEEN_…`` variables are not settings (the client's,
    for one) and are left alone; unknown keyword arguments are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **values: object) -> None:
        super().__init__(**{**_environment(type(self).model_fields), **values})

    data_dir: Path = Field(Path("./data"), description="Database, videos and temporary files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///{data_dir}/inbetween.db."
    )
    storage_url: str | None = Field(
        None, description="Where videos go: s3://bucket/prefix; default the data dir's files/."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, R2).")
    presign_seconds: float = Field(3600.0, gt=0, description="Lifetime of presigned S3 URLs.")
    public_base_url: str | None = Field(
        None, description="Public bucket URL: redirect there + key instead of presigning."
    )
    public_url: str | None = Field(
        None, description="Base URL used in video.url; default the request's own base URL."
    )
    signed_urls: bool = Field(
        False, description="Video URLs also carry an expiring signature, checked on download."
    )
    signed_url_seconds: float = Field(3600.0, gt=0, description="Lifetime of a signed URL.")
    url_secret: str | None = Field(
        None, description="HMAC secret for signed URLs; default: one kept in the data dir."
    )
    host: str = Field("127.0.0.1", description="Address `inbetween serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `inbetween serve` listens on.")
    broker_url: str | None = Field(
        None, description="Celery broker (redis://… or amqp://…): jobs go to `inbetween worker`."
    )
    concurrency: int = Field(
        1, ge=0, description="Jobs this process runs at once; 0 only accepts and stores jobs."
    )
    lease_seconds: float = Field(
        30.0, gt=0, description="A claimed job's lease; the worker renews it every third of it."
    )
    drain_seconds: float = Field(
        30.0, ge=0, description="On SIGTERM, how long running jobs may finish before they are "
        "put back in the queue."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle worker looks for queued jobs."
    )
    max_attempts: int = Field(
        3, ge=1, description="Runs of one job before a lost lease ends it as error."
    )
    retention_days: float | None = Field(
        None, gt=0, description="Delete finished generations older than this; unset: keep."
    )
    keyframe_credits_per_second: float = Field(
        0.0, ge=0, description="credits_used per second of video made by the keyframe engine."
    )
    max_pixels: int = Field(
        40_000_000, gt=0, description="Largest input image (width × height) accepted."
    )
    max_body_mb: float = Field(60.0, gt=0, description="Largest request body, in MiB (413).")
    rate_submit_per_second: float = Field(10.0, gt=0, description="POSTs per key per second.")
    rate_poll_per_second: float = Field(100.0, gt=0, description="GETs per key per second.")
    max_unfinished_per_key: int = Field(
        100, ge=1, description="Queued or generating generations one key may have (429)."
    )
    max_event_streams_per_key: int = Field(
        10, ge=1, description="Open live-event streams one key may hold per process (429)."
    )
    events_poll_seconds: float = Field(
        0.25, gt=0, le=10, description="How often an event stream reads the job store."
    )
    events_ping_seconds: float = Field(
        15.0, gt=0, description="Interval of `: ping` comments on an idle event stream."
    )
    upload_ttl_hours: float = Field(
        24.0, gt=0, description="Uploads unused for this long are deleted."
    )
    fetch_max_mb: float = Field(20.0, gt=0, description="Largest image download, in MiB.")
    fetch_allow: str = Field(
        "", description="Comma-separated CIDR ranges and host:port the fetcher may reach "
        "although they are not public."
    )
    fetch_connect_seconds: float = Field(5.0, gt=0, description="Image download connect limit.")
    fetch_timeout_seconds: float = Field(30.0, gt=0, description="Image download total limit.")
    video_crf: int = Field(18, ge=0, le=51, description="x264 constant rate factor (quality).")
    video_preset: str = Field(
        "superfast", description="x264 preset (speed/size trade-off).",
        pattern="^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow|placebo)$")
    video_x264_params: str = Field(
        "mbtree=1:rc-lookahead=10",
        description="x264 options on top of the preset (`key=value:…`); empty: the preset's.",
        pattern=r"^([a-z0-9_-]+=[A-Za-z0-9.,+/_=-]+(:[a-z0-9_-]+=[A-Za-z0-9.,+/_=-]+)*)?$")
    log_level: str = Field("INFO", description="Python logging level name.")
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        None, description="When set, /metrics wants `Authorization: Bearer <token>`.")
    storage_retry_seconds: str = Field(
        "1,2,4,8", description="Seconds before each retry of storing a finished video "
        "(S3 or the videos folder failing); then the job goes back to the queue.")
    requeue_after_seconds: float = Field(
        60.0, gt=0, description="A job queued this long without a worker taking it is sent "
        "to the broker again (a broker that restarted may have lost its message).")
    # -- webhooks ----------------------------------------------------------------------------
    webhook_retry_seconds: str = Field(
        "5,300,1800,7200,18000,36000,36000",
        description="Seconds before each retry of a failed webhook delivery, comma-separated "
        "(one more attempt than there are numbers; 410 stops at once).")
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="A webhook receiver must answer within this.")
    webhook_poll_seconds: float = Field(
        1.0, gt=0, description="How often each process looks for due webhook deliveries.")
    webhook_secret_overlap_hours: float = Field(
        24.0, ge=0, description="After a secret rotation, deliveries are signed with the old "
        "secret too for this long.")
    # -- upstream providers (the real Veo 3.1) ---------------------------------------------
    local_engine: str = Field(
        "keyframe", description="Engine of the `local` route for the Google model names.")
    provider_chain: str = Field(
        "google,fal,aimlapi", description="`auto`: providers tried in order (configured ones).")
    google_api_key: SecretStr | None = Field(None, description="Gemini API key (Veo).")
    google_base_url: str = Field("https://generativelanguage.googleapis.com",
                                 description="Gemini API base URL (no path).")
    google_model: str = Field("veo-3.1-generate-preview", description="Google's Veo model.")
    google_model_fast: str = Field("veo-3.1-fast-generate-preview",
                                   description="Google's model for `…-fast` requests.")
    fal_key: SecretStr | None = Field(None, description="fal.ai key.")
    fal_queue_url: str = Field("https://queue.fal.run", description="fal queue base URL.")
    fal_rest_url: str = Field("https://rest.fal.ai", description="fal REST (storage) base URL.")
    fal_model: str = Field("fal-ai/veo3.1/first-last-frame-to-video",
                           description="fal model id.")
    fal_model_fast: str = Field("fal-ai/veo3.1/fast/first-last-frame-to-video",
                                description="fal model id for `…-fast` requests.")
    aimlapi_key: SecretStr | None = Field(None, description="Key of the hosted API (aimlapi).")
    aimlapi_base_url: str = Field("https://api.aimlapi.com",
                                  description="Hosted API base URL (no path).")
    upstream_poll_seconds: float = Field(5.0, gt=0, description="Upstream status poll interval.")
    upstream_timeout_seconds: float = Field(
        900.0, gt=0, description="Give up on an upstream job after this long (UpstreamTimeout).")
    upstream_max_mb: float = Field(200.0, gt=0, description="Largest upstream video download.")
    # -- the open-weights diffusion engine (inbetween[diffusion]) ----------------------------
    wan_model: str = Field(
        "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        description="Wan FLF2V model: a local folder saved with save_pretrained, or a hub id.")
    allow_model_download: bool = Field(
        False, description="Let the diffusion engine download a hub model at run time.")
    diffusion_device: str | None = Field(
        None, description="torch device for diffusion; unset: cuda when available, else cpu.")
    diffusion_dtype: str = Field(
        "bfloat16", description="dtype of the Wan transformer (image encoder and VAE: float32).")
    diffusion_offload: str = Field(
        "auto", pattern="^(auto|none|model|sequential)$",
        description="CPU offload: auto (none when the model and its working memory fit the "
        "GPU's free memory at load, else model; logged once), none, model or sequential.")
    diffusion_vae_tiling: bool = Field(
        True, description="Decode the VAE in spatial tiles: less GPU memory at 720p and above "
        "(by estimate, an 8 s 720p LTX-2 decode does not fit beside the model without).")
    diffusion_steps: int = Field(30, ge=1, le=200, description="Wan2.1 denoising steps.")
    diffusion_guidance: float = Field(
        5.0, ge=0, description="Wan2.1 classifier-free guidance scale.")
    diffusion_max_area: int = Field(
        921_600, ge=256, description="Largest generated area in pixels (then upscaled).")
    diffusion_max_frames: int = Field(
        81, ge=5, description="Most frames generated at 16 fps (4k+1; then retimed to 24 fps).")
    wan_loras: str = Field(
        "", description="LoRAs fused into Wan2.1 at load: `path[:scale],…` (e.g. a step-"
        "distilled LoRA); needs peft.")
    # -- LTX-2.x (inbetween/ltx2), with the model's own sound --------------------------------
    ltx2_model: str | None = Field(
        None, description="LTX-2.x folder (save_pretrained of an LTX-2 pipeline); unset: "
        "inbetween/ltx2 is not offered.")
    ltx2_steps: int = Field(30, ge=1, le=200, description="LTX-2 denoising steps.")
    ltx2_guidance: float = Field(
        3.0, ge=0, description="LTX-2 CFG scale; ≤ 1 turns CFG, STG and modality guidance "
        "off (distilled checkpoints and LoRAs: one pass per step).")
    ltx2_max_area: int = Field(
        921_600, ge=1024, description="Largest area LTX-2 generates (sides multiples of 32; "
        "then upscaled, or upsampled with INBETWEEN_LTX2_UPSAMPLER).")
    ltx2_loras: str = Field("", description="LoRAs fused into LTX-2 at load: `path[:scale],…`.")
    ltx2_upsampler: str | None = Field(
        None, description="LTX-2 latent upsampler folder: outputs above "
        "INBETWEEN_LTX2_MAX_AREA are generated at half size and upsampled ×2.")
    # -- Wan2.2 I2V A14B (inbetween/wan2.2-flf2v) ----------------------------------------------
    wan22_model: str | None = Field(
        None, description="Wan2.2-I2V-A14B folder (save_pretrained); unset: "
        "inbetween/wan2.2-flf2v is not offered.")
    wan22_steps: int = Field(40, ge=1, le=200, description="Wan2.2 denoising steps.")
    wan22_guidance: float = Field(3.5, ge=0, description="Wan2.2 CFG of the high-noise expert.")
    wan22_guidance_2: float = Field(
        3.5, ge=0, description="Wan2.2 CFG of the low-noise expert (transformer_2).")
    wan22_loras: str = Field(
        "", description="LoRAs fused into both Wan2.2 experts at load: `path[:scale],…`.")
    # -- fast settings of every diffusion engine -------------------------------------------
    diffusion_attention: str = Field(
        "native", pattern=r"^[a-z0-9_]+$",
        description="Attention backend (`set_attention_backend`): native, _native_cudnn, "
        "_native_flash, flash, sage, …; kernels fetched from a hub are refused.")
    diffusion_quantize: str = Field(
        "none", pattern="^(none|fp8|int8)$",
        description="Quantize the transformer(s) with torchao: none, fp8 or int8.")
    diffusion_compile: bool = Field(
        False, description="torch.compile the transformer blocks; the worker warms the model "
        "at start.")
    diffusion_first_block_cache: float = Field(
        0.0, ge=0, lt=1, description="First-block cache threshold (Wan models only; 0: off).")
    worker_engines: str | None = Field(
        None, description="Comma-separated engines this process's workers run; unset: all.")
    prices: str | None = Field(
        None, description="JSON provider → model → {audio, no_audio} USD per second; "
        "unset: the built-in list prices.")

    @field_validator("webhook_retry_seconds", "storage_retry_seconds")
    @classmethod
    def _retries(cls, value: str) -> str:
        _schedule(value)
        return value

    @property
    def storage_schedule(self) -> tuple[float, ...]:
        """INBETWEEN_STORAGE_RETRY_SECONDS as numbers."""
        return _schedule(self.storage_retry_seconds)

    @property
    def webhook_schedule(self) -> tuple[float, ...]:
        """INBETWEEN_WEBHOOK_RETRY_SECONDS as numbers."""
        return _schedule(self.webhook_retry_seconds)

    @field_validator("wan_loras", "ltx2_loras", "wan22_loras")
    @classmethod
    def _loras(cls, value: str) -> str:
        parse_loras(value)  # a scale that is not a finite number is refused
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'inbetween.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"


def _environment(fields: Mapping[str, object]) -> dict[str, str]:
    """The settings among the environment's variables, by field name."""
    found = {}
    for key, value in os.environ.items():
        name = key.upper().removeprefix(ENV_PREFIX).lower()
        if len(name) < len(key) and name in fields:
            found[name] = value
    return found


def _schedule(value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise ValueError("seconds, comma-separated, e.g. 5,300,1800") from None
    if any(not math.isfinite(d) or d < 0 for d in delays):
        raise ValueError("each delay must be ≥ 0 seconds")
    return delays
