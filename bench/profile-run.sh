#!/usr/bin/env bash
# bench/profile-run.sh - one harness run of our node with a CPU profile of
# every node taken in the middle of the iperf3 transfer.
#
# Usage (repo root, as root): bench/profile-run.sh OUTDIR [NODES]
# Runs ../shared/bench/overlay-throughput.sh -o bench/mycelium.sh -n NODES
# -P 1 -r 1 -t 20 in the background, waits for the iperf3 client, then
# bench/profile-nodes.sh OUTDIR 8.
set -u
out=${1:?usage: bench/profile-run.sh OUTDIR [NODES]}
nodes=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
harness=${HARNESS:-$here/../../shared/bench/overlay-throughput.sh}
[[ -x $harness ]] || harness=$here/../../../shared/bench/overlay-throughput.sh
mkdir -p "$out"
"$harness" -o "$here/mycelium.sh" -n "$nodes" -P 1 -r 1 -t 20 -L "mycelium-prof$nodes" \
    >"$out/rows.md" 2>"$out/harness.log" &
h=$!
for ((i = 0; i < 1800; i++)); do
    pgrep -f 'iperf3 -c' >/dev/null && break
    kill -0 "$h" 2>/dev/null || break
    sleep 0.1
done
sleep 4
"$here/profile-nodes.sh" "$out" 8
wait "$h"
cat "$out/harness.log" "$out/rows.md"
