#!/usr/bin/env bash
# bench/compare.sh - our node against the baselines in ONE session, so all
# rows share the machine's load: wireguard-go and our node interleaved
# (2 nodes, then a 3-node line), then yggdrasil and raw veth.
#
# Usage (repo root, as root): bench/compare.sh OUTDIR [CONFIG...]
#   CONFIG: wg myc wg3 myc3 ygg ygg3 raw raw3 (default: all, in this order)
#   STREAMS (default 1,4), REPS (default 3), SECS (default 10): harness -P -r -t.
#   Other configurations than ours and wireguard-go use -P 1.
# OUTDIR gets rows.md (table rows), raw.tsv (every run) and env.txt.
# Needs what ../shared/bench/run-baselines.sh needs, plus bin/mycelium
# (go build -o bin/mycelium ./cmd/mycelium). WIREGUARD_GO: the wireguard-go
# binary (default: wireguard-go or wireguard in PATH).
set -u
out=${1:?usage: bench/compare.sh OUTDIR [CONFIG...]}; shift
(($#)) || set -- wg myc wg3 myc3 ygg ygg3 raw raw3
cd "$(dirname "$0")/.." || exit 1
shared=${SHARED_BENCH:-}
for d in ../shared/bench ../../shared/bench; do [[ -z $shared && -x $d/overlay-throughput.sh ]] && shared=$d; done
[[ -n $shared ]] || { echo "shared bench scripts not found; set SHARED_BENCH" >&2; exit 1; }
mkdir -p "$out"
export BENCH_SCRATCH=${BENCH_SCRATCH:-$out/scratch}
mkdir -p "$BENCH_SCRATCH"
streams=${STREAMS:-1,4} reps=${REPS:-3} secs=${SECS:-10}
wg_go=${WIREGUARD_GO:-$(command -v wireguard-go || command -v wireguard)}
export WIREGUARD_GO=$wg_go
{
    echo "date: $(date -u +%FT%TZ)"
    echo "kernel: $(uname -r); cpus: $(nproc); cpu: $(lscpu | sed -n 's/^Model name: *//p')"
    echo "mycelium: $(git rev-parse --short HEAD) $(git status --porcelain | grep -q . && echo '(dirty)')"
    [[ -n $wg_go ]] && echo "wireguard-go: $(go version -m "$wg_go" 2>/dev/null | awk '$1=="mod"{print $3}')"
    dpkg-query -W -f='${Package} ${Version}\n' iperf3 yggdrasil 2>/dev/null
    echo "go: $(go version 2>/dev/null)"
} >"$out/env.txt"
cat "$out/env.txt"

run() { "$shared/overlay-throughput.sh" -R "$out/raw.tsv" -r "$reps" -t "$secs" "$@" | tee -a "$out/rows.md"; }
for c in "$@"; do
    case $c in
    wg) run -o "$shared/hooks/wireguard-go.sh" -P "$streams" -L wireguard-go ;;
    wg3) run -o "$shared/hooks/wireguard-go.sh" -P "$streams" -n 3 -L wireguard-go ;;
    myc) run -o bench/mycelium.sh -P "$streams" -L mycelium ;;
    myc3) run -o bench/mycelium.sh -P "$streams" -n 3 -L mycelium ;;
    ygg) run -o "$shared/hooks/yggdrasil.sh" -P 1 -L yggdrasil ;;
    ygg3) run -o "$shared/hooks/yggdrasil.sh" -P 1 -n 3 -L yggdrasil ;;
    raw) run -o raw -P 1 -L raw-veth ;;
    raw3) run -o raw -P 1 -n 3 -L raw-veth ;;
    *) echo "unknown config $c" >&2 ;;
    esac
done
