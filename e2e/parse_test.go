package e2e

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The parsers of the tools' output run everywhere (no root needed), so a
// change in a tool's format shows up here rather than as a silent zero.

const pingOutput = `PING 501:575a::4a48(501:575a::4a48) 56 data bytes
[1700000000.100000] 64 bytes from 501:575a::4a48: icmp_seq=1 ttl=62 time=2.58 ms
[1700000000.110000] 64 bytes from 501:575a::4a48: icmp_seq=2 ttl=62 time=0.512 ms
[1700000001.710000] 64 bytes from 501:575a::4a48: icmp_seq=170 ttl=61 time=0.570 ms
[1700000001.720000] From 578:77b0::7e09 icmp_seq=171 Destination unreachable: No route

--- 501:575a::4a48 ping statistics ---
171 packets transmitted, 3 received, +1 errors, 98.2456% packet loss, time 1620ms
rtt min/avg/max/mdev = 0.512/1.220/2.578/0.960 ms
`

func TestParsePing(t *testing.T) {
	got, err := parsePing(pingOutput)
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec, usec int64) time.Time { return time.Unix(sec, usec*1000) }
	want := pingResult{
		Sent: 171, Received: 3,
		Min: 512 * time.Microsecond, Avg: 1220 * time.Microsecond, Max: 2578 * time.Microsecond,
		Replies: []pingReply{
			{At: at(1700000000, 100000), Seq: 1, TTL: 62, RTT: 2580 * time.Microsecond},
			{At: at(1700000000, 110000), Seq: 2, TTL: 62, RTT: 512 * time.Microsecond},
			{At: at(1700000001, 710000), Seq: 170, TTL: 61, RTT: 570 * time.Microsecond},
		},
		Errors: []pingError{{From: "578:77b0::7e09", Text: "Destination unreachable: No route"}},
	}
	approx := cmp.Comparer(func(a, b time.Time) bool { return a.Sub(b).Abs() < time.Microsecond })
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("parsePing() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{62, 61}, got.TTLs()); diff != "" {
		t.Errorf("TTLs() mismatch (-want +got):\n%s", diff)
	}
	gap, ended := longestGap(got.Replies)
	if gap.Round(time.Millisecond) != 1600*time.Millisecond || !ended.Equal(got.Replies[2].At) {
		t.Errorf("longestGap() = %v ending %v, want 1.6s ending at the third reply", gap, ended)
	}
}

func TestParsePingWithoutStatistics(t *testing.T) {
	if _, err := parsePing("PING x(x) 56 data bytes\n"); err == nil {
		t.Error("parsePing(output cut short) = nil error, want one")
	}
}

const iperfOutput = `{
	"start": {},
	"intervals": [
		{"streams": [], "sum": {"start": 0, "end": 0.5, "bits_per_second": 1.5e9}},
		{"streams": [], "sum": {"start": 0.5, "end": 1.0, "bits_per_second": 0}}
	],
	"end": {
		"sum_sent": {"bytes": 1000, "bits_per_second": 1.21e9, "retransmits": 12},
		"sum_received": {"bytes": 990, "bits_per_second": 1.2e9}
	}
}`

func TestParseIperf(t *testing.T) {
	got, err := parseIperf([]byte(iperfOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := iperfResult{SentBps: 1.21e9, ReceivedBps: 1.2e9, Retransmits: 12, Intervals: []float64{1.5e9, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseIperf() mismatch (-want +got):\n%s", diff)
	}
	if _, err := parseIperf([]byte(`{"error": "unable to connect to server: Connection refused"}`)); err == nil {
		t.Error("parseIperf(error report) = nil error, want one")
	}
}

func TestParseIfStats(t *testing.T) {
	out := `[{"ifindex":2,"ifname":"myc0","mtu":1400,"stats64":{"rx":{"bytes":1000,"packets":10,"errors":0},"tx":{"bytes":2000,"packets":20,"errors":0}}}]`
	got, err := parseIfStats([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ifStats{RxPackets: 10, TxPackets: 20, RxBytes: 1000, TxBytes: 2000}); got != want {
		t.Errorf("parseIfStats() = %+v, want %+v", got, want)
	}
	if _, err := parseIfStats([]byte(`[]`)); err == nil {
		t.Error("parseIfStats(no link) = nil error, want one")
	}
}
