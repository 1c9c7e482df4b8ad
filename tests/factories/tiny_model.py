"""A tiny random Qwen3-VL saved to a folder, built offline once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    torch = pytest.importorskip("torch")  # the train extra is always installed by `make test`
    torch.set_num_threads(1)
    from remot_train.modeling import build_tiny_qwen3_vl

    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny_qwen3_vl"), seed=0)


@pytest.fixture(scope="session")
def tiny_qwen2_5_vl_dir(tmp_path_factory):
    """A tiny random Qwen2.5-VL (the second base-model family) with its real chat template."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from remot_train.modeling import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_qwen2_5_vl"), seed=0)


@pytest.fixture(scope="session")
def tiny_smolvlm_dir(tmp_path_factory):
    """A tiny random SmolVLM (Idefics3 architecture, Llama text model): the non-Qwen base-model family."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from remot_train.modeling import build_tiny_smolvlm

    return build_tiny_smolvlm(tmp_path_factory.mktemp("tiny_smolvlm"), seed=0)


def run_torchrun(module_args: list[str], *, nproc: int = 2, timeout: int = 600):
    """Run ``python -m torch.distributed.run --nproc_per_node N -m ...`` as users launch remot (gloo on CPU).

    A free port per run, one thread per process (the machine has 2 cores). Returns the CompletedProcess.
    """
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1"]
    command += [f"--master_port={port}", "-m", *module_args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
