#!/usr/bin/env bash
# Single tensor operations in TorchSharp against PyTorch, alternated: where a whole-step ratio comes from.
#
#   bash tools/bench/kernels.sh [rounds=3] [threads="1 2"] [repeats=100]
#
# Each round runs tools/bench/Kernels (TorchSharp) then tools/bench/kernels.py (PyTorch) at each thread count,
# the same operations and shapes (NPLM's output layer, the GPT's default block, LeNet-5's convolutions, a 1024²
# product), and prints, per operation and thread count, the median milliseconds per call of the rounds and the
# ratio PyTorch / TorchSharp time (> 1: TorchSharp faster, as in compare-all.sh). Both sides keep freed memory
# as every run does (tools/bench/lib.sh). Needs a Release build (dotnet build PaperLab.sln -c Release) and
# Debian's python3-torch with OpenBLAS; measure on an otherwise idle machine.
set -euo pipefail
rounds=${1:-3}; threads=${2:-"1 2"}; repeats=${3:-100}
source "$(dirname "$0")/lib.sh"
dll="$(cd "$(dirname "$0")" && pwd)/Kernels/bin/Release/net10.0/Kernels.dll"
bench_needs "$dll"
command -v jq > /dev/null || { echo "needs jq (apt install jq)" >&2; exit 2; }

out=$(mktemp); trap 'rm -f "$out"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for t in $threads; do
    echo "round $r/$rounds, $t thread(s)" >&2
    OMP_NUM_THREADS=$t dotnet "$dll" --threads "$t" --repeats "$repeats" | grep '^{' | jq -c '. + {side: "ts"}' >> "$out"
    OMP_NUM_THREADS=$t twin_python "$root/tools/bench/kernels.py" --threads "$t" --repeats "$repeats" | grep '^{' | jq -c '. + {side: "py"}' >> "$out"
  done
done
echo "Single operations, ms per call (median of $rounds rounds); $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
jq -s -r '
  def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r3: . * 1000 | round / 1000 | tostring;
  "| operation | threads | TorchSharp ms | PyTorch ms | PyTorch / TorchSharp |",
  "|---|---|---|---|---|",
  . as $all
  | (reduce .[].op as $o ([]; if any(.[]; . == $o) then . else . + [$o] end)) as $ops   # in the order measured
  | ($all | map(.threads) | unique)[] as $t | $ops[] as $o
  | ($all | map(select(.op == $o and .threads == $t))) as $rows
  | ($rows | map(select(.side == "ts").ms) | med) as $a | ($rows | map(select(.side == "py").ms) | med) as $b
  | "| \($o) | \($t) | \($a | r3) | \($b | r3) | \($b / $a * 100 | round / 100) |"
' "$out"
