#!/usr/bin/env bash
# bench/profile-nodes.sh - CPU profile of every running mycelium node while
# the shared harness drives iperf3 through them. Start a long harness run
# first (e.g. -t 30 -r 1 -P 1), then run this a few seconds into the iperf3
# phase. One perf.data per node process goes to OUTDIR, plus a top-symbols
# report (perf report --no-children, self time) per node.
#
# Usage: bench/profile-nodes.sh OUTDIR [SECONDS]
# Needs: perf (linux-perf). Reads PIDs with pgrep; stops only the perf
# processes it started.
set -u
out=${1:?usage: bench/profile-nodes.sh OUTDIR [SECONDS]}
secs=${2:-5}
mkdir -p "$out"
mapfile -t pids < <(pgrep -x mycelium)
((${#pids[@]})) || { echo "no mycelium process running" >&2; exit 1; }
perfs=()
for pid in "${pids[@]}"; do
    ns=$(ip netns identify "$pid" 2>/dev/null); ns=${ns:-host}
    perf record -q -g -F 2000 -p "$pid" -o "$out/$ns.data" -- sleep "$secs" 2>/dev/null &
    perfs+=($!)
done
wait "${perfs[@]}"
for f in "$out"/*.data; do
    perf report -i "$f" --no-children --stdio --percent-limit 0.7 -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' >"${f%.data}.txt"
    echo "== $(basename "${f%.data}")"; head -40 "${f%.data}.txt"
done
