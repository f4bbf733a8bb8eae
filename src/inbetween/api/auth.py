"""Bearer-key authentication for every `/v2/…` route."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from inbetween.api.state import Services, services
from inbetween.errors import Unauthorized
from inbetween.keys import lookup_key
from inbetween.store.base import ApiKey

__all__ = ["require_key"]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`; create a "
                     "key with `inbetween keys create --name NAME`.")


def require_key(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    svc: Services = Depends(services),
) -> ApiKey:
    """The caller's API key; 401 when it is missing or unknown."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    key = lookup_key(svc.store, credentials.credentials.strip())
    if key is None:
        raise Unauthorized("unknown API key: send `Authorization: Bearer <key>` with a key "
                           "made by `inbetween keys create --name NAME`")
    request.state.key_id = key.id
    return key
