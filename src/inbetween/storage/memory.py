"""Videos held in memory, materialised to a temporary folder on demand (tests, embedding)."""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["MemoryArtifacts"]


class MemoryArtifacts:
    """An ArtifactStore in a dict of bytes."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._spill = Path(tempfile.mkdtemp(prefix="inbetween-artifacts-"))

    def put(self, source: Path, key: str) -> None:
        self.blobs[key] = source.read_bytes()
        source.unlink()

    def local_path(self, key: str) -> Path | None:
        if key not in self.blobs:
            return None
        path = self._spill / Path(key).name
        path.write_bytes(self.blobs[key])
        return path

    def redirect_url(self, key: str) -> str | None:
        return None

    def read(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)
