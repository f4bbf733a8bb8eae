"""`pip install inbetween` with no extras: the server, the worker's refusal, the keys and the
offline CLI run without psycopg, boto3, celery/kombu, torch/diffusers/peft or torchao, none of
them is even imported unless a setting that needs it is configured, and a configured setting
whose extra is missing is one line (exit 2) naming the setting and the install command.

The extras are made absent the way Python sees a package that is not installed: a
``sitecustomize`` makes the path finder blind to them, so ``import`` raises
``ModuleNotFoundError`` and ``importlib.util.find_spec`` answers ``None``.
(``scripts/install_smoke.sh``, run by CI, installs the real thing in fresh virtual
environments.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_for

OPTIONAL = ("psycopg", "psycopg_binary", "boto3", "botocore", "celery", "kombu", "redis",
            "amqp", "torch", "diffusers", "transformers", "accelerate", "peft", "torchao")

BLOCKER = """
import os, sys
from importlib.machinery import PathFinder

HIDDEN = set(filter(None, os.environ.get("HIDDEN_PACKAGES", "").split(",")))


class Hiding(PathFinder):
    \"\"\"The path finder, blind to the hidden packages: as if they were not installed.\"\"\"

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname.partition(".")[0] in HIDDEN:
            return None
        return PathFinder.find_spec(fullname, path, target)


sys.meta_path[:] = [Hiding if f is PathFinder else f for f in sys.meta_path]
"""


@pytest.fixture
def bare(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that sees none of the optional extras."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "HIDDEN_PACKAGES": ",".join(OPTIONAL),
            "INBETWEEN_DATA_DIR": str(tmp_path / "data")}


def _clean(env: dict[str, str]) -> dict[str, str]:
    """``os.environ`` less its INBETWEEN_ settings (nothing configured but what the test
    says), with ``env`` on top."""
    parent = {k: v for k, v in os.environ.items()
              if not k.startswith("INBETWEEN_") or k == "INBETWEEN_REQUIRE_SERVICES"}
    return {**parent, "COLUMNS": "200", **env}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inbetween", *args], capture_output=True,
                          text=True, env=_clean(env), timeout=120, check=False)


def test_the_blocker_hides_the_extras(bare: dict[str, str]) -> None:
    """The premise of this file: in such a process every optional package is absent."""
    probe = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(sorted(n for n in "
         f"{OPTIONAL!r} if u.find_spec(n) is not None))"],
        capture_output=True, text=True, env=_clean(bare), check=True)
    assert probe.stdout.strip() == "[]"


def test_serve_starts_and_serves_without_any_extra(bare: dict[str, str],
                                                   tmp_path: Path) -> None:
    port = free_port()
    log, printed = tmp_path / "serve.err", tmp_path / "serve.out"
    with log.open("wb") as err, printed.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inbetween", "serve", "--port", str(port)],
            stdout=out, stderr=err, env=_clean(bare))
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"serve exited {process.returncode}: {log.read_text()}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
            except httpx.TransportError:
                return False

        wait_for(ready, 60, "serve without extras to answer /healthz")
        text = printed.read_text()
        assert "Authorization: Bearer ib_" in text, text
        key = text.split("Bearer ", 1)[1].split()[0]
        models = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10)
        assert models.status_code == 200
        answer = httpx.get(f"http://127.0.0.1:{port}/v2/video/generations",
                           params={"generation_id": "nope"},
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 404, answer.text
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert "Traceback" not in log.read_text()


DIFFUSION = ("torch", "diffusers", "transformers", "accelerate", "peft", "torchao")


@pytest.mark.parametrize(("command", "setting", "value", "install"), [
    ("serve", "INBETWEEN_BROKER_URL", "redis://127.0.0.1:6379/0",
     "pip install 'inbetween[celery]'"),
    ("worker", "INBETWEEN_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//",
     "pip install 'inbetween[celery]'"),
    ("serve", "INBETWEEN_STORAGE_URL", "s3://videos/clips", "pip install 'inbetween[s3]'"),
    ("keys", "INBETWEEN_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:5432/test",
     "pip install 'inbetween[postgres]'"),
    ("serve", "INBETWEEN_LTX2_MODEL", "/models/ltx2", "pip install 'inbetween[diffusion]'"),
    ("serve", "INBETWEEN_WAN_MODEL", "/models/wan", "pip install 'inbetween[diffusion]'"),
    ("serve", "INBETWEEN_LOCAL_ENGINE", "ltx2", "pip install 'inbetween[diffusion]'"),
    ("serve", "INBETWEEN_DIFFUSION_QUANTIZE", "fp8", "pip install torchao"),
    # a worker has its broker's extra (celery) but not the diffusion extra
    ("worker", "INBETWEEN_WAN22_LORAS", "/loras/x.safetensors",
     "pip install 'inbetween[diffusion]'"),
    ("worker", "INBETWEEN_WORKER_ENGINES", "keyframe,wan-flf2v",
     "pip install 'inbetween[diffusion]'"),
])
def test_a_configured_setting_whose_extra_is_missing_is_one_line(
    bare: dict[str, str], command: str, setting: str, value: str, install: str,
) -> None:
    env = {**bare, setting: value, "INBETWEEN_PORT": str(free_port())}
    if command == "worker" and setting != "INBETWEEN_BROKER_URL":
        env["INBETWEEN_BROKER_URL"] = "redis://127.0.0.1:6379/0"
        env["HIDDEN_PACKAGES"] = ",".join(DIFFUSION)
    result = _run(env, *(["keys", "list"] if command == "keys" else [command]))
    assert result.returncode == 2, (result.stdout, result.stderr)
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    assert text.startswith("error: ") and setting in text and install in text, text
    assert "not installed" in text, text


def test_settings_left_at_their_defaults_need_no_extra(bare: dict[str, str]) -> None:
    """The Wan model id, the attention backend, the quantization mode have built-in defaults:
    they configure nothing, so `keys` and a worker-less server need no extra."""
    created = _run(bare, "keys", "create", "--name", "bare")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().splitlines()[-1].startswith("ib_")
    listed = _run(bare, "keys", "list")
    assert listed.returncode == 0 and "bare" in listed.stdout, listed.stderr


def test_the_worker_names_its_broker_setting_before_anything_else(
    bare: dict[str, str],
) -> None:
    result = _run(bare, "worker")
    assert result.returncode == 2 and "INBETWEEN_BROKER_URL" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_generate_offline_without_any_extra(bare: dict[str, str], tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    first, last = tmp_path / "a.png", tmp_path / "b.png"
    grid = np.indices((180, 320)).sum(axis=0) % 64 * 4
    Image.fromarray(np.stack([grid] * 3, axis=-1).astype(np.uint8)).save(first)
    Image.fromarray(np.roll(np.stack([grid] * 3, axis=-1), 12, axis=1).astype(np.uint8)).save(
        last)
    out = tmp_path / "clip.mp4"
    result = _run(bare, "generate", "--first", str(first), "--last", str(last), "--prompt",
                  "a slow pan", "-o", str(out), "--resolution", "720p", "--duration", "4")
    assert result.returncode == 0, result.stderr
    import av

    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (1280, 720)
        assert container.streams.audio, "the clip has a sound track"
        assert sum(1 for _ in container.decode(video=0)) == 96
