#!/usr/bin/env bash
# GRPO smoke on one GPU: a Qwen3-VL-4B-sized random model with the shipped defaults (float32 master weights, 2048
# completion tokens, the paper's settings) and with TRL's defaults (baseline ratio), a few steps on the demo triplets.
# Prints step time, rollouts/s, generated tokens/s, peak GPU memory and the --plan estimate; then checks that
# AutoProcessor builds the whole Qwen3VLProcessor of a saved folder where torchvision is installed.
#
# Prepare here:   make demo && bash benchmarks/fetch_gpu_wheels.sh
# Run there:      device run, carry [".whl", "demo_data/dataset"], command "bash benchmarks/gpu_smoke.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 benchmarks/gpu_smoke.py --data "${DATA:-demo_data/dataset}" --steps "${STEPS:-3}" \
  --max-completion-length "${MAX_COMPLETION_LENGTH:-2048}" --out "${OUT:-/tmp/remot_smoke}" \
  $(python3 -c "import vllm" 2>/dev/null && echo --vllm)   # with vLLM too when the machine has it
python3 benchmarks/autoprocessor_check.py || echo "AutoProcessor check FAILED"
