"""Artifact stores: where finished videos are kept."""

from inbetween.storage.base import ArtifactStore
from inbetween.storage.local import LocalArtifacts
from inbetween.storage.memory import MemoryArtifacts

__all__ = ["ArtifactStore", "LocalArtifacts", "MemoryArtifacts"]
