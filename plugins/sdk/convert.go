package sdk

import (
	"fmt"
	"net/netip"
	"time"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// Conversions between the contract's Go types and their protobuf forms.
// Decoders validate lengths: the other side is a separate program.

func addrBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func addrFromBytes(b []byte) (netip.Addr, error) {
	if len(b) == 0 {
		return netip.Addr{}, nil
	}
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("address of %d bytes, want 4 or 16", len(b))
	}
	return a, nil
}

func addrPortToProto(ap netip.AddrPort) *pb.AddrPort {
	if !ap.IsValid() {
		return nil
	}
	return &pb.AddrPort{Addr: addrBytes(ap.Addr()), Port: uint32(ap.Port())}
}

func addrPortFromProto(m *pb.AddrPort) (netip.AddrPort, error) {
	if m == nil || len(m.GetAddr()) == 0 {
		return netip.AddrPort{}, nil
	}
	a, err := addrFromBytes(m.GetAddr())
	if err != nil {
		return netip.AddrPort{}, err
	}
	if m.GetPort() > 0xFFFF {
		return netip.AddrPort{}, fmt.Errorf("port %d out of range", m.GetPort())
	}
	return netip.AddrPortFrom(a, uint16(m.GetPort())), nil
}

func keyFromBytes(b []byte) (PublicKey, error) {
	var k PublicKey
	if len(b) == 0 {
		return k, nil
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("public key of %d bytes, want %d", len(b), len(k))
	}
	return PublicKey(b), nil
}

func port16(v uint32, what string) (uint16, error) {
	if v > 0xFFFF {
		return 0, fmt.Errorf("%s %d out of range", what, v)
	}
	return uint16(v), nil
}

func descriptionToProto(d Description) *pb.DescribeResponse {
	m := &pb.DescribeResponse{Name: d.Name, Version: d.Version}
	for _, s := range d.Services {
		m.Services = append(m.Services, &pb.ServiceSpec{
			Name: s.Name, Protocol: s.Protocol, Port: uint32(s.Port),
			LoopbackPort: uint32(s.LoopbackPort), Tls: string(s.TLS),
		})
	}
	return m
}

func descriptionFromProto(m *pb.DescribeResponse) (Description, error) {
	d := Description{Name: m.GetName(), Version: m.GetVersion()}
	for _, s := range m.GetServices() {
		port, err := port16(s.GetPort(), "port")
		if err != nil {
			return Description{}, err
		}
		loop, err := port16(s.GetLoopbackPort(), "loopback port")
		if err != nil {
			return Description{}, err
		}
		d.Services = append(d.Services, ServiceSpec{
			Name: s.GetName(), Protocol: s.GetProtocol(), Port: port,
			LoopbackPort: loop, TLS: TLSMode(s.GetTls()),
		})
	}
	return d, d.Validate()
}

func configToProto(c Config) *pb.ConfigureRequest {
	m := &pb.ConfigureRequest{
		SettingsJson: c.Settings,
		DataDir:      c.DataDir,
		Node: &pb.NodeInfo{
			PublicKey:  c.Node.PublicKey[:],
			Address:    addrBytes(c.Node.Address),
			SubnetAddr: addrBytes(c.Node.Subnet.Addr()),
			SubnetBits: uint32(max(c.Node.Subnet.Bits(), 0)),
			Names:      c.Node.Names,
			Services:   nodeServicesToProto(c.Node.Services),
		},
		Services: map[string]*pb.ServiceBinding{},
	}
	if c.Node.PublicKey.IsZero() {
		m.Node.PublicKey = nil
	}
	if c.TLS != nil {
		m.Tls = &pb.TLSMaterial{CertPem: c.TLS.CertPEM, KeyPem: c.TLS.KeyPEM, CaPem: c.TLS.CAPEM}
	}
	for name, b := range c.Services {
		m.Services[name] = &pb.ServiceBinding{Overlay: addrPortToProto(b.Overlay), Loopback: addrPortToProto(b.Loopback)}
	}
	return m
}

func configFromProto(m *pb.ConfigureRequest) (Config, error) {
	c := Config{Settings: m.GetSettingsJson(), DataDir: m.GetDataDir()}
	n := m.GetNode()
	var err error
	if c.Node.PublicKey, err = keyFromBytes(n.GetPublicKey()); err != nil {
		return Config{}, fmt.Errorf("node key: %w", err)
	}
	if c.Node.Address, err = addrFromBytes(n.GetAddress()); err != nil {
		return Config{}, fmt.Errorf("node address: %w", err)
	}
	if len(n.GetSubnetAddr()) > 0 {
		a, err := addrFromBytes(n.GetSubnetAddr())
		if err != nil {
			return Config{}, fmt.Errorf("node subnet: %w", err)
		}
		if int(n.GetSubnetBits()) > a.BitLen() {
			return Config{}, fmt.Errorf("node subnet: /%d on a %d-bit address", n.GetSubnetBits(), a.BitLen())
		}
		c.Node.Subnet = netip.PrefixFrom(a, int(n.GetSubnetBits()))
	}
	c.Node.Names = n.GetNames()
	if c.Node.Services, err = nodeServicesFromProto(n.GetServices()); err != nil {
		return Config{}, fmt.Errorf("node %w", err)
	}
	if t := m.GetTls(); t != nil {
		c.TLS = &TLSMaterial{CertPEM: t.GetCertPem(), KeyPEM: t.GetKeyPem(), CAPEM: t.GetCaPem()}
	}
	if len(m.GetServices()) > 0 {
		c.Services = make(map[string]ServiceBinding, len(m.GetServices()))
	}
	for name, b := range m.GetServices() {
		var sb ServiceBinding
		if sb.Overlay, err = addrPortFromProto(b.GetOverlay()); err != nil {
			return Config{}, fmt.Errorf("service %s overlay binding: %w", name, err)
		}
		if sb.Loopback, err = addrPortFromProto(b.GetLoopback()); err != nil {
			return Config{}, fmt.Errorf("service %s loopback binding: %w", name, err)
		}
		c.Services[name] = sb
	}
	return c, nil
}

func nodeServicesToProto(services []NodeService) []*pb.NodeService {
	var out []*pb.NodeService
	for _, s := range services {
		out = append(out, &pb.NodeService{
			Plugin: s.Plugin, Name: s.Name, Protocol: s.Protocol, Tls: string(s.TLS),
			Overlay: addrPortToProto(s.Overlay), Loopback: addrPortToProto(s.Loopback),
		})
	}
	return out
}

// nodeServicesFromProto decodes node services. The TLS mode is kept as
// sent: a later host may know modes this SDK does not.
func nodeServicesFromProto(ms []*pb.NodeService) ([]NodeService, error) {
	var out []NodeService
	for _, m := range ms {
		s := NodeService{Plugin: m.GetPlugin(), Name: m.GetName(), Protocol: m.GetProtocol(), TLS: TLSMode(m.GetTls())}
		if s.Name == "" {
			return nil, fmt.Errorf("service of plugin %q without a name", s.Plugin)
		}
		var err error
		if s.Overlay, err = addrPortFromProto(m.GetOverlay()); err != nil {
			return nil, fmt.Errorf("service %s overlay address: %w", s.Name, err)
		}
		if s.Loopback, err = addrPortFromProto(m.GetLoopback()); err != nil {
			return nil, fmt.Errorf("service %s loopback address: %w", s.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func healthToProto(h Health) *pb.HealthResponse {
	m := &pb.HealthResponse{Configured: h.Configured, Error: h.Err}
	for _, s := range h.Services {
		m.Services = append(m.Services, &pb.ServiceHealth{Name: s.Name, Serving: s.Serving, Error: s.Err})
	}
	return m
}

func healthFromProto(m *pb.HealthResponse) Health {
	h := Health{Configured: m.GetConfigured(), Err: m.GetError()}
	for _, s := range m.GetServices() {
		h.Services = append(h.Services, ServiceHealth{Name: s.GetName(), Serving: s.GetServing(), Err: s.GetError()})
	}
	return h
}

func outboundToProto(o OutboundMessage) *pb.SendMessageRequest {
	m := &pb.SendMessageRequest{Dst: o.Dst[:], Topic: o.Topic, Payload: o.Payload, ReplyTo: o.ReplyTo}
	if !o.Deadline.IsZero() {
		m.DeadlineUnixNano = o.Deadline.UnixNano()
	}
	return m
}

func outboundFromProto(m *pb.SendMessageRequest) (OutboundMessage, error) {
	dst, err := keyFromBytes(m.GetDst())
	if err != nil {
		return OutboundMessage{}, fmt.Errorf("destination: %w", err)
	}
	if dst.IsZero() {
		return OutboundMessage{}, fmt.Errorf("destination: no key")
	}
	o := OutboundMessage{Dst: dst, Topic: m.GetTopic(), Payload: m.GetPayload(), ReplyTo: m.GetReplyTo()}
	if ns := m.GetDeadlineUnixNano(); ns != 0 {
		o.Deadline = time.Unix(0, ns)
	}
	return o, nil
}

func inboundToProto(in InboundMessage) *pb.ReceiveMessageResponse {
	return &pb.ReceiveMessageResponse{
		Id: in.ID, Src: in.Src[:], SrcAddr: addrBytes(in.SrcAddr), Topic: in.Topic, Payload: in.Payload,
	}
}

func inboundFromProto(m *pb.ReceiveMessageResponse) (InboundMessage, error) {
	src, err := keyFromBytes(m.GetSrc())
	if err != nil {
		return InboundMessage{}, fmt.Errorf("source: %w", err)
	}
	addr, err := addrFromBytes(m.GetSrcAddr())
	if err != nil {
		return InboundMessage{}, fmt.Errorf("source address: %w", err)
	}
	return InboundMessage{ID: m.GetId(), Src: src, SrcAddr: addr, Topic: m.GetTopic(), Payload: m.GetPayload()}, nil
}
