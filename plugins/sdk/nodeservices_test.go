//go:build unix

package sdk

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

func TestNodeServicesProtoRoundTrip(t *testing.T) {
	want := testConfig().Node.Services
	got, err := nodeServicesFromProto(nodeServicesToProto(want))
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, want)
	}
	if got, err := nodeServicesFromProto(nil); err != nil || got != nil {
		t.Errorf("no services = %+v, %v; want nil", got, err)
	}
}

func TestNodeServicesFromProtoRejects(t *testing.T) {
	tests := []struct {
		name string
		m    *pb.NodeService
		want string
	}{
		{"no name", &pb.NodeService{Plugin: "dav"}, "without a name"},
		{"short overlay address", &pb.NodeService{Name: "davs", Overlay: &pb.AddrPort{Addr: []byte{1, 2, 3}, Port: 1}}, "overlay address"},
		{"loopback port", &pb.NodeService{Name: "davs", Loopback: &pb.AddrPort{Addr: []byte{127, 0, 0, 1}, Port: 70000}}, "loopback address"},
	}
	for _, tt := range tests {
		_, err := nodeServicesFromProto([]*pb.NodeService{tt.m})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	// In a Configure request the error names the node.
	req := configToProto(testConfig())
	req.Node.Services[0].Overlay.Addr = []byte{1}
	if _, err := configFromProto(req); err == nil || !strings.Contains(err.Error(), "node service davs overlay address") {
		t.Errorf("configure with a bad node service = %v", err)
	}
}

func TestNodeServicesOf(t *testing.T) {
	ctx := context.Background()
	if _, err := NodeServicesOf(ctx, plainHostServer{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("host without the method = %v, want ErrUnsupported", err)
	}
	svcs, err := NodeServicesOf(ctx, &fakeHostServer{})
	if err != nil || len(svcs) != 3 {
		t.Fatalf("NodeServicesOf = %+v, %v", svcs, err)
	}
	if s, ok := FindService(svcs, "davs"); !ok || s.Plugin != "dav" || s.Overlay != netip.MustParseAddrPort("[5ff:1::1]:5233") {
		t.Errorf("FindService(davs) = %+v, %v", s, ok)
	}
	if _, ok := FindService(svcs, "nope"); ok {
		t.Error("FindService found a service that is not there")
	}
}

func TestSortNodeServices(t *testing.T) {
	svcs := []NodeService{{Plugin: "mail", Name: "imaps"}, {Plugin: "dav", Name: "davs"}, {Plugin: "dav", Name: "dav"}, {Plugin: "mail", Name: "imap"}}
	SortNodeServices(svcs)
	var got []string
	for _, s := range svcs {
		got = append(got, s.Plugin+"/"+s.Name)
	}
	if want := []string{"dav/dav", "dav/davs", "mail/imap", "mail/imaps"}; !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
}

// FuzzNodeServicesFromProto: whatever the host sends as node services
// decodes to an error or to services that encode back to the same list.
func FuzzNodeServicesFromProto(f *testing.F) {
	seeds := []*pb.NodeServicesResponse{
		{Services: nodeServicesToProto(testConfig().Node.Services)},
		{Services: []*pb.NodeService{{Plugin: "dav"}}},
		{Services: []*pb.NodeService{{Name: "davs", Overlay: &pb.AddrPort{Addr: []byte{1, 2, 3}, Port: 1}}}},
		{Services: []*pb.NodeService{{Name: "davs", Loopback: &pb.AddrPort{Addr: []byte{127, 0, 0, 1}, Port: 70000}}}},
		{},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.NodeServicesResponse
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		svcs, err := nodeServicesFromProto(m.GetServices())
		if err != nil {
			return
		}
		again, err := nodeServicesFromProto(nodeServicesToProto(svcs))
		if err != nil || !slices.Equal(again, svcs) {
			t.Fatalf("re-encoding %+v gave %+v, %v", svcs, again, err)
		}
	})
}
