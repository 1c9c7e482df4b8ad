"""The GPU smoke benchmark's code path, run on CPU with the tiny model (the GPU run uses the same script)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_gpu_smoke_script_runs_on_cpu_with_the_tiny_model(built_dataset, tmp_path):
    pytest.importorskip("trl")  # the train extra is always installed by `make test`
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_smoke.py",
            "--tiny",
            "--steps",
            "2",
            "--max-completion-length",
            "4",
            "--data",
            str(built_dataset),
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ratios paper/defaults" in result.stdout
    report = json.loads((tmp_path / "gpu_smoke.json").read_text())
    paper, defaults = report["results"]
    assert (paper["num_generations"], paper["beta"], paper["loss_type"]) == (4, 0.01, "grpo")
    assert (defaults["num_generations"], defaults["beta"]) == (8, 0.0)
    assert paper["steps"] == defaults["steps"] == 2 and paper["step_time_s"] > 0


def test_frame_extraction_benchmark_agrees_pixel_for_pixel(demo_lerobot_root):
    result = subprocess.run(
        [sys.executable, "benchmarks/frame_extraction.py", "--corpus", str(demo_lerobot_root), "--repeats", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "max pixel difference between the two: 0)" in result.stdout


def test_gpu_smoke_refuses_vllm_on_cpu(built_dataset, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_smoke.py",
            "--tiny",
            "--vllm",
            "--steps",
            "1",
            "--max-completion-length",
            "2",
            "--data",
            str(built_dataset),
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0 and "--vllm needs a GPU" in result.stderr
