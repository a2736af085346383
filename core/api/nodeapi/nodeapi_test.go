package nodeapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
	"github.com/mycelium-go/mycelium/core/api/nodeapi"
	"github.com/mycelium-go/mycelium/core/message"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAdapter(t *testing.T) {
	a, b := apitest.StartLiveNode(t), apitest.StartLiveNode(t)
	ad := nodeapi.New(a.Ctx, a.Node, a.Links, time.Unix(1700000000, 0))
	bEP := "tcp://" + b.Links.TCPAddr().String()
	if err := ad.AddPeer(bEP); err != nil {
		t.Fatal(err)
	}
	err := ad.AddPeer(bEP)
	if !errors.Is(err, api.ErrPeerExists) || err.Error() != "peer "+bEP+" already exists" {
		t.Errorf("AddPeer twice = %v", err)
	}
	for _, bad := range []string{"udp://1.2.3.4:1", "tcp://host:1", "tls://1.2.3.4:9651"} {
		err := ad.AddPeer(bad)
		if !errors.Is(err, api.ErrBadEndpoint) || strings.Contains(err.Error(), "link:") {
			t.Errorf("AddPeer(%q) = %v", bad, err)
		}
	}
	// Traffic, so routes and keys are learned.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a.Bus.Push(message.Outgoing{Dst: b.Node.Address(), Payload: []byte("x")})
	if _, ok := b.Bus.Pop(ctx, nil, false, false); !ok {
		t.Fatal("no message")
	}

	info := ad.Info()
	if info.NodeIP != a.Node.Address().String() || info.NodeSubnet != a.Node.Subnet().String() || info.NodeStartTime != 1700000000 {
		t.Errorf("Info = %+v", info)
	}
	peers := ad.Peers()
	if len(peers) != 1 || peers[0].Endpoint.String() != bEP || peers[0].ConnectionState != "alive" || peers[0].Type != "static" || peers[0].LastConnected == nil {
		t.Errorf("Peers = %+v", peers)
	}
	routes, err := ad.SelectedRoutes(ctx)
	found := false
	for _, r := range routes {
		found = found || r.Subnet == b.Node.Subnet().String()
	}
	if err != nil || !found {
		t.Errorf("SelectedRoutes = %+v, %v; want %s", routes, err, b.Node.Subnet())
	}
	if _, err := ad.FallbackRoutes(ctx); err != nil {
		t.Error(err)
	}
	if _, err := ad.QueriedSubnets(ctx); err != nil {
		t.Error(err)
	}
	if pk, ok := ad.PublicKeyOf(b.Node.Address()); !ok || pk != b.Key.Public() {
		t.Errorf("PublicKeyOf = %v, %v", pk, ok)
	}
	if st := ad.PacketStatistics(); len(st.ByDestination) == 0 {
		t.Errorf("PacketStatistics = %+v", st)
	}
	var names []string
	for _, s := range append(ad.NodeSamples(), ad.PeerSamples()...) {
		names = append(names, s.Name+"{"+s.LabelValue+"}")
	}
	joined := strings.Join(names, " ")
	for _, want := range []string{"mycelium_router_processed_tlvs{hello}", "mycelium_node_route_table_size{}", "mycelium_peer_tx_packets{" + bEP + "}"} {
		if !strings.Contains(joined, want) {
			t.Errorf("samples lack %s", want)
		}
	}

	if err := ad.RemovePeer(bEP); err != nil {
		t.Fatal(err)
	}
	if err := ad.RemovePeer(bEP); !errors.Is(err, api.ErrPeerNotFound) || err.Error() != "peer "+bEP+" is not known" {
		t.Errorf("RemovePeer twice = %v", err)
	}
}
