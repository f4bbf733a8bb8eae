"""Every INBETWEEN_ variable named by the deployment guide, compose file and units exists."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from inbetween.client.settings import ClientSettings
from inbetween.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FILES = ["docs/deploy.md", "docs/settings.md", "deploy/compose.yaml", "deploy/Dockerfile",
         "deploy/inbetween-api.service", "deploy/inbetween-worker@.service",
         "deploy/inbetween.env"]
# variables the tests themselves read (not settings of the service)
TEST_ONLY = {"INBETWEEN_REQUIRE_SERVICES", "INBETWEEN_FUZZ_EXAMPLES",
             "INBETWEEN_TEST_POSTGRES_URL"}


@pytest.mark.parametrize("name", FILES)
def test_named_settings_exist(name: str) -> None:
    known = {f"INBETWEEN_{field.upper()}" for field in Settings.model_fields} | {
        f"INBETWEEN_{f.name.upper()}" for f in dataclasses.fields(ClientSettings)}
    named = set(re.findall(r"INBETWEEN_[A-Z0-9_]+", (ROOT / name).read_text()))
    assert named, name
    assert named - known - TEST_ONLY == set()
