#!/usr/bin/env bash
# GRPO smoke on one GPU: a Qwen3-VL-4B-sized random bf16 model, a few steps on the demo triplets, with the paper's
# settings and with TRL's defaults (baseline ratio). Prints step time, peak GPU memory and generated tokens/s.
#
# Prepare here:   make demo && bash benchmarks/fetch_gpu_wheels.sh
# Run there:      device run, carry [".whl", "demo_data/dataset"], command "bash benchmarks/gpu_smoke.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 benchmarks/gpu_smoke.py --data "${DATA:-demo_data/dataset}" --steps "${STEPS:-4}" \
  --max-completion-length "${MAX_COMPLETION_LENGTH:-256}" --out "${OUT:-/tmp/remot_smoke}" \
  $(python3 -c "import vllm" 2>/dev/null && echo --vllm)   # with vLLM too when the machine has it
