package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Info is GET /admin.
type Info struct {
	NodeSubnet    string `json:"nodeSubnet"`
	NodeIP        string `json:"nodeIp"`
	NodePubkey    string `json:"nodePubkey"`
	NodeStartTime int64  `json:"nodeStartTime"`
}

// PeerStats is one entry of GET /admin/peers, in the reference code's
// shape (spec §8.1; its document shows an older one).
type PeerStats struct {
	Endpoint        Endpoint `json:"endpoint"`
	Type            string   `json:"type"`            // static, inbound, linkLocalDiscovery
	ConnectionState string   `json:"connectionState"` // alive, connecting, dead
	TxBytes         uint64   `json:"txBytes"`
	RxBytes         uint64   `json:"rxBytes"`
	// Discovered is how many seconds ago the peer was learned.
	Discovered uint64 `json:"discovered"`
	// LastConnected is how many seconds ago the last connection came up;
	// nil if it never connected.
	LastConnected *uint64 `json:"lastConnected"`
}

// Endpoint is a peer's transport and address.
type Endpoint struct {
	Proto string       `json:"proto"` // tcp, quic, tls, vsock
	Addr  EndpointAddr `json:"addr"`
}

// EndpointAddr holds exactly one of a socket address or a vsock address.
type EndpointAddr struct {
	Socket string     `json:"socket,omitempty"` // "ip:port", "[ipv6]:port"
	Vsock  *VsockAddr `json:"vsock,omitempty"`
}

// VsockAddr is a vsock context id and port.
type VsockAddr struct {
	CID  uint32 `json:"cid"`
	Port uint32 `json:"port"`
}

// String is the endpoint's URI form, e.g. "tcp://1.2.3.4:9651".
func (e Endpoint) String() string {
	if e.Addr.Vsock != nil {
		return fmt.Sprintf("%s://%d:%d", e.Proto, e.Addr.Vsock.CID, e.Addr.Vsock.Port)
	}
	return e.Proto + "://" + e.Addr.Socket
}

// Metric is a route metric: a number, or "infinite" for 0xFFFF.
type Metric uint16

// MetricInfinite is an unreachable route's metric.
const MetricInfinite Metric = 0xFFFF

// MarshalJSON writes a number or "infinite".
func (m Metric) MarshalJSON() ([]byte, error) {
	if m == MetricInfinite {
		return []byte(`"infinite"`), nil
	}
	return strconv.AppendUint(nil, uint64(m), 10), nil
}

// UnmarshalJSON reads a number or "infinite".
func (m *Metric) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "infinite" {
			return fmt.Errorf("metric %q: want a number or \"infinite\"", s)
		}
		*m = MetricInfinite
		return nil
	}
	var n uint16
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	*m = Metric(n)
	return nil
}

func (m Metric) String() string {
	if m == MetricInfinite {
		return "infinite"
	}
	return strconv.Itoa(int(m))
}

// Route is one entry of GET /admin/routes/selected or /fallback.
type Route struct {
	Subnet  string `json:"subnet"`
	NextHop string `json:"nextHop"` // e.g. "TCP 1.2.3.4:5 <-> 6.7.8.9:9651"
	Metric  Metric `json:"metric"`  // the stored metric, without the link cost
	Seqno   uint16 `json:"seqno"`
}

// QueriedSubnet is one entry of GET /admin/routes/queried.
type QueriedSubnet struct {
	Subnet string `json:"subnet"`
	// Expiration is the seconds until the query expires, as a string.
	Expiration string `json:"expiration"`
}

// PacketStatEntry is the traffic routed for one address.
type PacketStatEntry struct {
	IP          string `json:"ip"`
	PacketCount uint64 `json:"packetCount"`
	ByteCount   uint64 `json:"byteCount"`
}

// PacketStatistics is GET /admin/stats/packets.
type PacketStatistics struct {
	BySource      []PacketStatEntry `json:"bySource"`
	ByDestination []PacketStatEntry `json:"byDestination"`
}

// PublicKeyResponse is GET /pubkey/{ip}.
type PublicKeyResponse struct {
	PublicKey string `json:"publicKey"`
}

// MessageDestination is {"ip": "..."} or {"pk": "<64 hex>"}.
type MessageDestination struct {
	IP netip.Addr
	PK *identity.PublicKey
}

// Addr is the overlay address the destination names.
func (d MessageDestination) Addr() netip.Addr {
	if d.PK != nil {
		return d.PK.Address()
	}
	return d.IP
}

// MarshalJSON writes the one field that is set.
func (d MessageDestination) MarshalJSON() ([]byte, error) {
	if d.PK != nil {
		return json.Marshal(struct {
			PK string `json:"pk"`
		}{d.PK.String()})
	}
	return json.Marshal(struct {
		IP string `json:"ip"`
	}{d.IP.String()})
}

// UnmarshalJSON reads exactly one of ip or pk.
func (d *MessageDestination) UnmarshalJSON(b []byte) error {
	var raw struct {
		IP *string `json:"ip"`
		PK *string `json:"pk"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	switch {
	case raw.IP != nil && raw.PK != nil:
		return errors.New("destination has both ip and pk; give one")
	case raw.IP != nil:
		a, err := netip.ParseAddr(*raw.IP)
		if err != nil {
			return fmt.Errorf("destination ip %q is not an IP address", *raw.IP)
		}
		*d = MessageDestination{IP: a}
	case raw.PK != nil:
		pk, err := identity.ParsePublicKey(*raw.PK)
		if err != nil {
			return fmt.Errorf("destination pk %q is not a 64-digit hex public key", *raw.PK)
		}
		*d = MessageDestination{PK: &pk}
	default:
		return errors.New("destination needs ip or pk")
	}
	return nil
}

// PushMessageBody is the body of POST /messages and /messages/reply/{id}.
// Topic and payload are standard base64 with padding.
type PushMessageBody struct {
	Dst     MessageDestination `json:"dst"`
	Topic   []byte             `json:"topic,omitempty"`
	Payload []byte             `json:"payload"`
}

// PushMessageResponseID is the answer to a push that does not return a
// reply.
type PushMessageResponseID struct {
	ID string `json:"id"`
}

// InboundMessage is a received message.
type InboundMessage struct {
	ID      string `json:"id"`
	SrcIP   string `json:"srcIp"`
	SrcPK   string `json:"srcPk"`
	DstIP   string `json:"dstIp"`
	DstPK   string `json:"dstPk"`
	Topic   []byte `json:"topic,omitempty"`
	Payload []byte `json:"payload"`
}

func inboundMessage(m *message.Message) InboundMessage {
	return InboundMessage{
		ID: m.ID.String(), SrcIP: m.SrcIP.String(), SrcPK: m.SrcPK.String(),
		DstIP: m.DstIP.String(), DstPK: m.DstPK.String(),
		Topic: m.Topic, Payload: m.Payload,
	}
}

// MessageInfo is GET /messages/status/{id}.
type MessageInfo struct {
	Dst      string            `json:"dst"`
	State    TransmissionState `json:"state"`
	Created  int64             `json:"created"`
	Deadline int64             `json:"deadline"`
	MsgLen   int               `json:"msgLen"`
}

// TransmissionState is "pending", "received", "read", "aborted", or
// {"sending": {...}}.
type TransmissionState struct {
	State   string // one of message.State
	Sending *Sending
}

// Sending is the chunk progress of a message being sent.
type Sending struct {
	Pending int `json:"pending"`
	Sent    int `json:"sent"`
	Acked   int `json:"acked"`
}

// MarshalJSON writes the reference's form.
func (s TransmissionState) MarshalJSON() ([]byte, error) {
	if s.State == string(message.StateSending) {
		sending := Sending{}
		if s.Sending != nil {
			sending = *s.Sending
		}
		return json.Marshal(map[string]Sending{"sending": sending})
	}
	return json.Marshal(s.State)
}

// UnmarshalJSON reads the reference's form.
func (s *TransmissionState) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		*s = TransmissionState{State: str}
		return nil
	}
	var obj struct {
		Sending *Sending `json:"sending"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Sending == nil {
		return fmt.Errorf("transmission state %s: want a string or {\"sending\": ...}", b)
	}
	*s = TransmissionState{State: string(message.StateSending), Sending: obj.Sending}
	return nil
}

func messageInfo(s message.Status) MessageInfo {
	st := TransmissionState{State: string(s.State)}
	if s.State == message.StateSending {
		st.Sending = &Sending{Pending: s.Pending, Sent: s.Sent, Acked: s.Acked}
	}
	return MessageInfo{
		Dst: s.Dst.String(), State: st,
		Created: s.Created.Unix(), Deadline: s.Deadline.Unix(), MsgLen: s.Len,
	}
}

// DefaultTopicAction is GET and PUT /messages/topics/default.
type DefaultTopicAction struct {
	Accept bool `json:"accept"`
}

// TopicSourceRequest is POST /messages/topics/{topic}/sources.
type TopicSourceRequest struct {
	Subnet string `json:"subnet"`
}

// TopicForwardSocketRequest is PUT /messages/topics/{topic}/forward.
type TopicForwardSocketRequest struct {
	SocketPath string `json:"socketPath"`
}

// ConnectProxyRequest is POST /admin/proxy.
type ConnectProxyRequest struct {
	Remote *string `json:"remote"`
}

// TopicBytes is a topic sent as a JSON array of byte values, as the
// reference's POST /messages/topics takes it.
type TopicBytes []byte

// MarshalJSON writes an array of numbers.
func (t TopicBytes) MarshalJSON() ([]byte, error) {
	nums := make([]int, len(t))
	for i, b := range t {
		nums[i] = int(b)
	}
	return json.Marshal(nums)
}

// UnmarshalJSON reads an array of numbers 0..255.
func (t *TopicBytes) UnmarshalJSON(b []byte) error {
	var nums []int
	if err := json.Unmarshal(b, &nums); err != nil {
		return errors.New("topic: want a JSON array of byte values, e.g. [116,101,115,116]")
	}
	out := make([]byte, len(nums))
	for i, n := range nums {
		if n < 0 || n > 255 {
			return fmt.Errorf("topic: %d is not a byte value", n)
		}
		out[i] = byte(n)
	}
	*t = out
	return nil
}

// parseMessageID parses 16 hex digits.
func parseMessageID(s string) (wire.MessageID, error) { return wire.ParseMessageID(s) }
