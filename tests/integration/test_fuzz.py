"""Property-based fuzzing of the API with schemathesis, against the app's own OpenAPI schema:
no 5xx, and every response (status code, headers, body) conforms to the schema.

Bounded for CI (``INBETWEEN_FUZZ_EXAMPLES``, default 30 per operation); BENCHMARKS.md records
a longer run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from inbetween.api import create_app
from inbetween.keys import create_key
from inbetween.settings import Settings
from inbetween.store import open_store

EXAMPLES = int(os.environ.get("INBETWEEN_FUZZ_EXAMPLES", "30"))
# Every check but positive_data_acceptance: a schema-valid string is not always an image (the
# server decodes Base64 and checks the image), so 400 for such data is right.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance, checks.negative_data_rejection,
          checks.ignored_auth]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    settings = Settings(data_dir=data_dir, concurrency=0, drain_seconds=0,
                        rate_submit_per_second=10_000, rate_poll_per_second=10_000,
                        max_unfinished_per_key=1_000_000)
    store = open_store(settings)
    key, _ = create_key(store, "fuzz")
    store.engine.dispose()
    app = create_app(settings)
    with TestClient(app):  # runs the lifespan: the app's resources stay open for the module
        yield app, key


def bound(case: Any) -> None:
    """Keep calls that may hold the connection short, so the run cannot hang: a valid
    `Prefer: wait=N` becomes wait=1 (no worker runs here). (Event streams are only asked for
    generated strings, never the UUID of a generation made here, so they answer 404.)"""
    headers = case.headers or {}
    prefer = headers.get("Prefer")
    if isinstance(prefer, str) and prefer.strip().lower().startswith("wait"):
        headers["Prefer"] = "wait=1"


def test_api_conforms_to_its_schema(fuzz_app: tuple[FastAPI, str]) -> None:
    app, key = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # POST, GET, DELETE, list and events of generations; POST and GET uploads; a video, its
    # thumbnail and preview; /healthz; /metrics; /v2/usage; the webhook secret, its rotation,
    # deliveries and a delivery's retry; /v1/videos: create, list, retrieve, delete, content
    assert len(operations) == 22
    calls: dict[str, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            bound(case)
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1

        check()
    print(f"fuzzed {sum(calls.values())} requests: {calls}")
    # /healthz and /metrics take no input: one example is all there is to generate
    assert all(count >= min(EXAMPLES, 5) for label, count in calls.items()
               if label not in ("GET /healthz", "GET /metrics")), calls
