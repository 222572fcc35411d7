#!/usr/bin/env bash
# Every paper's training throughput in TorchSharp against its PyTorch twin, in one table.
#
#   bash tools/bench/compare-all.sh [rounds=3] [threads="1 2"] [papers="lenet5 gpt nplm dqn transformer ddpm batchnorm"] [scale=1]
#
# Runs each paper's own papers/<Paper>/bench/compare.sh with one round and one thread count at a time, so
# that every measurement is TorchSharp then PyTorch back to back, and interleaves the rounds across papers
# (round 1 of every paper and thread count, then round 2, …): a slow spell of the machine hits all papers
# alike instead of one paper's rounds. The table gives, per paper and thread count, the median over the
# rounds of each side's rate and the ratio TorchSharp / PyTorch of the medians (≥ 1: TorchSharp is faster),
# and where the paper's script reports it, the same ratio by process CPU time (what other jobs on the
# machine disturb least). scale multiplies each paper's step count (0.1 for a quick check of the script).
# A paper is skipped, with a note, when it has no bench/compare.sh, when its script refuses to run (no
# Release build, no --bench option yet: exit 2), or when a run fails. Backprop is left out: its compare.sh
# measures its from-scratch engine against TorchSharp, not a PyTorch twin.
# Needs a Release build (dotnet build PaperLab.sln -c Release), MNIST in data/mnist (LeNet-5), and Debian's
# python3-torch with OpenBLAS (apt install python3-torch libopenblas0-openmp; OPENBLAS_DIR overrides its
# directory for the scripts that honour it). Measure on an otherwise idle machine: libtorch's OpenMP
# threads slow down many times over under load. Progress goes to stderr, the table to stdout.
set -euo pipefail
rounds=${1:-3}; threads=${2:-"1 2"}; papers=${3:-"lenet5 gpt nplm dqn transformer ddpm batchnorm"}; scale=${4:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)

# paper → folder, default steps, extra arguments after the thread count, unit, and which table row/columns hold
# TorchSharp's rate, PyTorch's and (optionally, 0: none) the CPU-time ratio. Row: the line of the compare.sh
# table whose first cell is the thread count and which contains the given text.
spec() {
  case $1 in
    lenet5)      echo "LeNet5|500||images/s||3|4|8" ;;
    gpt)         echo "Gpt|200||tokens/s||3|4|8" ;;
    nplm)        echo "Nplm|50||words/s||3|4|8" ;;
    dqn)         echo "Dqn|2000|\"\"|updates/s|updates per second|4|5|0" ;;
    transformer) echo "Transformer|30||tokens/s||3|4|8" ;;
    ddpm)        echo "Ddpm|30||images/s||3|4|8" ;;
    batchnorm)   echo "BatchNorm|1000||images/s||3|4|8" ;;
    *) return 1 ;;
  esac
}

source "$root/tools/bench/lib.sh"   # med
declare -A ts py cpu skip
log=$(mktemp); trap 'rm -f "$log"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for p in $papers; do
    IFS='|' read -r dir steps extra unit filter ca cb cc <<< "$(spec "$p")" || { echo "unknown paper '$p': use lenet5 gpt nplm dqn transformer ddpm batchnorm" >&2; exit 2; }
    script="$root/papers/$dir/bench/compare.sh"
    [[ -n ${skip[$p]:-} ]] && continue
    [[ -f $script ]] || { skip[$p]="no papers/$dir/bench/compare.sh (no PyTorch twin yet)"; continue; }
    n=$(awk -v s="$steps" -v k="$scale" 'BEGIN { n = int(s * k + 0.5); print (n < 1) ? 1 : n }')
    for t in $threads; do
      echo "round $r/$rounds: $p, $t thread(s), $n steps" >&2
      if ! eval bash "\"$script\"" 1 "$n" "\"$t\"" $extra > "$log" 2>&1; then
        skip[$p]="papers/$dir/bench/compare.sh failed: $(grep -v '^round' "$log" | tail -1)"; break
      fi
      row=$(grep -E "^\| $t \|" "$log" | grep -F -- "$filter" | head -1)
      a=$(cut -d'|' -f"$ca" <<< "$row" | tr -d ' '); b=$(cut -d'|' -f"$cb" <<< "$row" | tr -d ' ')
      if [[ ! $a =~ ^[0-9.]+$ || ! $b =~ ^[0-9.]+$ ]]; then skip[$p]="papers/$dir/bench/compare.sh printed no rate for $t thread(s)"; break; fi
      ts[$p,$t]+="$a "; py[$p,$t]+="$b "
      if [[ $cc != 0 ]]; then cpu[$p,$t]+="$(cut -d'|' -f"$cc" <<< "$row" | tr -d ' ') "; fi
    done
  done
done

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
echo "TorchSharp against PyTorch twins, median of $rounds alternated round(s); $(date -u '+%Y-%m-%d %H:%M UTC'); ${cpu_model:-unknown CPU}, $(nproc) logical cores, ${mem} GiB"
echo
echo "| paper | threads | TorchSharp | PyTorch | ratio | ratio by CPU time |"
echo "|---|---|---|---|---|---|"
for p in $papers; do
  [[ -n ${skip[$p]:-} ]] && continue
  IFS='|' read -r dir steps extra unit filter ca cb cc <<< "$(spec "$p")"
  for t in $threads; do
    [[ -n ${ts[$p,$t]:-} ]] || continue
    a=$(med "${ts[$p,$t]}"); b=$(med "${py[$p,$t]}")
    c=$(med "${cpu[$p,$t]:-}" || true)
    awk -v p="$dir" -v t="$t" -v a="$a" -v b="$b" -v c="${c:-–}" -v u="$unit" \
      'BEGIN { printf "| %s | %d | %.0f %s | %.0f %s | %.2f | %s |\n", p, t, a, u, b, u, a / b, c }'
  done
done
for p in $papers; do [[ -n ${skip[$p]:-} ]] && echo "skipped $p: ${skip[$p]}"; done
exit 0
