#!/usr/bin/env bash
# Download (here, where pip reaches the index) the wheels the GPU machine lacks for benchmarks/gpu_smoke.sh:
# it has Python 3.12, torch, transformers, accelerate, pandas, pyarrow, but no trl and no datasets.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
for pkg in trl==1.16.0 datasets==5.2.0 dill==0.4.0 multiprocess==0.70.18; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "$pkg"
done
ls .whl
