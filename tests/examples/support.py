"""Running an example as its README says: a subprocess in a scratch folder, tracking into a fresh store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent  # the venv's console scripts (modelyard) for shell scripts


def example_env(store: Path, **extra: str) -> dict[str, str]:
    """This environment with tracking pointed at ``store`` and the venv's ``modelyard`` first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "MODELYARD_PIPELINE_MODULES", "PYTHONPATH")}
    env.update(MODELYARD_TRACKING_URI=str(store), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion; its output is in the assertion message when it fails."""
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{argv} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc
