# What the papers' bench/compare.sh scripts share. Source it from a script in papers/<Paper>/bench/:
#
#   source "$(dirname "$0")/../../../tools/bench/lib.sh"
#   bench_paper Gpt                  # sets root, dll (the paper's Release build) and openblas, or exits 2 saying what is missing
#                                    # (bench_needs DLL: the same for another program)
#   compare_twins STEPS_OPTION ...   # see below
#
# The PyTorch side is Debian's python3-torch 1.13, which links the reference BLAS unless Debian's OpenMP
# build of OpenBLAS comes first on LD_LIBRARY_PATH (OPENBLAS_DIR: another copy of the same library).

# bench_needs DLL: root (the repository) and openblas (its folder), or exits 2 saying what is missing: the Release
# build DLL, Debian's OpenBLAS, Debian's PyTorch.
bench_needs() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  [[ -f $1 ]] || { echo "missing $1: run 'dotnet build $root/PaperLab.sln -c Release' first" >&2; exit 2; }
  openblas=${OPENBLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
  [[ -d $openblas ]] || { echo "missing $openblas: apt install libopenblas0-openmp python3-torch" >&2; exit 2; }
  [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import torch' 2> /dev/null \
    || { echo "Debian's PyTorch is missing: apt install python3-torch libopenblas0-openmp" >&2; exit 2; }
}

# bench_paper PAPER: root, openblas and dll (papers/PAPER/bin/Release/net10.0/PAPER.dll), as bench_needs.
bench_paper() {
  dll="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/papers/$1/bin/Release/net10.0/$1.dll"
  bench_needs "$dll"
}

# field KEY: the number after "KEY": in the JSON line on stdin.
field() { grep -o "\"$1\": *[0-9.e+-]*" | grep -o '[0-9.e+-]*$'; }
# text_field KEY: the first value after "KEY": in the JSON line on stdin, a number or a string (without its quotes).
text_field() { grep -o "\"$1\": *\(\"[^\"]*\"\|[^,}]*\)" | head -1 | sed 's/^"[^"]*": *//' | tr -d '"'; }
# median: of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# med "a b c": the median of a space-separated list.
med() { tr ' ' '\n' <<< "$1" | grep . | median; }
# twin_python ARGS…: Debian's PyTorch with OpenMP OpenBLAS, and glibc's allocator keeping freed memory as every
# C# run sets it (TorchRuntime.RetainFreedMemory: no mmap for large blocks, no trimming), so that neither side
# pays the page faults of returning each step's large tensors to the kernel and taking them back.
twin_python() { LD_LIBRARY_PATH=$openblas MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 /usr/bin/python3 "$@"; }

# bench_line COMMAND…: the last JSON line COMMAND prints; if it fails or prints none, its last lines of output
# go to stderr and the script exits 1.
bench_line() {
  local out line
  out=$("$@" 2>&1) && line=$(grep '^{' <<< "$out" | tail -1) && [[ -n $line ]] \
    || { echo "failed: $*" >&2; tail -5 <<< "$out" >&2; exit 1; }
  echo "$line"
}

# compare_twins PY RATE UNIT TITLE: for each of $rounds rounds and each thread count in $threads, runs
# `dotnet $dll --bench $steps --threads T` then `PY --threads T --steps $steps` (TorchSharp then PyTorch
# back to back), reads RATE (e.g. samples_per_second) from each JSON line and, when both print it,
# RATE with "_per_second" replaced by "_per_cpu_second" (the rate per process CPU-second, which other jobs
# on the machine disturb least). Prints each round, then a table of medians and ratios TorchSharp / PyTorch
# headed by TITLE, the date and the machine (from the C# line).
compare_twins() {
  local py=$1 rate=$2 unit=$3 title=$4 cpu_rate=${2/_per_second/_per_cpu_second} a b t r
  local -A ts tw tsc twc
  for ((r = 1; r <= rounds; r++)); do
    for t in $threads; do
      a=$(bench_line dotnet "$dll" --bench "$steps" --threads "$t")
      b=$(bench_line twin_python "$py" --threads "$t" --steps "$steps")
      ts[$t]+="$(field "$rate" <<< "$a") "; tw[$t]+="$(field "$rate" <<< "$b") "
      tsc[$t]+="$(field "$cpu_rate" <<< "$a" || true) "; twc[$t]+="$(field "$cpu_rate" <<< "$b" || true) "
      printf 'round %d, %d thread(s): TorchSharp %.0f, PyTorch %.0f %s\n' "$r" "$t" "$(field "$rate" <<< "$a")" "$(field "$rate" <<< "$b")" "$unit"
    done
  done
  echo "$title, $steps steps per run; $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -o '"machine": *"[^"]*"' <<< "$a" | cut -d'"' -f4)"
  if [[ -n $(med "${tsc[${threads%% *}]}") && -n $(med "${twc[${threads%% *}]}") ]]; then
    echo "| threads | TorchSharp $unit (median of $rounds) | PyTorch $unit (median of $rounds) | ratio | TorchSharp per CPU-s | PyTorch per CPU-s | ratio |"
    echo "|---|---|---|---|---|---|---|"
    for t in $threads; do
      awk -v t="$t" -v a="$(med "${ts[$t]}")" -v b="$(med "${tw[$t]}")" -v c="$(med "${tsc[$t]}")" -v d="$(med "${twc[$t]}")" \
        'BEGIN { printf "| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", t, a, b, a / b, c, d, c / d }'
    done
  else
    echo "| threads | TorchSharp $unit (median of $rounds) | PyTorch $unit (median of $rounds) | ratio |"
    echo "|---|---|---|---|"
    for t in $threads; do
      awk -v t="$t" -v a="$(med "${ts[$t]}")" -v b="$(med "${tw[$t]}")" 'BEGIN { printf "| %d | %.0f | %.0f | %.2f |\n", t, a, b, a / b }'
    done
  fi
}
