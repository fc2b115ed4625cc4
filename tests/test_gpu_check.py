"""scripts/gpu_check.py's CPU paths: the same gradient, training and timing code that runs on a
CUDA machine, here with PyTorch CPU tensors (the array-api extra), so the script is ready."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_runs_its_cpu_paths(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    out = tmp_path / "gpu.json"
    command = [sys.executable, str(ROOT / "scripts/gpu_check.py"), "--device", "cpu"]
    command += ["--batches", "16", "--repeats", "2", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    figures = report["torch"]
    assert set(figures["gradient errors"]) == {"xor", "classifier", "multi_node", "wide"}
    assert max(figures["gradient errors"].values()) < 1e-12
    assert figures["training error"] < 1e-9
    for dtype in ("float32", "float64"):
        step = figures["steps"][f"16 {dtype}"]
        assert step["generated"] > 0 and step["pytorch eager"] > 0
