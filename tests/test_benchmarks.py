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


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_frame_extraction_strategies_agree_pixel_for_pixel(tmp_path):
    out = _run(
        "benchmarks/frame_extraction.py", "--short-seconds", "3", "--long-seconds", "8", "--repeats", "1",
        "--cache", str(tmp_path),
    )  # fmt: skip
    assert "max pixel difference between strategies: 0" in out
    assert out.count("| short (3 s) |") == out.count("| long (8 s) |") == 3


def test_scale_benchmarks_run_on_a_small_corpus(tmp_path, built_dataset):
    # the same scripts that time 16.5 K triplets, on one or two demo episodes: they must run and print their tables
    cache = ["--cache", str(tmp_path)]
    out = _run("benchmarks/build_vs_decode.py", "--episodes", "2", *cache)
    assert "build throughput / needed-frame decode limit:" in out and "| build: publish" in out
    out = _run("benchmarks/growth.py", "--base-episodes", "1", "--factors", "1", "2", *cache)
    assert "| 2x |" in out and "peak RSS" in out
    out = _run("benchmarks/flow_overhead.py", "--episodes", "1", *cache)
    assert "flow_server overhead:" in out and "| flow_ephemeral |" in out
    out = _run("benchmarks/consumer.py", "--data", str(built_dataset), *cache)
    assert "rows/s" in out and "| 100 MB |" in out


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
