"""Misconfiguration greets an operator with one line naming the setting and the fix — exit
status 2, no traceback (unless `--debug`): a database URL that does not parse or whose
driver is missing, a database or broker that does not answer (after 10 s of retries), an S3
bucket that does not exist or refuses these credentials, no AWS credentials at all, a data
directory that cannot be written."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli
from tests.faults.conftest import S3
from tests.helpers import free_port


def _one_line(result: object, *needles: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    text: str = result.stderr.strip()  # type: ignore[attr-defined]
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    assert text.startswith("error: ")
    for needle in needles:
        assert needle in text, text
    return text


def test_database_urls_drivers_and_data_dirs(tmp_path: Path) -> None:
    env = {"INBETWEEN_DATA_DIR": str(tmp_path / "d")}
    _one_line(run_cli("keys", "list", env={**env, "INBETWEEN_DATABASE_URL": "nonsense"}),
              "INBETWEEN_DATABASE_URL", "is not a database URL", "postgresql+psycopg://")
    _one_line(run_cli("keys", "list", env={
        **env, "INBETWEEN_DATABASE_URL": "postgresql+pg8000://u@127.0.0.1/db"}),
        "INBETWEEN_DATABASE_URL", "driver", "pip install 'inbetween[postgres]'")
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    _one_line(run_cli("keys", "create", "--name", "x", "--data-dir", str(blocked / "sub")),
              "INBETWEEN_DATA_DIR", "cannot be written", "--data-dir")
    traced = run_cli("--debug", "keys", "list",
                     env={**env, "INBETWEEN_DATABASE_URL": "nonsense"})
    assert traced.returncode == 2 and "Traceback" in traced.stderr  # --debug shows it
    assert traced.stderr.strip().splitlines()[-1].startswith("error: ")


def test_a_database_and_a_broker_that_do_not_answer(tmp_path: Path) -> None:
    env = {"INBETWEEN_DATA_DIR": str(tmp_path / "d")}
    closed = free_port()
    text = _one_line(run_cli("keys", "list", env={
        **env, "INBETWEEN_DATABASE_URL": f"postgresql+psycopg://u:hunter2@127.0.0.1:{closed}/db"}),
        "cannot reach the database", "INBETWEEN_DATABASE_URL", "within 10 s")
    assert "hunter2" not in text  # passwords are never printed
    _one_line(run_cli("worker", env={**env, "INBETWEEN_BROKER_URL":
                                     f"redis://127.0.0.1:{closed}/0"}),
              "cannot reach the broker", "INBETWEEN_BROKER_URL", "within 10 s")


def test_an_s3_bucket_that_is_missing_or_refused(tmp_path: Path, s3_server: S3) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:8]}"  # moto keeps other tests' buckets
    env = {**s3_server.env, "INBETWEEN_STORAGE_URL": f"s3://{bucket}/v",
           "INBETWEEN_DATA_DIR": str(tmp_path / "d"), "INBETWEEN_PORT": str(free_port())}
    _one_line(run_cli("serve", "--concurrency", "0", env=env, timeout=60),
              "INBETWEEN_STORAGE_URL", f"'{bucket}' does not exist", "create it")


def test_s3_without_any_credentials(tmp_path: Path, s3_server: S3,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere boto3 looks: no AWS_* variables, no credentials or config
    file, no instance metadata (never asked: it would wait on the network). The bucket exists
    and the endpoint answers; only the credentials are missing."""
    bucket = f"nocreds-{uuid.uuid4().hex[:8]}"  # moto keeps other tests' buckets
    s3_server.client().create_bucket(Bucket=bucket)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)  # run_cli passes the rest of os.environ on
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_DEFAULT_REGION": "us-east-1", "INBETWEEN_STORAGE_URL": f"s3://{bucket}/v",
           "INBETWEEN_S3_ENDPOINT_URL": s3_server.env["INBETWEEN_S3_ENDPOINT_URL"],
           "INBETWEEN_DATA_DIR": str(tmp_path / "d"), "INBETWEEN_PORT": str(free_port())}
    _one_line(run_cli("serve", "--concurrency", "0", env=env, timeout=60),
              f"INBETWEEN_STORAGE_URL s3://{bucket}", "no AWS credentials were found",
              "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


def test_s3_refusals_name_the_fix() -> None:
    """403, as boto3 reports it (moto accepts any credentials, so its answer is stubbed here;
    missing credentials are real in the test above)."""
    from botocore.stub import Stubber

    from inbetween.errors import ConfigurationError
    from inbetween.storage.s3 import S3Artifacts

    store = S3Artifacts("s3://videos/v", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
        with pytest.raises(ConfigurationError) as denied:
            store.ping()
    assert "access to the bucket 'videos' is denied" in denied.value.message
    assert "credentials" in denied.value.message
