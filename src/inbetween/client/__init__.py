"""The inbetween client: ``Client`` (blocking) and ``AsyncClient``, their models and errors.

Importing it loads only httpx (and PIL/NumPy when an image object is passed), never the
server's dependencies.
"""

from inbetween.client.aio import AsyncClient, InputError
from inbetween.client.errors import (
    APIError,
    AuthenticationError,
    BudgetExceededError,
    ClientError,
    ConflictError,
    GenerationFailed,
    InbetweenClientError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SubmitUncertain,
    UnsupportedFeature,
    WaitTimeout,
)
from inbetween.client.models import (
    Generation,
    GenerationWarning,
    JobError,
    Meta,
    Page,
    Progress,
    Usage,
    Video,
)
from inbetween.client.sync import Client

__all__ = [
    "APIError", "AsyncClient", "AuthenticationError", "BudgetExceededError", "Client",
    "ClientError",
    "ConflictError", "Generation", "GenerationFailed", "GenerationWarning",
    "InbetweenClientError", "InputError", "InvalidRequestError", "JobError", "Meta",
    "NotFoundError", "Page", "PermissionDeniedError", "Progress", "RateLimitError",
    "ServerError", "SubmitUncertain", "UnsupportedFeature", "Usage", "Video", "WaitTimeout",
]
