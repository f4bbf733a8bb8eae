"""The error tree of inbetween. Each class's docstring is its default message.

::

    InbetweenError
    ├── InvalidRequest          400  the request is wrong; names the field and what is allowed
    ├── Unauthorized            401  missing, malformed or unknown API key
    ├── Forbidden               403  a signed video URL that is not (or no longer) valid
    ├── BudgetExceeded          402  the key's budget cannot cover the request's worst case
    ├── NotFound                404  no such generation (or not yours)
    ├── Conflict                409  an Idempotency-Key reused for a different request
    ├── PayloadTooLarge         413  the request body is over INBETWEEN_MAX_BODY_MB
    ├── TooManyRequests         429  a per-key rate limit or the unfinished-jobs cap
    ├── JobFailure                   a job ended as ``error``; ``name`` goes to error.name
    │   ├── ImageFetchError          a URL input could not be downloaded
    │   ├── InvalidImage             an input is not a usable image
    │   ├── EngineError              the engine failed on this input
    │   ├── WorkerLost               the job's workers kept dying (lease expired too often)
    │   ├── ModelUnavailable         a diffusion model is missing or cannot be loaded
    │   ├── OutOfMemory              the accelerator ran out of memory for this job
    │   ├── DeadlineExceeded         not finished by its Cancel-After deadline (not charged)
    │   ├── StorageFull              a disk (data dir, temporary files) is full: ENOSPC
    │   └── UpstreamFailure          an upstream provider's job failed:
    │       ├── ContentFiltered        blocked by the provider's content policy
    │       ├── UpstreamEmptyResult    the provider finished without a video
    │       ├── UpstreamTimeout        not finished within INBETWEEN_UPSTREAM_TIMEOUT_SECONDS
    │       ├── UpstreamUnavailable    refused, 429 after retries, 5xx (the chain moves on)
    │       ├── UpstreamAuthFailed     the provider refused our key (the chain moves on)
    │       ├── UpstreamUncertain      sent, no answer: maybe started, so never re-sent
    │       └── UpstreamError          anything else, with the provider's message
    ├── InfrastructureError          storage/database trouble: retryable, not the user's fault
    │   └── StorageUnavailable       the artifact store kept failing (retried, then requeued)
    └── ConfigurationError           a process cannot start: a setting, a driver, a service
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BudgetExceeded",
    "ConfigurationError",
    "Conflict",
    "ContentFiltered",
    "DeadlineExceeded",
    "EngineError",
    "Forbidden",
    "ImageFetchError",
    "InbetweenError",
    "InfrastructureError",
    "InvalidImage",
    "InvalidRequest",
    "JobFailure",
    "ModelUnavailable",
    "NotFound",
    "OutOfMemory",
    "PayloadTooLarge",
    "StorageFull",
    "StorageUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UpstreamAuthFailed",
    "UpstreamEmptyResult",
    "UpstreamError",
    "UpstreamFailure",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UpstreamUncertain",
    "WorkerLost",
]


class InbetweenError(Exception):
    """Something went wrong in inbetween."""

    status_code = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.__class__.__name__).strip()
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return type(self).__name__


class InvalidRequest(InbetweenError):
    """The request is invalid."""

    status_code = 400

    def __init__(
        self, message: str, *, field: str | None = None, allowed: Sequence[object] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.allowed = list(allowed) if allowed is not None else None


class Unauthorized(InbetweenError):
    """Missing or invalid API key: send `Authorization: Bearer <key>` (create one with `inbetween keys create --name NAME`)."""  # noqa: E501

    status_code = 401


class Forbidden(InbetweenError):
    """Access to this resource is not allowed."""

    status_code = 403


class NotFound(InbetweenError):
    """No generation with this id exists for this API key."""

    status_code = 404


class Conflict(InbetweenError):
    """This Idempotency-Key was already used for a different request."""

    status_code = 409


class PayloadTooLarge(InbetweenError):
    """The request body is too large."""

    status_code = 413


class TooManyRequests(InbetweenError):
    """Too many requests for this API key; retry later."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExceeded(InbetweenError):
    """What is left of this API key's budget cannot cover this request."""

    status_code = 402


class JobFailure(InbetweenError):
    """The generation failed."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StorageFull(JobFailure):
    """A disk this server writes to is full; free space, then submit again."""


class ImageFetchError(JobFailure):
    """An input image could not be downloaded."""


class InvalidImage(JobFailure):
    """An input is not a usable image."""


class EngineError(JobFailure):
    """The engine failed to generate the video."""


class WorkerLost(JobFailure):
    """The workers running this generation stopped responding too many times."""


class ModelUnavailable(JobFailure):
    """The engine's model is not available on this worker."""


class OutOfMemory(JobFailure):
    """The worker ran out of (GPU) memory for this generation."""


class DeadlineExceeded(JobFailure):
    """The generation was not finished by the deadline its Cancel-After header set."""


class UpstreamFailure(JobFailure):
    """The upstream provider's job failed."""

    #: whether the submission provably started no paid job, so the chain may move on
    fallback = False

    def __init__(self, message: str | None = None, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class ContentFiltered(UpstreamFailure):
    """The provider blocked the request or its video under its content policy."""


class UpstreamEmptyResult(UpstreamFailure):
    """The provider reported success but returned no video."""


class UpstreamTimeout(UpstreamFailure):
    """The upstream job did not finish in time."""


class UpstreamUnavailable(UpstreamFailure):
    """The provider could not take the job (unreachable, rate-limited or failing)."""

    fallback = True


class UpstreamAuthFailed(UpstreamFailure):
    """The provider refused this server's key; the operator must fix it."""

    fallback = True


class UpstreamUncertain(UpstreamFailure):
    """The submission was sent but no answer came; it was not sent again (no double billing)."""


class UpstreamError(UpstreamFailure):
    """The upstream provider failed."""


class InfrastructureError(InbetweenError):
    """A storage or database operation failed; the job will be retried."""

    status_code = 503


class StorageUnavailable(InfrastructureError):
    """The artifact store (S3, the videos folder) kept failing while a video was stored."""


class ConfigurationError(InbetweenError):
    """This process cannot start: a setting is wrong, a driver is missing or a service it
    needs does not answer. The message is one line naming the setting and the fix."""

    status_code = 500
