"""Uploads: images sent once (`POST /v2/uploads`) and named later by their URL.

The bytes live in the artifact store, the record (owner, size, last use) in the job store.
A request naming ``…/v2/uploads/{id}`` as ``image_url``/``last_image_url`` gets the bytes
from the artifact store at submission (never over HTTP), so the generation owns a copy and
does not depend on the upload afterwards. Uploads unused for ``INBETWEEN_UPLOAD_TTL_HOURS``
are deleted.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from inbetween.errors import InfrastructureError, InvalidRequest
from inbetween.jobs.models import ImageInput, Upload
from inbetween.media.images import check_image
from inbetween.storage.base import ArtifactStore
from inbetween.store.base import JobStore

__all__ = ["create_upload", "delete_expired_uploads", "resolve_upload", "upload_id_of"]

_UPLOAD_PATH = re.compile(r"^/v2/uploads/(?P<id>[A-Za-z0-9-]{1,64})/?$")
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def upload_id_of(value: str) -> str | None:
    """The upload id when ``value`` is a URL (any host) or path of ``/v2/uploads/{id}``."""
    stripped = value.strip()
    if stripped[:8].lower().startswith(("http://", "https://")):
        path = urlsplit(stripped).path
    elif stripped.startswith("/"):
        path = stripped
    else:
        return None
    match = _UPLOAD_PATH.match(path)
    return match.group("id") if match else None


def create_upload(store: JobStore, artifacts: ArtifactStore, key_id: str, data: bytes, *,
                  max_pixels: int, tmp_dir: Path, now: float) -> Upload:
    """Check ``data`` like an input image (field ``file``) and keep it."""
    image = check_image(data, "file", max_pixels)
    width, height = image.size
    upload = Upload(id=str(uuid.uuid4()), key_id=key_id,
                    content_type=_CONTENT_TYPES[str(image.format)], size=len(data),
                    width=width, height=height, created_at=now, last_used_at=now)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=".upload", delete=False) as f:
        f.write(data)
    try:
        artifacts.put(Path(f.name), upload.artifact_key)
    finally:
        Path(f.name).unlink(missing_ok=True)
    store.add_upload(upload)
    return upload


def resolve_upload(store: JobStore, artifacts: ArtifactStore, upload_id: str, key_id: str,
                   field: str, now: float) -> ImageInput:
    """The image of an upload this key owns; 400 naming ``field`` otherwise."""
    upload = store.get_upload(upload_id)
    if upload is None or upload.key_id != key_id:
        raise InvalidRequest(
            f"{field}: no upload {upload_id!r} for this API key (uploads unused for "
            "INBETWEEN_UPLOAD_TTL_HOURS expire); POST the image to /v2/uploads again",
            field=field)
    data = artifacts.read(upload.artifact_key)
    if data is None:
        raise InfrastructureError(f"upload {upload_id} has no stored bytes")
    store.touch_upload(upload_id, now)
    return ImageInput(data=data)


def delete_expired_uploads(store: JobStore, artifacts: ArtifactStore, cutoff: float) -> int:
    """Delete uploads last used before ``cutoff``; how many were deleted."""
    count = 0
    while batch := store.uploads_unused_since(cutoff):
        for upload in batch:
            artifacts.delete(upload.artifact_key)
            store.delete_upload(upload.id)
            count += 1
    return count
