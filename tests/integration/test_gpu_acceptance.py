"""benchmarks/gpu_acceptance.py cannot rot: its --cpu-smoke run (the same row machinery, toy
checkpoints, every row a CPU can run) is part of `make test`, and its rows are the ones
issue 25 names for every engine and setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_script

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_acceptance.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script(SCRIPT)


def _run(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_the_rows_cover_every_engine_and_setting(script: ModuleType) -> None:
    names = [row.name for row in script.rows()]
    assert len(names) == len(set(names))
    for model in script.MODELS:
        for setting in ("full depth, defaults", "defaults", "offload model",
                        "offload sequential", "FP8", "FP8 + compile",
                        "cancel after one step, then a job"):
            assert f"{model} {setting}" in names
        assert any(n.startswith(f"{model} compile") for n in names)
    # LTX-2: every backend docs/diffusion.md lists for it (native is the defaults row), a
    # refused one, the upsampler; Wan: flash, first-block cache (+ compile), a LoRA
    for row in ("ltx2.0 attention _native_cudnn", "ltx2.0 attention _native_efficient",
                "ltx2.0 attention flex", "ltx2.0 attention flash (refused)",
                "ltx2.0 latent upsampler"):
        assert row in names
    for model in ("wan2.1", "wan2.2"):
        for setting in ("attention flash", "first-block cache",
                        "first-block cache + compile (refused)", "LoRA"):
            assert f"{model} {setting}" in names
    assert names[:4] == [f"{m} full depth, defaults" for m in script.MODELS]  # first


def test_cpu_smoke_runs_every_row_a_cpu_can(script: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = _run("--cpu-smoke", "--jobs", "2", "--out", out, "--work", tmp_path / "work")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {r["row"]: r for r in report["rows"]}
    assert set(rows) == {row.name for row in script.rows()}
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(rows)  # the header and a line per row, as they finish
    for row in script.rows():
        result = rows[row.name]
        if row.cpu is not None:
            assert result["outcome"] == "skipped" and row.cpu in result["error"]
            continue
        assert result["outcome"] == row.expect, result
        if row.expect == "refused":  # the worker's own one line, naming the setting
            assert any(key in result["error"] for key in row.settings), result
        else:
            assert result["peak_gib"] > 0 and result["offload"] == "none"
    for model in script.MODELS:
        full = rows[f"{model} full depth, defaults"]
        assert full["s_per_step"] > 0 and full["est_s_per_clip"] > full["s_per_step"]
        assert full["default_steps"] in (30, 40)
        # the job after a cancelled one equals the one before the cancel
        assert rows[f"{model} cancel after one step, then a job"][
            "after_cancel_mean_abs_diff"] == 0.0


def test_a_row_that_would_overrun_the_budget_is_skipped(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = _run("--cpu-smoke", "--budget", "1", "--only", "wan2.1 defaults", "--out", out,
                "--work", tmp_path / "work", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = json.loads(out.read_text())["rows"]
    assert row["outcome"] == "skipped" and "would overrun the budget" in row["error"]
    assert not (tmp_path / "work" / "wan2.1").exists()  # never half-run, nothing built


def test_a_failing_row_says_why_in_one_line(script: ModuleType, tmp_path: Path) -> None:
    """A row whose engine fails is reported as fail with the error's last line (here: no
    checkpoint where the row looks for it), and the run's exit status says so."""
    [row] = [r for r in script.rows() if r.name == "wan2.1 defaults"]
    result = script.run_in_subprocess(row, tmp_path, cpu_smoke=True)
    assert result["outcome"] == "fail"
    assert result["error"].startswith("ModelUnavailable: no model for inbetween/wan-flf2v")


def test_without_a_gpu_the_gpu_run_says_how_to_run_it() -> None:
    done = _run(timeout=120)
    assert done.returncode == 2
    assert "no CUDA GPU here" in done.stderr and "--cpu-smoke" in done.stderr


def test_the_memory_table_is_the_real_architectures_weights() -> None:
    """docs/diffusion.md's weights, largest part and `auto` columns follow from the models'
    architectures (counted on the meta device) and the engines' working-memory estimates."""
    from benchmarks.checkpoints import weights_gib

    from inbetween.engines.diffusion import runtime
    from inbetween.engines.diffusion.ltx2 import WORKING_GIB as LTX2_WORKING
    from inbetween.engines.wan.loader import WORKING_GIB as WAN_WORKING

    docs = (SCRIPT.parents[1] / "docs" / "diffusion.md").read_text()
    rows = {line.split(" | ")[0].removeprefix("| ").split(" (")[0]: line.split(" | ")
            for line in docs.splitlines() if line.startswith(("| LTX-2.", "| Wan2."))}
    names = {"ltx2.0": "LTX-2.0", "ltx2.3": "LTX-2.3", "wan2.1": "Wan2.1-FLF2V-14B",
             "wan2.2": "Wan2.2-I2V-A14B"}
    for model, name in names.items():
        parts = weights_gib(model)
        total, largest = sum(parts.values()), max(parts.values())
        working = LTX2_WORKING if model.startswith("ltx2") else WAN_WORKING
        cells = rows[name]
        assert float(cells[1]) == round(total, 1), (model, cells)
        assert f"{largest:.1f}" in cells[2] and float(cells[3]) == working
        h100 = runtime.Footprint(weights=total, largest=largest, working=working,
                                 available=78.5)
        assert cells[7].strip(" |`") == h100.offload()
