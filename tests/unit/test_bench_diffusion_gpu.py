"""benchmarks/bench_diffusion_gpu.py cannot rot: its --cpu-smoke run (the same code on tiny
shapes) is part of `make test`, and its latent sizes are the engines' own."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_script

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_diffusion_gpu.py"


def _bench() -> ModuleType:
    return load_script(SCRIPT)


def test_cpu_smoke_prints_a_row_per_model_and_setting(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    import torch

    torch.set_num_threads(1)
    assert _bench().main(["--cpu-smoke"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    measured = [r for r in rows[1:] if "skipped" not in r]
    assert {r.split(" | ")[0] for r in measured} == {"| LTX-2 (tiny)", "| Wan 14B (tiny)"}
    assert {r.split(" | ")[2] for r in measured} == {"native", "math"}
    for row in measured:  # s/pass, passes/step and s/step are numbers
        cells = row.split(" | ")
        assert float(cells[3]) > 0 and int(cells[4]) in (2, 4) and float(cells[5]) >= 0
    assert any("skipped: needs CUDA" in r for r in rows)


def test_the_benchmarked_latents_are_the_engines_defaults() -> None:
    from inbetween.engines.diffusion.ltx2 import plan
    from inbetween.engines.wan.engine import model_frames, model_size
    from inbetween.settings import Settings

    settings = Settings()
    catalogue = _bench().models(smoke=False)
    ltx2 = catalogue["ltx2"].cases[0]
    assert (ltx2.width, ltx2.height, False) == plan(1280, 720, settings.ltx2_max_area, False)
    assert ltx2.frames == 8 * 24 + 1 and catalogue["ltx2"].steps == settings.ltx2_steps
    wan = catalogue["wan"].cases[0]
    assert (wan.width, wan.height) == model_size(1280, 720, settings.diffusion_max_area)
    assert wan.frames == model_frames(8, settings.diffusion_max_frames)
    assert catalogue["wan"].steps == settings.diffusion_steps
