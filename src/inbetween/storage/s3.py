"""Videos in S3 or an S3-compatible store (MinIO, R2…), through boto3.

``INBETWEEN_STORAGE_URL=s3://bucket/prefix``; ``INBETWEEN_S3_ENDPOINT_URL`` for
S3-compatible stores; credentials and region from the standard AWS settings. The server's own
``/files/{token}.mp4`` URL stays the one clients get: it redirects to a freshly presigned URL
(``INBETWEEN_PRESIGN_SECONDS``) or, for a public bucket, to ``INBETWEEN_PUBLIC_BASE_URL`` + key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inbetween.errors import InfrastructureError
from inbetween.storage.base import CONTENT_TYPES

__all__ = ["S3Artifacts"]


class S3Artifacts:
    """An ArtifactStore in one S3 bucket under one prefix."""

    def __init__(self, url: str, *, endpoint_url: str | None = None,
                 presign_seconds: float = 3600, public_base_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(
                f"INBETWEEN_STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.presign_seconds = presign_seconds
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        # few, short retries here: the worker retries a failed store with its own backoff
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=Config(
            signature_version="s3v4", retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5, read_timeout=60))

    def ping(self) -> None:
        """Raise ConfigurationError (one line: what and how to fix it) when the bucket does
        not exist, these credentials may not use it, or the endpoint does not answer."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        from inbetween.errors import ConfigurationError

        where = f"INBETWEEN_STORAGE_URL s3://{self.bucket}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError as e:
            raise ConfigurationError(
                f"{where}: no AWS credentials were found; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or a profile or role)") from e
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigurationError(
                    f"{where}: the bucket {self.bucket!r} does not exist; create it or fix the "
                    "URL") from e
            if code in ("403", "AccessDenied", "Forbidden"):
                raise ConfigurationError(
                    f"{where}: access to the bucket {self.bucket!r} is denied; check the AWS "
                    "credentials and the bucket's policy") from e
            raise ConfigurationError(f"{where}: S3 answered {code}: {e}") from e
        except BotoCoreError as e:
            raise ConfigurationError(
                f"{where}: cannot reach S3 ({e}); check INBETWEEN_S3_ENDPOINT_URL and the "
                "network") from e

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, source: Path, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.upload_file(str(source), self.bucket, self._key(key),
                                    ExtraArgs={"ContentType": _content_type(key)})
        except (BotoCoreError, ClientError) as e:
            raise InfrastructureError(f"could not store the video in S3: {e}") from e
        source.unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return None

    def redirect_url(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return None
        if self.public_base_url:
            return f"{self.public_base_url}/{self._key(key)}"
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=int(self.presign_seconds))
        return url

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise InfrastructureError(f"could not read {key} from S3: {e}") from e
        except BotoCoreError as e:
            raise InfrastructureError(f"could not read {key} from S3: {e}") from e
        data: bytes = body.read()
        return data

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as e:
            raise InfrastructureError(f"could not delete {key} from S3: {e}") from e


def _content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")
