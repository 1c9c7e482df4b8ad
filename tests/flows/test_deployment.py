"""The rebuild deployment, end to end: a real `prefect server`, a process worker, `prefect deploy`, a run."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from remot_data.table import read_triplets

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUN_AND_WAIT = """
import json, sys, time
from prefect.deployments import run_deployment
run = run_deployment("build-dataset/rebuild", parameters=json.loads(sys.argv[1]), timeout=240, poll_interval=1)
print(json.dumps({"state": run.state.type.value, "message": run.state.message}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"prefect server at {url} not healthy after {timeout_s} s")


def _stop(process: subprocess.Popen, *, sigint_twice: bool) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if sigint_twice:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _prefect(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the prefect CLI against the test's server."""
    return subprocess.run([BIN / "prefect", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def _worker(env: dict, pool: str, log: Path):
    """Run a process worker of ``pool`` (its output to ``log``) for the block; stop it however the block ends."""
    with log.open("w") as out:
        command = [BIN / "prefect", "worker", "start", "--pool", pool]
        worker = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield worker
        finally:
            _stop(worker, sigint_twice=True)


@pytest.fixture
def prefect_server(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect_home"),
        "PREFECT_API_URL": api,
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(api)
        yield env
    finally:
        _stop(server, sigint_twice=False)
        log.close()


@pytest.mark.slow
def test_rebuild_deployment_runs_on_a_process_worker(prefect_server, demo_scannet_root, tmp_path):
    env = prefect_server

    def run(*args):
        return _prefect(env, *args)

    created = run("work-pool", "create", "remot-cpu", "--type", "process")
    assert created.returncode == 0, created.stderr
    deployed = run("--no-prompt", "deploy", "--name", "rebuild")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    with _worker(env, "remot-cpu", tmp_path / "worker.log"):
        out = tmp_path / "published"
        params = {
            "inputs": [{"source": "scannet", "path": str(demo_scannet_root)}],
            "out_dir": str(out),
            "config": {"frames": {"max_side_px": 64, "jpeg_quality": 80}, "batch_size": 3},
        }
        result = subprocess.run(
            [sys.executable, "-c", RUN_AND_WAIT, json.dumps(params)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        state = json.loads(result.stdout.strip().splitlines()[-1])
        assert state["state"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-6000:]
    table = read_triplets(out)
    assert len(table) > 20
    assert json.loads((out / "latest" / "manifest.json").read_text())["config"]["frames"]["max_side_px"] == 64


RUN_CHAIN = """
import json, sys
from flows.chain import rebuild_train_evaluate
print(json.dumps(rebuild_train_evaluate(**json.loads(sys.argv[1])), default=str))
"""


@pytest.mark.slow
def test_a_rebuild_chains_training_and_evaluation_on_gpu_pool_workers(
    prefect_server, demo_scannet_root, tiny_model_dir, tmp_path
):
    # the chain flow builds in-process, then runs the train and evaluate deployments, which a process worker of the
    # GPU pool picks up (on CPU with the tiny model here), and records the Table 1 cells of each chain run
    import pyarrow.parquet as pq

    env = prefect_server

    def run(*args):
        return _prefect(env, *args)

    for pool in ("remot-cpu", "remot-gpu"):
        assert run("work-pool", "create", pool, "--type", "process").returncode == 0
    for name in ("grpo", "benchmark"):
        deployed = run("--no-prompt", "deploy", "--name", name)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    params = {
        "inputs": [{"source": "scannet", "path": str(demo_scannet_root)}],
        "dataset_dir": str(tmp_path / "dataset"),
        "model_dir": str(tiny_model_dir),
        "runs_dir": str(tmp_path / "runs"),
        "build_config": {"frames": {"max_side_px": 64, "jpeg_quality": 80}, "batch_size": 3},
        "train_config": {
            "num_generations": 2,
            "max_completion_length": 8,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_steps": 1,
            "bf16": False,
            "use_cpu": True,
            "gradient_checkpointing": False,
            "image_max_pixels": 4096,
            "max_prompt_tokens": 2048,
            "torch_threads": 1,
        },
        "eval_config": {"max_new_tokens": 4, "limit": 2, "batch_size": 2, "device": "cpu"},
    }
    with _worker(env, "remot-gpu", tmp_path / "worker.log"):
        for _ in range(2):  # a second chain run appends a second history row
            result = subprocess.run(
                [sys.executable, "-c", RUN_CHAIN, json.dumps(params)],
                env={**env, "PYTHONPATH": str(REPO)},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, result.stderr[-3000:] + (tmp_path / "worker.log").read_text()[-3000:]
    row = json.loads(result.stdout.strip().splitlines()[-1])
    run_dir = Path(row["run_dir"])
    assert run_dir.parent == tmp_path / "runs" and (run_dir / "final" / "config.json").exists()
    assert (run_dir / "eval" / "metrics.json").exists() and row["items"] == 2
    history = pq.read_table(tmp_path / "runs" / "results_history.parquet").to_pylist()
    assert len(history) == 2 and history[0]["dataset_version"] != history[1]["dataset_version"]
    assert any(k.endswith(".Ov") for k in history[1]) and history[1]["base_model"] == str(tiny_model_dir)
