#!/usr/bin/env bash
# DQN in TorchSharp (papers/Dqn) and in PyTorch (bench/pytorch_dqn.py), alternated so that both see the same machine.
#
#   bash papers/Dqn/bench/compare.sh [rounds=3] [bench-steps=2000] [threads="1 2"] [seeds="0 1 2"]   (seeds "": part 1 only)
#
# Part 1, the pieces of a step: each round runs `Dqn.dll --bench N` then `pytorch_dqn.py --bench N` at each
#   thread count; the table gives the median of the rounds of CartPole steps/s, greedy actions/s, replay
#   minibatches/s and updates/s (a minibatch draw included), and the ratio TorchSharp / PyTorch.
# Part 2, time to solve: for each seed, the default run of each (one thread), alternated; the table gives
#   the environment steps and seconds each needed to solve (the same initial states, coin flips and replay
#   slots; only the initial weights differ, so the step counts differ too: compare seconds per step as well).
# Needs a Release build (dotnet build -c Release) and Debian's python3-torch with OpenBLAS
# (apt install python3-torch libopenblas0-openmp). Measure on an otherwise idle machine: libtorch's OpenMP
# threads slow down many times over under load, and DQN's tiny networks feel it most.
set -euo pipefail
rounds=${1:-3}; steps=${2:-2000}; threads=${3:-"1 2"}; seeds=${4-"0 1 2"}
source "$(dirname "$0")/../../../tools/bench/lib.sh"
bench_paper Dqn
py="$root/papers/Dqn/bench/pytorch_dqn.py"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
keys="env_steps_per_second greedy_actions_per_second minibatches_per_second updates_per_second"

declare -A ts tw
for ((r = 1; r <= rounds; r++)); do
  for t in $threads; do
    a=$(bench_line dotnet "$dll" --bench "$steps" --threads "$t")
    b=$(bench_line twin_python "$py" --bench "$steps" --threads "$t")
    for k in $keys; do ts[$t,$k]+="$(field "$k" <<< "$a") "; tw[$t,$k]+="$(field "$k" <<< "$b") "; done
    printf 'round %d, %d thread(s): updates/s TorchSharp %.0f, PyTorch %.0f\n' "$r" "$t" \
      "$(field updates_per_second <<< "$a")" "$(field updates_per_second <<< "$b")"
  done
done
echo
echo "| threads | measure | TorchSharp (median of $rounds) | PyTorch (median of $rounds) | ratio |"
echo "|---|---|---|---|---|"
for t in $threads; do
  for k in $keys; do
    a=$(med "${ts[$t,$k]}"); b=$(med "${tw[$t,$k]}")
    awk -v t="$t" -v k="${k//_/ }" -v a="$a" -v b="$b" 'BEGIN { printf "| %d | %s | %.0f | %.0f | %.2f |\n", t, k, a, b, a / b }'
  done
done

echo
[[ -n ${seeds// /} ]] || exit 0
echo "| seed | TorchSharp: solved, steps, seconds | PyTorch: solved, steps, seconds | seconds per 1,000 steps, TorchSharp / PyTorch |"
echo "|---|---|---|---|"
for s in $seeds; do
  summary="$tmp/ts-$s/summary.json"
  out=$(dotnet "$dll" --seed "$s" --threads 1 --out "$tmp/ts-$s" 2>&1) && [[ -f $summary ]] \
    || { echo "failed: the TorchSharp run of seed $s (no $summary)" >&2; tail -5 <<< "$out" >&2; exit 1; }
  a_solved=$(grep -o '"solved": *[a-z]*' "$summary" | grep -o '[a-z]*$'); a_steps=$(field environment_steps < "$summary"); a_sec=$(field train_seconds < "$summary")
  b=$(bench_line twin_python "$py" --seed "$s" --threads 1)
  b_solved=$(grep -o '"solved": *[a-z]*' <<< "$b" | grep -o '[a-z]*$'); b_steps=$(field steps <<< "$b"); b_sec=$(field seconds <<< "$b")
  awk -v s="$s" -v as="$a_solved" -v an="$a_steps" -v at="$a_sec" -v bs="$b_solved" -v bn="$b_steps" -v bt="$b_sec" \
    'BEGIN { printf "| %d | %s, %d, %.1f s | %s, %d, %.1f s | %.2f |\n", s, as, an, at, bs, bn, bt, (at / an) / (bt / bn) }'
done
