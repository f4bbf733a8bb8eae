"""Storing a finished video through an outage of the artifact store: each failing ``put``
is tried again after each delay of a schedule (the job's lease is kept alive meanwhile);
then ``StorageUnavailable`` — the worker gives the job back to the queue, or, after its last
attempt, ends it with that name. Objects appear whole or not at all (S3 puts and local
renames are atomic), so a partial video is never served."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from inbetween.errors import InfrastructureError, StorageFull, StorageUnavailable
from inbetween.log import event
from inbetween.storage.base import ArtifactStore

__all__ = ["RetryingArtifacts", "storage_full"]

log = logging.getLogger("inbetween.storage")


def storage_full(e: OSError, where: Path | str) -> StorageFull:
    """The job failure for ENOSPC while writing under ``where``."""
    target = e.filename or where
    return StorageFull(
        f"the disk is full: no space left on device while writing {target}; the server's "
        f"operator must free space there (or move INBETWEEN_DATA_DIR to a larger disk); "
        "then submit the generation again")


class RetryingArtifacts:
    """An ArtifactStore whose ``put`` outlasts short outages of ``inner``."""

    def __init__(self, inner: ArtifactStore, delays: Sequence[float],
                 pause: Callable[[float], object]) -> None:
        self.inner, self.delays, self.pause = inner, tuple(delays), pause

    def put(self, source: Path, key: str) -> None:
        for attempt, delay in enumerate((*self.delays, None), start=1):
            try:
                self.inner.put(source, key)
                return
            except StorageFull:
                raise
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    raise storage_full(e, key) from e
                failure: InfrastructureError = InfrastructureError(f"{type(e).__name__}: {e}")
            except InfrastructureError as e:
                failure = e
            if delay is None:
                raise StorageUnavailable(
                    f"the video could not be stored after {attempt} tries "
                    f"({failure.message}); the artifact store (INBETWEEN_STORAGE_URL or the "
                    "data directory) is failing") from failure
            event(log, "storage.retry", level=logging.WARNING, key=key, attempt=attempt,
                  delay=delay, error=failure.message)
            self.pause(delay)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def redirect_url(self, key: str) -> str | None:
        return self.inner.redirect_url(key)

    def read(self, key: str) -> bytes | None:
        return self.inner.read(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)
