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
root=$(cd "$(dirname "$0")/../../.." && pwd)
dll="$root/papers/Nplm/bin/Release/net10.0/Nplm.dll"
[[ -f $dll ]] || { echo "missing $dll: run 'dotnet build $root/PaperLab.sln -c Release' first" >&2; exit 2; }
openblas=${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}   # OPENBLAS_DIR: another copy of the same library
[[ -d $openblas ]] || { echo "missing $openblas: apt install libopenblas0-openmp python3-torch" >&2; exit 2; }

rate() { grep -o '"words_per_second": *[0-9.]*' | grep -o '[0-9.]*$'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A ts py
for ((r = 1; r <= rounds; r++)); do
  for t in $threads; do
    a=$(dotnet "$dll" --bench "$steps" --threads "$t" 2>/dev/null | tail -1 | rate)
    b=$(LD_LIBRARY_PATH=$openblas /usr/bin/python3 "$root/papers/Nplm/bench/pytorch_nplm_bench.py" --threads "$t" --steps "$steps" | tail -1 | rate)
    ts[$t]+="$a "; py[$t]+="$b "
    printf 'round %d, %d thread(s): TorchSharp %.0f, PyTorch %.0f words/s\n' "$r" "$t" "$a" "$b"
  done
done
echo "| threads | TorchSharp words/s (median of $rounds) | PyTorch words/s (median of $rounds) | ratio |"
echo "|---|---|---|---|"
for t in $threads; do
  a=$(tr ' ' '\n' <<< "${ts[$t]}" | grep . | median); b=$(tr ' ' '\n' <<< "${py[$t]}" | grep . | median)
  awk -v t="$t" -v a="$a" -v b="$b" 'BEGIN { printf "| %d | %.0f | %.0f | %.2f |\n", t, a, b, a / b }'
done
