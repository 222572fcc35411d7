#!/usr/bin/env bash
# Training throughput of the network in TorchSharp and in PyTorch, alternated so that both see the same machine.
#
#   bash papers/Nplm/bench/compare.sh [rounds=3] [steps=50] [threads="1 2"]
#
# Each round runs the C# bench (NplmBench.Run: `Nplm.dll --bench STEPS --threads T`) then
# bench/pytorch_nplm_bench.py at each thread count, both on Table 1's MLP9 shape over the Brown vocabulary
# (|V| 17,907, n 5, m 30, h 100, no direct connections), batch 256, SGD with the weight penalty; the table gives the median words/s
# of the rounds and their ratio. Needs a Release build (dotnet build -c Release), and Debian's python3-torch with OpenBLAS (apt install python3-torch libopenblas0-openmp).
# Measure on an otherwise idle machine: libtorch's two OpenMP threads slow down many times over under load.
set -euo pipefail
rounds=${1:-3}; steps=${2:-50}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper Nplm
compare_twins "$root/papers/Nplm/bench/pytorch_nplm_bench.py" words_per_second words/s "NPLM, Table 1's MLP9 over the Brown vocabulary, batch 256"
