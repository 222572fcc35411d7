#!/usr/bin/env bash
# Training throughput of the GPT in TorchSharp and in PyTorch, alternated so that both see the same machine.
#
#   bash papers/Gpt/bench/compare.sh [rounds=3] [steps=200] [threads="1 2"]
#
# Each round runs `Gpt.dll --bench` then bench/pytorch_gpt_bench.py at each thread count; the table gives
# the median tokens/s of the rounds and their ratio. Needs a Release build (dotnet build -c Release) and
# Debian's python3-torch with OpenBLAS (apt install python3-torch libopenblas0-openmp).
# Measure on an otherwise idle machine: libtorch's two OpenMP threads slow down many times over under load.
set -euo pipefail
rounds=${1:-3}; steps=${2:-200}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper Gpt
compare_twins "$root/papers/Gpt/bench/pytorch_gpt_bench.py" tokens_per_second tokens/s "GPT (default model, batch 12 × 64)"
