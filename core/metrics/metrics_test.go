package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape = %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestExporter(t *testing.T) {
	e := NewExporter()
	e.Add(func() []Sample {
		return []Sample{
			{Name: "mycelium_router_processed_tlvs", LabelName: "tlv_type", LabelValue: "hello", Help: "TLVs", Value: 3},
			{Name: "mycelium_router_processed_tlvs", LabelName: "tlv_type", LabelValue: "ihu", Help: "TLVs", Value: 4},
			{Name: "mycelium_node_route_table_size", Help: "Prefixes", Value: 7},
			// A duplicate and an inconsistent label are dropped, not fatal.
			{Name: "mycelium_router_processed_tlvs", LabelName: "tlv_type", LabelValue: "hello", Help: "TLVs", Value: 99},
			{Name: "mycelium_router_processed_tlvs", LabelName: "other", LabelValue: "x", Help: "TLVs", Value: 1},
		}
	})
	e.Add(PeerSource(func() []PeerTraffic {
		return []PeerTraffic{{Peer: "tcp://192.0.2.1:9651", TxBytes: 10, RxBytes: 20, TxPackets: 1, RxPackets: 2}}
	}))
	e.Add(PeerManagerSource(func() PeerManagerStats { return PeerManagerStats{AddedStatic: 2, KnownPeers: 5} }))
	out := scrape(t, e.Handler())
	for _, want := range []string{
		"# TYPE mycelium_router_processed_tlvs counter",
		`mycelium_router_processed_tlvs{tlv_type="hello"} 3`,
		`mycelium_router_processed_tlvs{tlv_type="ihu"} 4`,
		"# TYPE mycelium_node_route_table_size gauge",
		"mycelium_node_route_table_size 7",
		`mycelium_peer_tx_bytes{peer="tcp://192.0.2.1:9651"} 10`,
		`mycelium_peer_rx_packets{peer="tcp://192.0.2.1:9651"} 2`,
		`mycelium_peer_manager_peers_added{peer_type="static"} 2`,
		"# TYPE mycelium_peer_manager_known_peers gauge",
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// The duplicate hello sample (value 99) must not be exported. Match it
	// as a whole line: runtime metrics may contain "99" anywhere.
	if strings.Contains(out, `mycelium_router_processed_tlvs{tlv_type="hello"} 99`+"\n") || strings.Contains(out, `other="x"`) {
		t.Errorf("duplicate or inconsistent sample exported:\n%s", out)
	}
}

func TestServer(t *testing.T) {
	e := NewExporter()
	e.Add(func() []Sample { return []Sample{{Name: "mycelium_test_total", Help: "x", Value: 1}} })
	s, err := NewServer("127.0.0.1:0", e, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "mycelium_test_total 1") {
		t.Errorf("metrics = %s", b)
	}
	if _, err := NewServer("no-port", e, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("bad address accepted")
	}
}
