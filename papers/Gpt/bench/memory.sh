#!/usr/bin/env bash
# GPT training memory against depth, with and without gradient checkpointing (Chen et al. 2016), one fresh
# process per configuration; optionally the step time too (only on an otherwise idle machine).
#
#   bash papers/Gpt/bench/memory.sh [out=memory.jsonl] [layers="4 8 12 16 20 24 28 32"] [modes="none sqrt every"] [steps=0] [threads=1]
#
# Each configuration runs `Gpt.dll --bench-memory --layers L --checkpoint MODE --steps S --threads N`
# (bench/MemoryBench.cs), which prints one JSON line; they are appended to `out`, then summarised as a table:
# the step's resident peak above the resident size before it (MiB) per mode, and, when steps > 0, the median
# step time of each checkpointed mode relative to no checkpointing (the paper reports about +30%). Steps are
# timed in a second process with the allocator set as in a training run, not the one the memory needs.
# GPT_BENCH_MEMORY overrides the command (default: dotnet papers/Gpt/bin/Release/net10.0/Gpt.dll --bench-memory).
# Needs a Release build and jq.
set -euo pipefail
out=${1:-memory.jsonl}; layers=${2:-"4 8 12 16 20 24 28 32"}; modes=${3:-"none sqrt every"}; steps=${4:-0}; threads=${5:-1}
root=$(cd "$(dirname "$0")/../../.." && pwd)
dll="$root/papers/Gpt/bin/Release/net10.0/Gpt.dll"
cmd=${GPT_BENCH_MEMORY:-"dotnet $dll --bench-memory"}
[[ -n ${GPT_BENCH_MEMORY:-} || -f $dll ]] || { echo "missing $dll: run 'dotnet build $root/PaperLab.sln -c Release' first" >&2; exit 2; }
command -v jq > /dev/null || { echo "needs jq (apt install jq)" >&2; exit 2; }

# A fixed mmap threshold (which also turns off glibc's moving one): every block of 128 KiB or more, which is
# every activation here, is mapped on allocation and unmapped on free, so the resident size follows the live
# tensors instead of what the heap keeps for reuse.
# That setting makes every step fault its activations in afresh, so the step times come from a second process
# with the allocator as every training run sets it (TorchRuntime.RetainFreedMemory: freed memory is kept).
export OMP_NUM_THREADS=$threads

for l in $layers; do
  for m in $modes; do
    line=$(MALLOC_MMAP_THRESHOLD_=131072 $cmd --layers "$l" --checkpoint "$m" --steps 0 --threads "$threads" | tail -1)
    if (( steps > 0 )); then
      t=$(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 $cmd --layers "$l" --checkpoint "$m" --steps "$steps" --threads "$threads" \
            | tail -1 | jq .MedianStepSeconds)
      line=$(jq -c --argjson t "$t" '.MedianStepSeconds = $t' <<< "$line")
    fi
    echo "$line" | tee -a "$out"
  done
done

if jq -s -e 'map(.PeakResetWorked == false) | any' "$out" > /dev/null; then
  echo "warning: /proc/self/clear_refs could not be written here (a sandbox?): step peaks are the process's peak since start, not the step's" >&2
fi
echo
jq -s -r --arg modes "$modes" '
  ($modes | split(" ") | map(select(length > 0))) as $ms
  | ($ms | map(select(. != "none"))) as $checkpointed
  | (map(.MedianStepSeconds != null) | any) as $timed
  | (group_by(.Layers) | map({ key: (.[0].Layers | tostring), value: (map({ key: .Checkpoint, value: . }) | from_entries) }) | from_entries) as $by
  | def r1: . * 10 | round / 10 | tostring;
    "| n_layer | " + ($ms | map("step peak MiB, " + .) | join(" | ")) + " | segments (sqrt) |"
      + (if $timed then ($checkpointed | map(" step time " + . + " / none |") | join("")) else "" end),
    "|---|" + ($ms | map("---|") | join("")) + "---|" + (if $timed then ($checkpointed | map("---|") | join("")) else "" end),
    ($by | keys | map(tonumber) | sort[] | tostring) as $l
    | $by[$l] as $r
    | "| \($l) | " + ($ms | map(($r[.].StepPeakMiB // null) | if . == null then "" else r1 end) | join(" | "))
      + " | " + (($r["sqrt"].Segments // "") | tostring) + " |"
      + (if $timed then ($checkpointed | map(" " + (if ($r[.].MedianStepSeconds // null) != null and ($r["none"].MedianStepSeconds // null) != null
                                                    then ($r[.].MedianStepSeconds / $r["none"].MedianStepSeconds * 100 | round / 100 | tostring) else "" end) + " |") | join(""))
         else "" end)
' "$out"
