#!/usr/bin/env bash
# Training throughput of the Batch Normalization experiment's step in TorchSharp and in PyTorch, alternated so
# that both see the same machine.
#
#   bash papers/BatchNorm/bench/compare.sh [rounds=3] [steps=1000] [threads="1 2"]
#
# Each round runs `BatchNorm.dll --bench STEPS` then bench/pytorch_batchnorm_bench.py at each thread count: the
# Fig. 1 pair (the §4.1 network without and with the from-scratch BN layer, same batch) on real shuffled MNIST
# batches of 60, SGD at 0.1, after 300 untimed warm-up steps (for .NET, time for its tiered JIT to settle). The
# layer is a custom autograd function on both sides (Algorithm 1 forward, §3 backward). The table gives the
# median images/s of the rounds and their ratio, by wall clock and by process CPU time. Needs a Release build
# (dotnet build -c Release), MNIST in data/mnist, and Debian's python3-torch with OpenBLAS (apt install
# python3-torch libopenblas0-openmp). Measure on an otherwise idle machine: libtorch's two OpenMP threads slow
# down many times over under load.
set -euo pipefail
rounds=${1:-3}; steps=${2:-1000}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper BatchNorm
compare_twins "$root/papers/BatchNorm/bench/pytorch_batchnorm_bench.py" samples_per_second images/s "Batch Normalization, the Fig. 1 pair, batch 60"
