package message

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/pelletier/go-toml/v2"

	"github.com/mycelium-go/mycelium/core/wire"
)

// ErrTopicFile is wrapped by every topic file error.
var ErrTopicFile = errors.New("message: bad topic config")

// LoadTopicFile reads a topic configuration file (--topic-config).
// Unlike the reference, which silently ignores a file it cannot read or
// parse (and then accepts every topic), a bad file is an error.
func LoadTopicFile(path string) (TopicConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return TopicConfig{}, fmt.Errorf("%w: %w", ErrTopicFile, err)
	}
	c, err := ParseTopicConfig(data)
	if err != nil {
		return TopicConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseTopicConfig parses the reference's topic file format (spec §7.4):
//
//	default = "Accept"            # or "Reject" (exact case); optional
//	[chat]                        # any other key is a topic (its UTF-8 bytes)
//	subnets = ["400::/7", "5f1:1234::1"]   # CIDR or bare IP; optional
//	forward_socket = "/run/chat.sock"      # optional
//
// A topic's value may also be a bare array of subnets (the reference's
// "old format"). Unknown keys inside a topic are errors.
func ParseTopicConfig(data []byte) (TopicConfig, error) {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return TopicConfig{}, fmt.Errorf("%w: %v", ErrTopicFile, err)
	}
	c := TopicConfig{DefaultAccept: true, Rules: make(map[string]TopicRule)}
	for key, v := range raw {
		if key == "default" {
			s, ok := v.(string)
			switch {
			case ok && s == "Accept":
				c.DefaultAccept = true
			case ok && s == "Reject":
				c.DefaultAccept = false
			default:
				return TopicConfig{}, fmt.Errorf("%w: default must be \"Accept\" or \"Reject\", got %v", ErrTopicFile, v)
			}
			continue
		}
		if len(key) > wire.MaxTopicSize {
			return TopicConfig{}, fmt.Errorf("%w: topic of %d bytes (max %d)", ErrTopicFile, len(key), wire.MaxTopicSize)
		}
		r, err := parseTopicRule(v)
		if err != nil {
			return TopicConfig{}, fmt.Errorf("%w: topic %q: %v", ErrTopicFile, key, err)
		}
		c.Rules[key] = r
	}
	return c, nil
}

func parseTopicRule(v any) (TopicRule, error) {
	switch v := v.(type) {
	case []any:
		subnets, err := parseSubnetList(v)
		return TopicRule{Sources: subnets}, err
	case map[string]any:
		var r TopicRule
		for k, fv := range v {
			switch k {
			case "subnets":
				list, ok := fv.([]any)
				if !ok {
					return TopicRule{}, fmt.Errorf("subnets must be an array of strings")
				}
				subnets, err := parseSubnetList(list)
				if err != nil {
					return TopicRule{}, err
				}
				r.Sources = subnets
			case "forward_socket":
				s, ok := fv.(string)
				if !ok {
					return TopicRule{}, fmt.Errorf("forward_socket must be a string")
				}
				r.ForwardSocket = s
			default:
				return TopicRule{}, fmt.Errorf("unknown key %q (want subnets, forward_socket)", k)
			}
		}
		return r, nil
	default:
		return TopicRule{}, fmt.Errorf("want a table or an array of subnets, got %T", v)
	}
}

func parseSubnetList(list []any) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("subnet %v is not a string", item)
		}
		p, err := ParseSubnet(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
