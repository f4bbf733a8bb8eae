"""The README's first command on a fresh machine: a Python without venv/ensurepip (Debian's
python3 without python3-venv) or too old is one line saying how to fix it, not a traceback
and not a half-made .venv that later runs trip over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    venv = tmp_path / "venv"
    return subprocess.run(["make", "-C", str(ROOT), f"VENV={venv}", *args, f"{venv}/bin/python"],
                          capture_output=True, text=True, env={**os.environ, **env},
                          timeout=120, check=False)


def test_a_python_without_ensurepip_gets_the_one_line_fix(tmp_path: Path) -> None:
    debian = tmp_path / "debian-python"  # what Debian's python3 is without python3-venv
    (debian / "ensurepip").mkdir(parents=True)
    (debian / "ensurepip" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ensurepip'\")\n")
    result = _make(tmp_path, f"PYTHON={sys.executable}", PYTHONPATH=str(debian))
    assert result.returncode == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "apt-get install python3-venv" in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "venv").exists()  # nothing half-made for the next run


def test_a_python_that_is_too_old_or_missing_is_named(tmp_path: Path) -> None:
    old = tmp_path / "python3.10"
    old.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && {{ echo 'Python 3.10.12'; exit 0; }}\n"
                   f"exec {sys.executable} -c 'import sys; sys.exit(1)'\n")
    old.chmod(0o755)
    result = _make(tmp_path, f"PYTHON={old}")
    assert result.returncode == 2 and "needs Python 3.11 or newer" in result.stderr
    assert "Python 3.10.12" in result.stderr, result.stderr
    missing = _make(tmp_path, "PYTHON=no-such-python3")
    assert missing.returncode == 2 and "no no-such-python3 on PATH" in missing.stderr


def test_ci_installs_every_way_users_do_before_make_test() -> None:
    """`.ci/run` runs the install smoke test (all its steps) and then the README's test
    command; the script's steps are the README's install paths."""
    ci = (ROOT / ".ci" / "run").read_text()
    calls = [line.strip() for line in ci.splitlines() if line.strip()
             and not line.lstrip().startswith("#")]
    assert "bash scripts/install_smoke.sh" in calls and calls[-1] == "make test"
    assert calls.index("bash scripts/install_smoke.sh") < calls.index("make test")
    script = (ROOT / "scripts" / "install_smoke.sh").read_text()
    assert "STEPS=(run wheel postgres celery s3)" in script
    for install in ('VENV="$WORK/run" "$WORK/run/.installed-run"', 'new_venv wheel "."',
                    "new_venv postgres \".[postgres]\"", "new_venv celery \".[celery]\"",
                    "new_venv s3 \".[s3]\""):
        assert install in script, install


def test_the_licence_is_an_spdx_string() -> None:
    """setuptools stops building a `license = {text = …}` table after 2027-02-18 (its own
    deprecation notice): found by running the suite under a clock two years ahead."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]  # SPDX strings since 77
