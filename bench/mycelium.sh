# Hooks for ../shared/bench/overlay-throughput.sh: our node (mycelium-go) on a
# kernel TUN with offloads. Node I peers with node I-1 over tcp:// on the veth
# (or quic:// with MYC_TRANSPORT=quic); discovery is off, so the only links are
# the configured ones. Traffic goes to node N's overlay address; in a 3-node
# line the middle node only forwards (end-to-end encryption).
#
# Usage (from the repo root, as root):
#   make build
#   ../shared/bench/overlay-throughput.sh -o bench/mycelium.sh -L mycelium
#   ../shared/bench/overlay-throughput.sh -o bench/mycelium.sh -n 3 -L mycelium
# MYCELIUM: the binary (default: bin/mycelium next to this file).
MYC=${MYCELIUM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin/mycelium}
MYC_TRANSPORT=${MYC_TRANSPORT:-tcp}

ov_prepare() {
    local i
    for ((i = 1; i <= OV_N; i++)); do
        ov_env "$i"
        "$MYC" --key-file "$OV_DIR/key.bin" generate-keys >/dev/null || return 1
    done
}

ov_start() {
    local peers=()
    [[ -n $OV_PEER6 ]] && peers=(--peers "$MYC_TRANSPORT://[$OV_PEER6]:$OV_PORT")
    exec ip netns exec "$OV_NS" "$MYC" --key-file "$OV_DIR/key.bin" \
        --tcp-listen-port "$OV_PORT" --quic-listen-port "$OV_PORT" \
        --disable-peer-discovery --tun-name myc0 --device tun \
        --api-addr 127.0.0.1:8989 --jsonrpc-addr 127.0.0.1:8990 \
        --data-dir "$OV_DIR/data" "${peers[@]}"
}

ov_addr() {
    "$MYC" --key-file "$OV_DIR/key.bin" inspect --json | jq -r .address
}
