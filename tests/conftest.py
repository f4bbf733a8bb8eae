"""Shared fixtures: real photographs, settings on a temporary data dir, image encoders."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inbetween.settings import Settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder: unit, integration, e2e or faults."""
    for item in items:
        for kind in ("unit", "integration", "e2e", "faults"):
            if f"{Path('tests') / kind}" in str(item.path):
                item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Real photographs bundled with scikit-image (RGB uint8)."""
    from skimage import data

    return {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
    }


def encode(image: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    """Encode an RGB array as PNG/JPEG/WEBP/GIF bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def data_url(image: np.ndarray, fmt: str = "PNG") -> str:
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return f"data:{mime};base64," + base64.b64encode(encode(image, fmt)).decode()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a fresh data dir; keyword arguments override fields."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "concurrency": 0,
                                     "drain_seconds": 0}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database with an empty ``public`` schema (INBETWEEN_TEST_POSTGRES_URL,
    default the local server's ``test`` database). Skips when there is none — unless
    INBETWEEN_REQUIRE_SERVICES is set (CI), where its absence fails the test."""
    import os

    import sqlalchemy

    url = os.environ.get("INBETWEEN_TEST_POSTGRES_URL",
                         "postgresql+psycopg://root@127.0.0.1:5432/test")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    except Exception as e:
        engine.dispose()
        if os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
            raise
        pytest.skip(f"no PostgreSQL at {url} ({type(e).__name__}); CI runs these tests")
    engine.dispose()
    yield url


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="session")
def veo_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What a provider hands back: a 4 s 1280×720 H.264 MP4 with an AAC sound track."""
    from inbetween.media.audio import SAMPLE_RATE
    from inbetween.media.video import encode_mp4

    path = tmp_path_factory.mktemp("veo") / "veo.mp4"
    frames = [np.full((720, 1280, 3), (i * 2) % 255, np.uint8) for i in range(96)]
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    encode_mp4(path, frames, width=1280, height=720, fps=24, frame_count=96,
               audio=np.stack([tone, tone]), crf=30, preset="ultrafast")
    return path.read_bytes()
