"""What the client raises. Every HTTP error is an ``APIError`` with the server's error body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inbetween.client.models import Generation

__all__ = [
    "APIError",
    "AuthenticationError",
    "BudgetExceededError",
    "ClientError",
    "ConflictError",
    "GenerationFailed",
    "InbetweenClientError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SubmitUncertain",
    "UnsupportedFeature",
    "WaitTimeout",
    "api_error",
]


class InbetweenClientError(Exception):
    """Base of everything the client raises on purpose."""


class APIError(InbetweenClientError):
    """The server answered with an error status; its ``{"error": {...}}`` body, parsed."""

    def __init__(self, status: int, name: str, message: str, field: str | None = None,
                 allowed: list[Any] | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status, self.name, self.message = status, name, message
        self.field, self.allowed, self.retry_after = field, allowed, retry_after


class ClientError(APIError):
    """A 4xx: the request must change before it can succeed."""


class InvalidRequestError(ClientError):
    """400: ``field`` names what is wrong and ``allowed`` what would be accepted."""


class AuthenticationError(ClientError):
    """401: the API key is missing or unknown."""


class BudgetExceededError(ClientError):
    """402: what is left of the key's budget cannot cover the request's worst case; the
    message says what is left and when the budget resets."""


class PermissionDeniedError(ClientError):
    """403."""


class NotFoundError(ClientError):
    """404: no such generation for this key (or a route the server does not have)."""


class ConflictError(ClientError):
    """409: an Idempotency-Key was reused for a different request."""


class RateLimitError(ClientError):
    """429: ``retry_after`` says how many seconds to wait."""


class ServerError(APIError):
    """A 5xx."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError, 401: AuthenticationError, 402: BudgetExceededError,
    403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 429: RateLimitError,
}


def api_error(status: int, body: Any, retry_after: float | None = None) -> APIError:
    """The APIError subclass for ``status`` with the fields of an error ``body``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ClientError)
    return cls(status, str(error.get("name") or f"HTTP{status}"),
               str(error.get("message") or "the server gave no error message"),
               error.get("field"), error.get("allowed"), retry_after)


class GenerationFailed(InbetweenClientError):
    """The generation ended with status ``error``; ``generation.error`` says why."""

    def __init__(self, generation: Generation) -> None:
        error = generation.error
        reason = f"{error.name}: {error.message}" if error else "no reason given"
        super().__init__(f"generation {generation.id} failed: {reason}")
        self.generation = generation
        self.error = error


class WaitTimeout(InbetweenClientError):
    """The generation did not end within the wait's time-out; it may still finish."""

    def __init__(self, generation_id: str, timeout: float) -> None:
        super().__init__(f"generation {generation_id} did not finish within {timeout:g} s; "
                         "it keeps running on the server: wait for it again later")
        self.generation_id, self.timeout = generation_id, timeout


class SubmitUncertain(InbetweenClientError):
    """A submission was sent but no answer came, and the server cannot deduplicate retries
    (no idempotency support), so it was not retried: a generation may or may not exist.

    ``request`` is the body that was sent (image data as sent), ``sent_at`` the Unix time;
    check the server (or its listing) for a generation with that prompt before retrying.
    """

    def __init__(self, request: dict[str, Any], sent_at: float, cause: BaseException) -> None:
        super().__init__(f"the submission was sent but no answer came ({type(cause).__name__}:"
                         f" {cause}); a generation may or may not have been created, and "
                         "retrying could start (and bill) a second one")
        self.request, self.sent_at, self.cause = request, sent_at, cause


class UnsupportedFeature(InbetweenClientError):
    """The server does not advertise the feature this call needs."""
