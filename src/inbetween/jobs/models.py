"""Domain models of a generation: frozen dataclasses, and the status transitions in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ASPECT_RATIOS",
    "BUDGET_PERIODS",
    "DEFAULT_WEBHOOK_EVENTS",
    "DURATIONS",
    "FPS",
    "MAX_SEED",
    "RESOLUTIONS",
    "WEBHOOK_EVENTS",
    "Charge",
    "Delivery",
    "Generation",
    "GenerationRequest",
    "ImageInput",
    "JobWarning",
    "LogEntry",
    "Outcome",
    "Stage",
    "Status",
    "Upload",
    "WebhookSecret",
    "can_transition",
]

FPS = 24
ASPECT_RATIOS = ("16:9", "9:16")
DURATIONS = (4, 6, 8)
RESOLUTIONS = ("720p", "1080p")
MAX_SEED = 2**32 - 1
WEBHOOK_EVENTS = ("started", "progress", "completed", "error")
DEFAULT_WEBHOOK_EVENTS = ("completed", "error")
BUDGET_PERIODS = ("month", "day", "total")
_CANVAS = {
    ("16:9", "720p"): (1280, 720),
    ("16:9", "1080p"): (1920, 1080),
    ("9:16", "720p"): (720, 1280),
    ("9:16", "1080p"): (1080, 1920),
}


class Status(StrEnum):
    """The only four statuses a client ever sees."""

    QUEUED = "queued"
    GENERATING = "generating"
    COMPLETED = "completed"
    ERROR = "error"


class Stage(StrEnum):
    """Finer-grained step of a generation (our addition; status stays one of four)."""

    QUEUED = "queued"
    FETCHING = "fetching"
    ANALYSING = "analysing"
    RENDERING = "rendering"
    ENCODING = "encoding"
    AUDIO = "audio"
    STORING = "storing"
    DONE = "done"


_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.GENERATING, Status.ERROR}),
    # back to QUEUED when a lease expires or infrastructure failed (retry)
    Status.GENERATING: frozenset({Status.COMPLETED, Status.ERROR, Status.QUEUED}),
    Status.COMPLETED: frozenset(),
    Status.ERROR: frozenset(),
}


def can_transition(current: Status, target: Status) -> bool:
    """Whether a job in ``current`` may move to ``target``."""
    return target in _TRANSITIONS[current]


@dataclass(frozen=True)
class GenerationRequest:
    """What the client asked for, validated."""

    model: str
    prompt: str
    aspect_ratio: str = "16:9"
    duration: int = 8
    resolution: str = "1080p"
    generate_audio: bool = True
    provider: str = "auto"
    negative_prompt: str | None = None
    seed: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output video."""
        return _CANVAS[(self.aspect_ratio, self.resolution)]

    @property
    def frame_count(self) -> int:
        return self.duration * FPS


@dataclass(frozen=True)
class ImageInput:
    """An input image: either a URL the worker fetches, or bytes checked at submission."""

    url: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValueError("ImageInput needs exactly one of url or data")


@dataclass(frozen=True)
class JobWarning:
    """Something the client should know about a finished generation."""

    code: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """How a run ended: completed with a video, or error with a reason."""

    status: Status
    engine: str | None = None
    video_token: str | None = None
    error_name: str | None = None
    error_message: str | None = None
    warnings: tuple[JobWarning, ...] = ()
    credits_used: float = 0.0
    details: dict[str, object] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds the run spent per metric stage (fetch, render, encode, upstream, store)."""

    @property
    def provider(self) -> str:
        """The upstream provider that made the video, or ``local``."""
        return str(self.details.get("provider") or "local")


@dataclass(frozen=True)
class Generation:
    """One generation job, as stored."""

    id: str
    key_id: str
    request: GenerationRequest
    seed: int
    status: Status = Status.QUEUED
    stage: Stage = Stage.QUEUED
    progress: int = 0
    engine: str | None = None
    video_token: str | None = None
    error_name: str | None = None
    error_message: str | None = None
    warnings: tuple[JobWarning, ...] = field(default=())
    credits_used: float = 0.0
    details: dict[str, object] = field(default_factory=dict)
    idempotency_key: str | None = None
    request_hash: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    revision: int = 0
    """Bumped by every change a client can see (status, stage, progress, a log line)."""
    upstream: dict[str, object] | None = None
    """For upstream routes: provider, model, the provider's job handle (recorded before the
    first poll, so a re-claimed job resumes it and never submits again), attempts."""
    deadline_at: float | None = None
    """When a ``Cancel-After`` header set one: the time after which the job ends as
    ``DeadlineExceeded`` (unfinished work stopped, nothing charged)."""
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] = ()
    """Of ``WEBHOOK_EVENTS``: the status changes announced to ``webhook_url``."""
    base_url: str | None = None
    """The submitting request's base URL: webhook bodies build the video's links on it."""
    reserved_usd: float = 0.0
    """The worst-case cost held against the key's budget until the job ends."""

    @property
    def finished(self) -> bool:
        return self.status in (Status.COMPLETED, Status.ERROR)


@dataclass(frozen=True)
class Charge:
    """One delivered generation in the spend ledger."""

    generation_id: str
    key_id: str
    date: str  # UTC day of delivery, YYYY-MM-DD
    model: str
    provider: str
    seconds: float
    cost_usd: float
    created_at: float

    @staticmethod
    def of(job: Generation, outcome: Outcome, now: float) -> Charge | None:
        """The charge for ``job`` ending with ``outcome``: only a delivered video costs."""
        if outcome.status is not Status.COMPLETED:
            return None
        import datetime

        day = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d")
        return Charge(job.id, job.key_id, day, job.request.model,
                      outcome.provider,
                      float(job.request.duration), float(outcome.credits_used), now)


@dataclass(frozen=True)
class LogEntry:
    """One line of a generation's log, as live events show it."""

    revision: int
    time: float
    level: str
    message: str


@dataclass(frozen=True)
class Upload:
    """An image uploaded for later use as ``image_url``/``last_image_url`` (bytes live in
    the artifact store under ``artifact_key``)."""

    id: str
    key_id: str
    content_type: str
    size: int
    width: int
    height: int
    created_at: float
    last_used_at: float

    @property
    def artifact_key(self) -> str:
        return f"upload-{self.id}.img"


@dataclass(frozen=True)
class Delivery:
    """One webhook message in the outbox: its body is fixed when the status change it
    announces is stored; each attempt is signed and sent anew."""

    id: str  # webhook-id
    generation_id: str
    key_id: str
    type: str  # generation.started | .progress | .completed | .error
    url: str
    body: str
    status: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: float | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    claimed_by: str | None = None
    claimed_until: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class WebhookSecret:
    """A key's signing secret (``whsec_…``) and, for a while after a rotation, the one it
    replaced: deliveries carry signatures of both until ``previous_until``."""

    key_id: str
    secret: str
    previous: str | None = None
    previous_until: float | None = None
    created_at: float = 0.0

    def signing(self, now: float) -> tuple[str, ...]:
        """The secrets a delivery sent at ``now`` is signed with."""
        if self.previous and self.previous_until is not None and now < self.previous_until:
            return (self.secret, self.previous)
        return (self.secret,)
