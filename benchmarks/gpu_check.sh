#!/usr/bin/env bash
# The GPU check, run once on a machine with an NVIDIA GPU (the device tool's copy of the working tree):
# installs what that machine lacks from wheels carried in .gpu_wheels/ (it has no network), runs the GPU
# suite and the bench against PyTorch CUDA, and writes both outputs under $OUT (default ./gpu_out).
# Usage: bash benchmarks/gpu_check.sh   (about 5 minutes; each part has its own time limit)
set -u
out="${OUT:-gpu_out}"; mkdir -p "$out"
{
  date; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  python -V; python -c "import numpy, cupy; print('numpy', numpy.__version__, 'cupy', cupy.__version__)" 2>&1
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" 2>&1
} > "$out/env.txt"
missing=""
for module in pytest threadpoolctl; do python -c "import $module" 2>/dev/null || missing="$missing $module"; done
if [ -n "$missing" ] && [ -d .gpu_wheels ]; then
  python -m pip install --no-index --find-links .gpu_wheels $missing > "$out/install.txt" 2>&1
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
gpu_tests="tests/test_gpu.py tests/test_optim.py tests/test_bench.py tests/test_data.py tests/test_device_plumbing.py
           tests/test_module.py tests/test_monitor.py tests/test_tensor.py"
# shellcheck disable=SC2086
timeout 240 python -m pytest -m gpu -q -rs --continue-on-collection-errors -p no:cacheprovider $gpu_tests \
  > "$out/pytest_gpu.txt" 2>&1
echo "pytest rc $?" >> "$out/pytest_gpu.txt"
timeout 200 python -m minitl bench --device cuda --json > "$out/bench_cuda.json" 2> "$out/bench_cuda.err"
echo "bench rc $?" >> "$out/bench_cuda.err"
tail -5 "$out/pytest_gpu.txt"; cat "$out/env.txt"; cat "$out/bench_cuda.json" | head -60; tail -20 "$out/bench_cuda.err"
