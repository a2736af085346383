package message

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTopicConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TopicConfig
	}{
		{"empty", "", TopicConfig{DefaultAccept: true, Rules: map[string]TopicRule{}}},
		{"reference example", `
default = "Reject"

["example.topic"]
subnets = ["400::/7", "5f1:1234::1"]
forward_socket = "/run/example.sock"

[other]
`, TopicConfig{DefaultAccept: false, Rules: map[string]TopicRule{
			"example.topic": {
				Sources:       []netip.Prefix{netip.MustParsePrefix("400::/7"), netip.MustParsePrefix("5f1:1234::1/128")},
				ForwardSocket: "/run/example.sock",
			},
			"other": {},
		}}},
		{"old format", `chat = ["10.0.0.1", "400::1/64"]`, TopicConfig{DefaultAccept: true, Rules: map[string]TopicRule{
			"chat": {Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("400::/64")}},
		}}},
		{"accept", `default = "Accept"`, TopicConfig{DefaultAccept: true, Rules: map[string]TopicRule{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTopicConfig([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("ParseTopicConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTopicConfigErrors(t *testing.T) {
	for _, in := range []string{
		`default = "accept"`,
		`default = 1`,
		`[t]
subnets = ["not an ip"]`,
		`[t]
subnets = "400::/7"`,
		`[t]
forward_socket = 3`,
		`[t]
subnet = ["400::/7"]`,
		`t = 3`,
		`t = [1]`,
		`= broken`,
	} {
		if _, err := ParseTopicConfig([]byte(in)); !errors.Is(err, ErrTopicFile) {
			t.Errorf("ParseTopicConfig(%q) = %v, want ErrTopicFile", in, err)
		}
	}
}

func TestLoadTopicFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topics.toml")
	if _, err := LoadTopicFile(path); !errors.Is(err, ErrTopicFile) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(path, []byte("[x]\nsubnets = [\"400::/7\"]\n"), 0o600)
	c, err := LoadTopicFile(path)
	if err != nil || len(c.Rules["x"].Sources) != 1 {
		t.Errorf("LoadTopicFile = %+v, %v", c, err)
	}
}

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"400::/7", "400::/7", true},
		{"400::1/64", "400::/64", true},
		{"5f1::1", "5f1::1/128", true},
		{"10.1.2.3", "10.1.2.3/32", true},
		{"::ffff:10.1.2.3", "10.1.2.3/32", true},
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"nope", "", false},
		{"400::/129", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseSubnet(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got.String() != tt.want) {
			t.Errorf("ParseSubnet(%q) = %v, %v; want %s ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseTopicConfig(f *testing.F) {
	f.Add([]byte(`default = "Reject"
["a.b"]
subnets = ["400::/7", "1.2.3.4"]
forward_socket = "/x"`))
	f.Add([]byte(`chat = ["10.0.0.1"]`))
	f.Add([]byte(`[t]
subnet = 1`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseTopicConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}

func TestTopicRules(t *testing.T) {
	b, _ := newCaptureBus(t, nil)
	topic := []byte("t")
	inside, outside := netip.MustParseAddr("400::1"), netip.MustParseAddr("5ff::1")
	if !b.topics.allowed(topic, outside) {
		t.Fatal("default accept refused")
	}
	b.AddTopic(topic)
	if b.topics.allowed(topic, inside) {
		t.Fatal("topic with no sources accepted a message")
	}
	if _, err := b.TopicSources([]byte("unknown")); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("TopicSources(unknown) = %v", err)
	}
	b.AddTopicSource(topic, netip.MustParsePrefix("400::/64"))
	b.AddTopicSource(topic, netip.MustParsePrefix("400::/64"))
	if src, _ := b.TopicSources(topic); len(src) != 1 {
		t.Fatalf("sources = %v; duplicates kept", src)
	}
	if !b.topics.allowed(topic, inside) || b.topics.allowed(topic, outside) {
		t.Fatal("whitelist not applied")
	}
	b.RemoveTopicSource(topic, netip.MustParsePrefix("400::/64"))
	if b.topics.allowed(topic, inside) {
		t.Fatal("removed source still accepted")
	}
	b.SetForwardSocket([]byte("unknown"), "/x")
	if _, ok, _ := b.ForwardSocket([]byte("unknown")); ok {
		t.Fatal("forward socket set on an unknown topic")
	}
	b.SetForwardSocket(topic, "/x")
	if s, ok, _ := b.ForwardSocket(topic); !ok || s != "/x" {
		t.Fatalf("ForwardSocket = %q, %v", s, ok)
	}
	b.RemoveForwardSocket(topic)
	if _, ok, _ := b.ForwardSocket(topic); ok {
		t.Fatal("forward socket not removed")
	}
	b.RemoveTopic(topic)
	if len(b.Topics()) != 0 || !b.topics.allowed(topic, outside) {
		t.Fatal("topic not removed")
	}
}
