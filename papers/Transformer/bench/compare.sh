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
root=$(cd "$(dirname "$0")/../../.." && pwd)
dll="$root/papers/Transformer/bin/Release/net10.0/Transformer.dll"
py="$root/papers/Transformer/bench/pytorch_transformer_bench.py"
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
    ts[$t]+="$(field tokens_per_second <<< "$a") "; py[$t]+="$(field tokens_per_second <<< "$b") "
    tsc[$t]+="$(field tokens_per_cpu_second <<< "$a") "; pyc[$t]+="$(field tokens_per_cpu_second <<< "$b") "
    printf 'round %d, %d thread(s): TorchSharp %.0f, PyTorch %.0f tokens/s (per CPU-second: %.0f, %.0f)\n' "$r" "$t" \
      "$(field tokens_per_second <<< "$a")" "$(field tokens_per_second <<< "$b")" \
      "$(field tokens_per_cpu_second <<< "$a")" "$(field tokens_per_cpu_second <<< "$b")"
  done
done
echo "Transformer (3/256/8/512), synthetic batch of 200 pairs × 14/15 tokens, $steps steps per run; $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -o '"machine": *"[^"]*"' <<< "$b" | cut -d'"' -f4)"
echo "| threads | TorchSharp tokens/s (median of $rounds) | PyTorch tokens/s (median of $rounds) | ratio | TorchSharp tokens/CPU-s | PyTorch tokens/CPU-s | ratio |"
echo "|---|---|---|---|---|---|---|"
for t in $threads; do
  awk -v t="$t" -v a="$(med "${ts[$t]}")" -v b="$(med "${py[$t]}")" -v c="$(med "${tsc[$t]}")" -v d="$(med "${pyc[$t]}")" \
    'BEGIN { printf "| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", t, a, b, a / b, c, d, c / d }'
done
