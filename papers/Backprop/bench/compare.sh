#!/usr/bin/env bash
# The engine against TorchSharp on one machine: training images/s of the same MLP (same batch, optimiser,
# 1 and 2 threads) and GFLOP/s of the engine's matmul against libtorch's on the products of a training step.
#
#   bash papers/Backprop/bench/compare.sh [rounds=3] [preset=800] [more options, e.g. --recipe modern --batch-size 64]
#
# Each round runs `Backprop.dll --bench 300 --threads T` for T = 1 and 2 (engine and TorchSharp one after the
# other inside it); the tables give the median over rounds. Needs a Release build: dotnet build papers/Backprop -c Release.
# Measure on an otherwise idle machine: under load wall-clock rates say little (the JSON lines also give
# images per CPU-second, which other jobs disturb less).
set -euo pipefail
rounds=${1:-3}; preset=${2:-800}
shift $(( $# < 2 ? $# : 2 ))
root=$(cd "$(dirname "$0")/../../.." && pwd)
dll="$root/papers/Backprop/bin/Release/net10.0/Backprop.dll"
[[ -f $dll ]] || { echo "missing $dll: run 'dotnet build $root/papers/Backprop -c Release' first" >&2; exit 2; }
source "$root/tools/bench/lib.sh"   # text_field, median
log=$(mktemp); trap 'rm -f "$log"' EXIT

for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  for t in 1 2; do
    dotnet "$dll" --bench 300 --threads "$t" --preset "$preset" "$@" | grep '^{' >> "$log"
  done
done


model=$(grep '"what":"training"' "$log" | head -1 | text_field model)
echo "Training, $model, median of $rounds rounds:"
echo "| threads | engine images/s | TorchSharp images/s | ratio |"
echo "|---|---|---|---|"
for t in $(grep '"what":"training"' "$log" | while read -r l; do text_field threads <<< "$l"; done | sort -un); do
  lines=$(grep '"what":"training"' "$log" | grep "\"threads\":$t,")
  e=$(while read -r l; do text_field engine_samples_per_second <<< "$l"; done <<< "$lines" | median)
  p=$(while read -r l; do text_field torch_samples_per_second <<< "$l"; done <<< "$lines" | median)
  awk -v t="$t" -v e="$e" -v p="$p" 'BEGIN { printf "| %d | %.0f | %.0f | %.2f |\n", t, e, p, e / p }'
done
echo
echo "Matmul float32 GFLOP/s (C = op(A)·op(B), M×N×K), median of $rounds rounds:"
echo "| product | M×N×K | threads | engine | TorchSharp | ratio |"
echo "|---|---|---|---|---|---|"
grep '"what":"matmul"' "$log" | while read -r l; do echo "$(text_field product <<< "$l")|$(text_field m <<< "$l")×$(text_field n <<< "$l")×$(text_field k <<< "$l")|$(text_field threads <<< "$l")"; done | sort -u |
while IFS='|' read -r product shape t; do
  lines=$(grep '"what":"matmul"' "$log" | grep -F "\"product\":\"$product\"" | grep "\"threads\":$t,")
  e=$(while read -r l; do text_field engine_gflops <<< "$l"; done <<< "$lines" | median)
  p=$(while read -r l; do text_field torch_gflops <<< "$l"; done <<< "$lines" | median)
  awk -v n="$product" -v s="$shape" -v t="$t" -v e="$e" -v p="$p" 'BEGIN { printf "| %s | %s | %d | %.1f | %.1f | %s |\n", n, s, t, e, p, (p > 0 ? sprintf("%.2f", e / p) : "–") }'
done
