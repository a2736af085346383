package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// AnnounceTopic is the message-bus topic of serve-role announcements.
const AnnounceTopic = "mycelium/openai/v1"

// Announcement kinds.
const (
	KindAnnounce = "announce" // the sender serves the API on Port
	KindWithdraw = "withdraw" // the sender stopped serving
)

// MaxAnnouncementBytes bounds an announcement payload.
const MaxAnnouncementBytes = 4096

// Announcement is the JSON payload a serve-role node sends on
// AnnounceTopic to the client-role nodes it wants to reach:
//
//	{"v":1,"kind":"announce","port":8080,"ttl":180}
//
// The sender's identity is the message's source key, proven by the
// overlay; the payload carries no key. A receiver treats the sender as an
// AI node on [address of key]:port until ttl seconds pass without a new
// announcement, or until a "withdraw".
type Announcement struct {
	Version int    `json:"v"`    // 1
	Kind    string `json:"kind"` // KindAnnounce or KindWithdraw
	Port    uint16 `json:"port"` // overlay port of the serve role (announce)
	TTL     int    `json:"ttl"`  // seconds the announcement stays valid (announce)
}

// Encode returns the JSON payload.
func (a Announcement) Encode() []byte {
	b, _ := json.Marshal(a)
	return b
}

// DecodeAnnouncement parses and validates a payload. Unknown members are
// ignored so that later versions can add some.
func DecodeAnnouncement(payload []byte) (Announcement, error) {
	var a Announcement
	if len(payload) > MaxAnnouncementBytes {
		return a, errors.New("announcement too large")
	}
	if err := json.Unmarshal(payload, &a); err != nil {
		return a, fmt.Errorf("parse announcement: %w", err)
	}
	switch {
	case a.Version != 1:
		return a, fmt.Errorf("announcement version %d not supported", a.Version)
	case a.Kind == KindWithdraw:
		return a, nil
	case a.Kind != KindAnnounce:
		return a, fmt.Errorf("unknown announcement kind %q", a.Kind)
	case a.Port == 0:
		return a, errors.New("announcement without port")
	case a.TTL < 1 || a.TTL > 86400:
		return a, fmt.Errorf("announcement ttl %d out of range 1..86400", a.TTL)
	}
	return a, nil
}
