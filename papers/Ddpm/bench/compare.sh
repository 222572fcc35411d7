#!/usr/bin/env bash
# Training throughput of DDPM in TorchSharp and in PyTorch, alternated so that both see the same machine.
#
#   bash papers/Ddpm/bench/compare.sh [rounds=3] [steps=30] [threads="1 2"]
#
# Each round runs `Ddpm.dll --bench STEPS` then bench/pytorch_ddpm_bench.py at each thread count: the default
# U-Net (base width 24, multipliers 1/2/2, attention at 7×7) and recipe (L_simple over T = 1000 linear
# steps, clipping at norm 1, Adam 1e-3 warm-up-cosine, EMA of the weights after every step), after 5
# untimed warm-up steps. The batch is SYNTHETIC and fixed: 64 images of 1×28×28 uniform in [−1, 1] instead
# of a run's shuffled Fashion-MNIST batches (a step's cost does not depend on the pixels). The table gives
# the median images/s of the rounds and their ratio, by wall clock and by process CPU time (images per
# CPU-second: what other jobs on the machine disturb least). Needs a Release build (dotnet build -c Release)
# and Debian's python3-torch with OpenBLAS (apt install python3-torch libopenblas0-openmp). Measure on an
# otherwise idle machine: libtorch's two OpenMP threads slow down many times over under load.
# TorchSharp runs its convolutions on libtorch's native kernels, oneDNN off (libtorch 2.10's AVX2/AVX-512 oneDNN
# convolution backward kernels are wrong on the reference machine and its SSE4.1 ones slow;
# shared/PaperLab.Shared/Torch/TorchRuntime.cs; PAPERLAB_CONV=onednn gives the SSE4.1-capped oneDNN instead);
# PyTorch 1.13 uses its own oneDNN 2.6 at full width, whose gradients are right here
# (`papers/LeNet5/bench/pytorch_lenet5_bench.py --check-conv-grad` checks them against float64, this U-Net's
# 16→8 3×3 shape included).
set -euo pipefail
rounds=${1:-3}; steps=${2:-30}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper Ddpm
compare_twins "$root/papers/Ddpm/bench/pytorch_ddpm_bench.py" samples_per_second images/s "DDPM U-Net (width 24), synthetic batch of 64 images"
