"""The HTTP layer: FastAPI app, routers, auth and the error table."""

from inbetween.api.app import create_app

__all__ = ["create_app"]
