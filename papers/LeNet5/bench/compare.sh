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
root=$(cd "$(dirname "$0")/../../.." && pwd)
dll="$root/papers/LeNet5/bin/Release/net10.0/LeNet5.dll"
py="$root/papers/LeNet5/bench/pytorch_lenet5_bench.py"
[[ -f $dll ]] || { echo "missing $dll: run 'dotnet build $root/PaperLab.sln -c Release' first" >&2; exit 2; }
openblas=${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
[[ -d $openblas ]] || { echo "missing $openblas: apt install libopenblas0-openmp python3-torch" >&2; exit 2; }

field() { grep -o "\"$1\": *[0-9.e+-]*" | grep -o '[0-9.e+-]*$'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { tr ' ' '\n' <<< "$1" | grep . | median; }

declare -A ts py tsc pyc
for ((r = 1; r <= rounds; r++)); do
  for t in $threads; do
    a=$(dotnet "$dll" --bench "$steps" --threads "$t" 2>/dev/null | grep '^{' | tail -1)
    b=$(LD_LIBRARY_PATH=$openblas /usr/bin/python3 "$py" --threads "$t" --steps "$steps" | tail -1)
    ts[$t]+="$(field samples_per_second <<< "$a") "; py[$t]+="$(field samples_per_second <<< "$b") "
    tsc[$t]+="$(field samples_per_cpu_second <<< "$a") "; pyc[$t]+="$(field samples_per_cpu_second <<< "$b") "
    printf 'round %d, %d thread(s): TorchSharp %.0f, PyTorch %.0f images/s (per CPU-second: %.0f, %.0f)\n' "$r" "$t" \
      "$(field samples_per_second <<< "$a")" "$(field samples_per_second <<< "$b")" \
      "$(field samples_per_cpu_second <<< "$a")" "$(field samples_per_cpu_second <<< "$b")"
  done
done
echo "LeNet-5, batch 64, $steps steps per run; $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -o '"machine": *"[^"]*"' <<< "$b" | cut -d'"' -f4)"
echo "| threads | TorchSharp images/s (median of $rounds) | PyTorch images/s (median of $rounds) | ratio | TorchSharp images/CPU-s | PyTorch images/CPU-s | ratio |"
echo "|---|---|---|---|---|---|---|"
for t in $threads; do
  awk -v t="$t" -v a="$(med "${ts[$t]}")" -v b="$(med "${py[$t]}")" -v c="$(med "${tsc[$t]}")" -v d="$(med "${pyc[$t]}")" \
    'BEGIN { printf "| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", t, a, b, a / b, c, d, c / d }'
done
