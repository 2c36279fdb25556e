#!/usr/bin/env bash
# The one prepared script for a session that is lent a GPU: the CUDA tests (correctness against the
# CPU), then the throughput figures on CUDA. Prints everything; writes the JSON lines to $OUT if set.
#   bash benchmarks/cuda_check.sh            (about 5-8 minutes on an H200)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total --format=csv || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
"$PY" -m pytest -q -rs tests -k cuda 2>&1 | tail -15
"$PY" benchmarks/bench_walks.py --device cuda 2>&1 | tee "$out/bench_walks_cuda.jsonl" | tail -20
"$PY" benchmarks/bench_model.py --device cuda 2>&1 | tee "$out/bench_model_cuda.jsonl" | tail -20
"$PY" benchmarks/bench_train.py --device cuda --steps 20 2>&1 | tee "$out/bench_train_cuda_cpu_workers.jsonl"
"$PY" benchmarks/bench_train.py --device cuda --steps 20 --sampling device --neighborhoods walks 2>&1 \
    | tee "$out/bench_train_cuda_device_sampling.jsonl"
# §3.4: layer-wise inference on the GPU (the test above checks it equals the CPU's), and kNN search
"$PY" benchmarks/bench_inference.py --device cuda --sizes 100k 1m 2>&1 | tee "$out/bench_inference_cuda.jsonl"
"$PY" benchmarks/bench_knn.py --device cuda 2>&1 | tee "$out/bench_knn_cuda.jsonl"
