package message

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/mycelium-go/mycelium/core/wire"
)

// TopicConfig decides which messages the bus accepts (spec §7.4): a
// topic with a rule accepts only sources inside one of its subnets (none:
// reject all), every other topic follows the default action. The empty
// topic is a topic like any other. Replies to a message this node sent
// recently skip the rules.
type TopicConfig struct {
	// DefaultAccept is the action for topics without a rule (reference
	// default: accept).
	DefaultAccept bool
	// Rules maps a topic (its bytes, as a string) to its rule.
	Rules map[string]TopicRule
}

// TopicRule is one topic's whitelist and optional forward socket.
type TopicRule struct {
	// Sources are the subnets allowed to send on the topic; the outer
	// source address of the INIT is checked.
	Sources []netip.Prefix
	// ForwardSocket, if set, is a unix socket the topic's messages are
	// written to; its answer goes back as a reply (spec §7.5).
	ForwardSocket string
}

// Validate checks topic sizes and subnets.
func (c TopicConfig) Validate() error {
	for t, r := range c.Rules {
		if len(t) > wire.MaxTopicSize {
			return fmt.Errorf("%w: topic of %d bytes", ErrConfig, len(t))
		}
		for _, p := range r.Sources {
			if !p.IsValid() {
				return fmt.Errorf("%w: topic %q: invalid subnet", ErrConfig, t)
			}
		}
	}
	return nil
}

// Clone returns a deep copy.
func (c TopicConfig) Clone() TopicConfig {
	out := TopicConfig{DefaultAccept: c.DefaultAccept, Rules: make(map[string]TopicRule, len(c.Rules))}
	for t, r := range c.Rules {
		out.Rules[t] = TopicRule{Sources: slices.Clone(r.Sources), ForwardSocket: r.ForwardSocket}
	}
	return out
}

// ParseSubnet parses a CIDR prefix or a bare IP address (a /32 or /128),
// as the reference accepts in topic whitelists. The prefix is masked.
func ParseSubnet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %q: %v", ErrBadSubnet, s, err)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%w: %q: IPv4-mapped prefix", ErrBadSubnet, s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is neither a subnet nor an IP address", ErrBadSubnet, s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// topics is the live topic configuration.
type topics struct {
	mu     sync.RWMutex
	accept bool
	rules  map[string]*TopicRule
}

func newTopics(c TopicConfig) *topics {
	t := &topics{accept: c.DefaultAccept, rules: make(map[string]*TopicRule, len(c.Rules))}
	for k, r := range c.Clone().Rules {
		t.rules[k] = &r
	}
	return t
}

// allowed reports whether src may send a message on topic.
func (t *topics) allowed(topic []byte, src netip.Addr) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.rules[string(topic)]
	if !ok {
		return t.accept
	}
	for _, p := range r.Sources {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

func (t *topics) forward(topic []byte) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if r, ok := t.rules[string(topic)]; ok {
		return r.ForwardSocket
	}
	return ""
}

func checkTopic(topic []byte) error {
	if len(topic) > wire.MaxTopicSize {
		return ErrTopicTooLarge
	}
	return nil
}

// DefaultAccept reports the action for topics without a rule.
func (b *Bus) DefaultAccept() bool {
	b.topics.mu.RLock()
	defer b.topics.mu.RUnlock()
	return b.topics.accept
}

// SetDefaultAccept sets the action for topics without a rule.
func (b *Bus) SetDefaultAccept(accept bool) {
	b.topics.mu.Lock()
	b.topics.accept = accept
	b.topics.mu.Unlock()
}

// Topics lists the topics that have a rule, sorted.
func (b *Bus) Topics() [][]byte {
	b.topics.mu.RLock()
	keys := slices.Sorted(maps.Keys(b.topics.rules))
	b.topics.mu.RUnlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// TopicConfig returns a copy of the live configuration.
func (b *Bus) TopicConfig() TopicConfig {
	b.topics.mu.RLock()
	defer b.topics.mu.RUnlock()
	c := TopicConfig{DefaultAccept: b.topics.accept, Rules: make(map[string]TopicRule, len(b.topics.rules))}
	for k, r := range b.topics.rules {
		c.Rules[k] = TopicRule{Sources: slices.Clone(r.Sources), ForwardSocket: r.ForwardSocket}
	}
	return c
}

// AddTopic adds a rule with no sources for topic (rejecting every sender
// until sources are added). An existing rule is kept.
func (b *Bus) AddTopic(topic []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if _, ok := b.topics.rules[string(topic)]; !ok {
		b.topics.rules[string(topic)] = &TopicRule{}
	}
	return nil
}

// RemoveTopic removes topic's rule; the topic follows the default action.
func (b *Bus) RemoveTopic(topic []byte) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	b.topics.mu.Lock()
	delete(b.topics.rules, string(topic))
	b.topics.mu.Unlock()
	return nil
}

// TopicSources lists the subnets allowed on topic, or ErrUnknownTopic.
func (b *Bus) TopicSources(topic []byte) ([]netip.Prefix, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	b.topics.mu.RLock()
	defer b.topics.mu.RUnlock()
	r, ok := b.topics.rules[string(topic)]
	if !ok {
		return nil, ErrUnknownTopic
	}
	return slices.Clone(r.Sources), nil
}

// AddTopicSource allows subnet on topic, creating the rule if needed.
func (b *Bus) AddTopicSource(topic []byte, subnet netip.Prefix) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if !subnet.IsValid() {
		return ErrBadSubnet
	}
	subnet = subnet.Masked()
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	r, ok := b.topics.rules[string(topic)]
	if !ok {
		r = &TopicRule{}
		b.topics.rules[string(topic)] = r
	}
	if !slices.Contains(r.Sources, subnet) {
		r.Sources = append(r.Sources, subnet)
	}
	return nil
}

// RemoveTopicSource removes subnet from topic's rule. The rule stays,
// even when empty (rejecting everything). Unknown topics are ignored.
func (b *Bus) RemoveTopicSource(topic []byte, subnet netip.Prefix) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if !subnet.IsValid() {
		return ErrBadSubnet
	}
	subnet = subnet.Masked()
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if r, ok := b.topics.rules[string(topic)]; ok {
		r.Sources = slices.DeleteFunc(r.Sources, func(p netip.Prefix) bool { return p == subnet })
	}
	return nil
}

// ForwardSocket returns topic's forward socket, if one is set.
func (b *Bus) ForwardSocket(topic []byte) (string, bool, error) {
	if err := checkTopic(topic); err != nil {
		return "", false, err
	}
	s := b.topics.forward(topic)
	return s, s != "", nil
}

// SetForwardSocket sets topic's forward socket. As in the reference, it
// does nothing for a topic without a rule.
func (b *Bus) SetForwardSocket(topic []byte, path string) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	b.topics.mu.Lock()
	defer b.topics.mu.Unlock()
	if r, ok := b.topics.rules[string(topic)]; ok {
		r.ForwardSocket = path
	}
	return nil
}

// RemoveForwardSocket clears topic's forward socket.
func (b *Bus) RemoveForwardSocket(topic []byte) error {
	return b.SetForwardSocket(topic, "")
}
