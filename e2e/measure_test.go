package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pingReply is one echo reply line of `ping -D`.
type pingReply struct {
	At  time.Time // when it arrived (the -D timestamp)
	Seq int
	TTL int
	RTT time.Duration
}

// pingResult is the parsed output of one ping run.
type pingResult struct {
	Sent, Received int
	Min, Avg, Max  time.Duration
	Replies        []pingReply
	Errors         []pingError
}

// pingError is a "From X icmp_seq=N <text>" line: an ICMPv6 error.
type pingError struct {
	From string
	Text string
}

var (
	pingReplyRE = regexp.MustCompile(`^(?:\[(\d+\.\d+)\] )?\d+ bytes from \S+: icmp_seq=(\d+) ttl=(\d+) time=([\d.]+) ms`)
	pingErrorRE = regexp.MustCompile(`^(?:\[\d+\.\d+\] )?From (\S+) icmp_seq=\d+ (.+)$`)
	pingCountRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
	pingRTTRE   = regexp.MustCompile(`rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/[\d.]+ ms`)
)

// parsePing parses iputils ping output (with or without -D).
func parsePing(out string) (pingResult, error) {
	var r pingResult
	counted := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if m := pingReplyRE.FindStringSubmatch(line); m != nil {
			rep := pingReply{}
			if m[1] != "" {
				f, _ := strconv.ParseFloat(m[1], 64)
				rep.At = time.Unix(0, int64(f*1e9))
			}
			rep.Seq, _ = strconv.Atoi(m[2])
			rep.TTL, _ = strconv.Atoi(m[3])
			rep.RTT = millis(m[4])
			r.Replies = append(r.Replies, rep)
		} else if m := pingErrorRE.FindStringSubmatch(line); m != nil {
			r.Errors = append(r.Errors, pingError{From: m[1], Text: m[2]})
		} else if m := pingCountRE.FindStringSubmatch(line); m != nil {
			r.Sent, _ = strconv.Atoi(m[1])
			r.Received, _ = strconv.Atoi(m[2])
			counted = true
		} else if m := pingRTTRE.FindStringSubmatch(line); m != nil {
			r.Min, r.Avg, r.Max = millis(m[1]), millis(m[2]), millis(m[3])
		}
	}
	if !counted {
		return r, errors.New("no ping statistics in the output")
	}
	return r, nil
}

func millis(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Millisecond))
}

// TTLs returns the distinct TTLs of the replies, in order of appearance.
func (r pingResult) TTLs() []int {
	var out []int
	for _, rep := range r.Replies {
		if len(out) == 0 || out[len(out)-1] != rep.TTL {
			out = append(out, rep.TTL)
		}
	}
	return out
}

// longestGap is the longest time between two consecutive replies (by
// their -D timestamps), and the arrival of the reply that ended it.
func longestGap(replies []pingReply) (gap time.Duration, endedAt time.Time) {
	for i := 1; i < len(replies); i++ {
		if d := replies[i].At.Sub(replies[i-1].At); d > gap {
			gap, endedAt = d, replies[i].At
		}
	}
	return gap, endedAt
}

func (r pingResult) String() string {
	return fmt.Sprintf("%d/%d replies, rtt min/avg/max %v/%v/%v", r.Received, r.Sent, r.Min, r.Avg, r.Max)
}

// ping runs `ping -6 -n -D -W 2 <args> dst` in the namespace and parses
// the output (a -W in args wins); a ping that exits non-zero (lost
// replies) is not an error here, callers check the counts.
func (n *netns) ping(t testing.TB, timeout time.Duration, dst netip.Addr, args ...string) (pingResult, string) {
	t.Helper()
	cmd := append([]string{"ping", "-6", "-n", "-D", "-W", "2"}, args...)
	out, _ := n.try(timeout, append(cmd, dst.String())...)
	r, err := parsePing(out)
	if err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(cmd, " "), n.short, err, out)
	}
	return r, out
}

// iperfResult is what the suite takes from iperf3's JSON report.
type iperfResult struct {
	SentBps, ReceivedBps float64
	Retransmits          int
	Intervals            []float64 // bits per second of each interval
}

// parseIperf decodes `iperf3 -J` output of a TCP client.
func parseIperf(b []byte) (iperfResult, error) {
	var v struct {
		Error     string `json:"error"`
		Intervals []struct {
			Sum struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum"`
		} `json:"intervals"`
		End struct {
			SumSent struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Retransmits   int     `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return iperfResult{}, fmt.Errorf("iperf3 json: %w", err)
	}
	if v.Error != "" {
		return iperfResult{}, fmt.Errorf("iperf3: %s", v.Error)
	}
	r := iperfResult{
		SentBps:     v.End.SumSent.BitsPerSecond,
		ReceivedBps: v.End.SumReceived.BitsPerSecond,
		Retransmits: v.End.SumSent.Retransmits,
	}
	for _, iv := range v.Intervals {
		r.Intervals = append(r.Intervals, iv.Sum.BitsPerSecond)
	}
	return r, nil
}

func gbps(bps float64) string { return fmt.Sprintf("%.3f Gbit/s", bps/1e9) }

// iperfPort is iperf3's default port.
const iperfPort = 5201

// startIperfServer starts a one-test iperf3 server on the node's overlay
// address and waits until it listens.
func (l *lab) startIperfServer(t testing.TB, server *node) *proc {
	t.Helper()
	srv := l.start(server.ns, fmt.Sprintf("iperf3-server%s-%d", server.ns.short, len(l.procs)),
		"iperf3", "-s", "-1", "-B", server.addr.String(), "-p", strconv.Itoa(iperfPort))
	server.ns.waitListening(t, iperfPort, srv)
	return srv
}

// waitListening waits until a TCP socket listens on port in the
// namespace; it fails t if p (the process that should listen) ends or
// 10 s pass.
func (n *netns) waitListening(t testing.TB, port int, p *proc) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		out, err := n.try(5*time.Second, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
		if err == nil && strings.TrimSpace(out) != "" {
			return
		}
		if p.exited() {
			t.Fatalf("%s ended before listening on port %d (%v):\n%s", p.name, port, p.err, p.output())
		}
	}
	t.Fatalf("nothing listens on port %d in %s after 10 s; %s:\n%s", port, n.short, p.name, p.output())
}

// iperf measures TCP throughput from client to server's overlay address
// for secs seconds and returns iperf3's report. The server runs for one
// test (-1) in server's namespace.
func (l *lab) iperf(t testing.TB, client, server *node, secs int, extra ...string) iperfResult {
	t.Helper()
	srv := l.startIperfServer(t, server)
	args := append([]string{"iperf3", "-c", server.addr.String(), "-p", strconv.Itoa(iperfPort),
		"-t", strconv.Itoa(secs), "-J"}, extra...)
	out, err := client.ns.try(time.Duration(secs+30)*time.Second, args...)
	r, perr := parseIperf([]byte(out))
	if err != nil || perr != nil {
		t.Fatalf("iperf3 client: %v, report: %v\n%s\nserver (exited: %v, %v):\n%s",
			err, perr, out, srv.exited(), srv.err, srv.output())
	}
	srv.wait(5 * time.Second)
	return r
}
