"""inbetween: self-hostable first-and-last-frame video generation.

The server speaks the v2 video-generations API of the hosted model
``google/veo-3.1-first-last-image-to-video``. See README.md. ``inbetween.Client`` and
``inbetween.AsyncClient`` are its client (imported lazily: ``import inbetween`` loads none of
the server's dependencies).
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from inbetween import client

        return getattr(client, name)
    raise AttributeError(f"module 'inbetween' has no attribute {name!r}")
