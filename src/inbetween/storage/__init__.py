"""Artifact stores: where finished videos are kept."""

from inbetween.settings import Settings
from inbetween.storage.base import ArtifactStore
from inbetween.storage.local import LocalArtifacts
from inbetween.storage.memory import MemoryArtifacts

__all__ = ["ArtifactStore", "LocalArtifacts", "MemoryArtifacts", "open_artifacts"]


def open_artifacts(settings: Settings) -> ArtifactStore:
    """The artifact store the settings name: S3 for s3:// URLs, else local files."""
    if settings.storage_url:
        from inbetween.storage.s3 import S3Artifacts

        return S3Artifacts(settings.storage_url, endpoint_url=settings.s3_endpoint_url,
                           presign_seconds=settings.presign_seconds,
                           public_base_url=settings.public_base_url)
    return LocalArtifacts(settings.files_dir)
