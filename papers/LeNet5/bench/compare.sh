#!/usr/bin/env bash
# Training throughput of LeNet-5 in TorchSharp and in PyTorch, alternated so that both see the same machine.
#
#   bash papers/LeNet5/bench/compare.sh [rounds=3] [steps=500] [threads="1 2"]
#
# Each round runs `LeNet5.dll --bench STEPS` then bench/pytorch_lenet5_bench.py at each thread count: the
# default recipe (MNIST, batch 64, Adam 2e-3 on a 12-epoch half cosine) on real shuffled MNIST batches, after
# 20 untimed warm-up steps. The table gives the median images/s of the rounds and their ratio, by wall clock
# and by process CPU time (images per CPU-second: what other jobs on the machine disturb least). Needs a
# Release build (dotnet build -c Release), MNIST in data/mnist, and Debian's python3-torch with OpenBLAS
# (apt install python3-torch libopenblas0-openmp). Measure on an otherwise idle machine: libtorch's two
# OpenMP threads slow down many times over under load.
# TorchSharp runs its convolutions on libtorch's native kernels, oneDNN off (libtorch 2.10's AVX2/AVX-512 oneDNN
# convolution backward kernels are wrong on the reference machine and its SSE4.1 ones slow;
# shared/PaperLab.Shared/Torch/TorchRuntime.cs; PAPERLAB_CONV=onednn gives the SSE4.1-capped oneDNN instead);
# PyTorch 1.13 uses its own oneDNN 2.6 at full width, whose gradients are right here
# (`pytorch_lenet5_bench.py --check-conv-grad` checks them against float64).
set -euo pipefail
rounds=${1:-3}; steps=${2:-500}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper LeNet5
compare_twins "$root/papers/LeNet5/bench/pytorch_lenet5_bench.py" samples_per_second images/s "LeNet-5, batch 64"
