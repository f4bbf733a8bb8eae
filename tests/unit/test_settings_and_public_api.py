from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import inbetween
import inbetween.client
import inbetween.errors
import inbetween.jobs
import inbetween.store
from inbetween.client.settings import DEFAULT_BASE_URL, ClientSettings
from inbetween.errors import BudgetExceeded, InvalidRequest, NotFound, Unauthorized
from inbetween.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_read_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INBETWEEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INBETWEEN_CONCURRENCY", "3")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.concurrency == 3
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/inbetween.db"
    assert Settings(concurrency=0).concurrency == 0  # explicit values win


def test_settings_names_are_case_blind_and_other_variables_are_left_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("inbetween_port", "9001")
    monkeypatch.setenv("INBETWEEN_BASE_URL", "http://elsewhere")  # the client's, not ours
    monkeypatch.setenv("INBETWEEN_NOT_A_SETTING", "x")
    monkeypatch.setenv("PORT", "1")  # no prefix: not ours
    monkeypatch.setenv("INBETWEEN_SIGNED_URLS", "yes")
    monkeypatch.setenv("INBETWEEN_METRICS_TOKEN", "hush")
    settings = Settings()
    assert settings.port == 9001 and settings.signed_urls is True
    assert settings.metrics_token is not None and "hush" not in repr(settings)
    assert settings.metrics_token.get_secret_value() == "hush"
    with pytest.raises(ValueError, match="not_a_setting"):
        Settings(not_a_setting=1)  # unknown keyword arguments are refused
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_invalid_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBETWEEN_CONCURRENCY", "-1")
    with pytest.raises(ValueError, match="concurrency"):
        Settings()


@pytest.mark.parametrize(("name", "value"), [("VIDEO_PRESET", "turbo"),
                                           ("VIDEO_X264_PARAMS", "mbtree 1"),
                                           ("VIDEO_X264_PARAMS", "crf=18:;rm")])
def test_bad_encoder_settings_are_refused_at_start(monkeypatch: pytest.MonkeyPatch, name: str,
                                                   value: str) -> None:
    monkeypatch.setenv(f"INBETWEEN_{name}", value)
    with pytest.raises(ValueError, match=name.lower()):
        Settings()
    for valid in (("veryfast", "placebo") if name == "VIDEO_PRESET" else
                  ("", "rc_lookahead=20:zones=0,10,q=20", "me=dia:cqmfile=/etc/x.cfg")):
        monkeypatch.setenv(f"INBETWEEN_{name}", valid)
        Settings()  # valid values (or no extra options at all) are taken


def test_every_setting_is_documented_with_its_default() -> None:
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(INBETWEEN_\w+)` \| ([^|]+) \|",
                                                          DOCS.read_text(), re.M)}
    fields = {f"INBETWEEN_{name.upper()}": info for name, info in Settings.model_fields.items()}
    client = {f"INBETWEEN_{f.name.upper()}": f.default for f in dataclasses.fields(ClientSettings)}
    assert set(table) == set(fields) | set(client)
    assert f"`{DEFAULT_BASE_URL}`" in table["INBETWEEN_BASE_URL"]
    for env, info in fields.items():
        if info.default not in (None, ""):
            shown = str(info.default).replace("data", "./data") if env.endswith("DATA_DIR") \
                else str(info.default)
            assert f"`{shown}`" in table[env], (env, table[env])


def test_encoder_defaults_are_the_settings_defaults() -> None:
    """The server, the CLI and direct callers of encode_mp4 encode alike by default."""
    from inbetween.media import video

    defaults = Settings.model_fields
    assert defaults["video_preset"].default == video.PRESET
    assert defaults["video_x264_params"].default == video.X264_PARAMS


def test_public_api_is_pinned() -> None:
    assert inbetween.__all__ == ["AsyncClient", "Client", "__version__"]
    assert inbetween.Client is inbetween.client.Client
    assert sorted(inbetween.errors.__all__) == [
        "BudgetExceeded", "ConfigurationError", "Conflict", "ContentFiltered",
        "DeadlineExceeded", "EngineError", "Forbidden",
        "ImageFetchError",
        "InbetweenError", "InfrastructureError",
        "InvalidImage", "InvalidRequest", "JobFailure", "ModelUnavailable", "NotFound",
        "OutOfMemory", "PayloadTooLarge", "StorageFull", "StorageUnavailable",
        "TooManyRequests", "Unauthorized", "UpstreamAuthFailed", "UpstreamEmptyResult",
        "UpstreamError", "UpstreamFailure", "UpstreamTimeout", "UpstreamUnavailable",
        "UpstreamUncertain", "WorkerLost",
    ]
    assert sorted(inbetween.jobs.__all__) == [
        "Generation", "GenerationRequest", "ImageInput", "JobWarning", "Outcome", "Stage",
        "Status",
    ]
    assert sorted(inbetween.store.__all__) == [
        "ApiKey", "JobStore", "KeyStore", "MemoryStore", "ReapResult", "SqlStore", "open_store",
    ]


def test_errors_carry_status_and_default_messages() -> None:
    assert (InvalidRequest("x", field="f", allowed=[1]).status_code, Unauthorized().status_code,
            NotFound().status_code, BudgetExceeded("m").status_code) == (
        400, 401, 404, 402)
    assert NotFound().message == "No generation with this id exists for this API key."
    assert InvalidRequest("m", field="f", allowed=(1, 2)).allowed == [1, 2]
