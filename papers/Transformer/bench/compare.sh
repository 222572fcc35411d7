#!/usr/bin/env bash
# Training throughput of the Transformer in TorchSharp and in PyTorch, alternated so that both see the same machine.
#
#   bash papers/Transformer/bench/compare.sh [rounds=3] [steps=30] [threads="1 2"]
#
# Each round runs `Transformer.dll --bench STEPS` then bench/pytorch_transformer_bench.py at each thread
# count: the default model (N 3, d_model 256, h 8, d_ff 512, dropout 0.1, post-LN, 7,481,088 parameters) and
# recipe (Adam β 0.9/0.98 with Eq. 3's rate, label smoothing 0.1), after 5 untimed warm-up steps.
# The batch is SYNTHETIC and fixed, unlike a run's length-bucketed Multi30k batches: 200 pairs of random word
# ids, source 14 and target 15 tokens (2,800 predicted tokens, at the default 3,000-token bound), no
# padding, the default run's vocabularies (7,881 / 5,898); the data pipeline differs between the two
# programs, the arithmetic of a step does not. The table gives the median predicted target tokens/s of the
# rounds and their ratio, by wall clock and by process CPU time (tokens per CPU-second: what other jobs on
# the machine disturb least). Needs a Release build (dotnet build -c Release) and Debian's python3-torch
# with OpenBLAS (apt install python3-torch libopenblas0-openmp). Measure on an otherwise idle machine:
# libtorch's two OpenMP threads slow down many times over under load.
set -euo pipefail
rounds=${1:-3}; steps=${2:-30}; threads=${3:-"1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper Transformer
compare_twins "$root/papers/Transformer/bench/pytorch_transformer_bench.py" tokens_per_second tokens/s "Transformer (3/256/8/512), synthetic batch of 200 pairs × 14/15 tokens"
