package message

import (
	"errors"
	"fmt"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("message: bad config")

// Config sets the bus's identity, limits and transfer tuning. Default
// returns working values; zero fields are not filled in.
type Config struct {
	// Key is this node's public key: the destination key of every
	// received message and the source of the node's address.
	Key identity.PublicKey

	// MaxMessageSize is the largest message sent or accepted, in bytes.
	MaxMessageSize int
	// SendTimeout is how long a push is tried when the caller gives no
	// duration (the reference's fixed 5 minutes). At the deadline an
	// unfinished transfer is aborted and an ABORTED frame is sent.
	SendTimeout time.Duration
	// StatusRetention is how long the status of a finished outgoing
	// message stays queryable, counted from its creation (reference: 10
	// minutes). It also bounds how long a reply to it bypasses the topic
	// rules.
	StatusRetention time.Duration
	// MaxStatus bounds the retained statuses; the oldest finished ones
	// are forgotten first.
	MaxStatus int
	// MaxOutbound and MaxOutboundBytes bound the unfinished outgoing
	// transfers (count, and bytes of their data).
	MaxOutbound      int
	MaxOutboundBytes int64

	// MaxPending bounds the incomplete incoming transfers.
	MaxPending int
	// PendingTimeout drops an incoming transfer that received no frame for
	// this long.
	PendingTimeout time.Duration
	// MaxInboxMessages and MaxInboxBytes bound the received messages,
	// queued or being received (their announced lengths are reserved).
	MaxInboxMessages int
	MaxInboxBytes    int64
	// MaxTopicMessages and MaxTopicBytes are the same bounds per topic
	// (the empty topic is one topic).
	MaxTopicMessages int
	MaxTopicBytes    int64

	// ForwardTimeout bounds one exchange with a topic's forward socket:
	// connect, write the message, read the reply to EOF.
	ForwardTimeout time.Duration
	// MaxForwards bounds the concurrent socket forwards; beyond it a
	// message goes to the inbox.
	MaxForwards int

	// Topics is the initial topic configuration (see LoadTopicFile).
	Topics TopicConfig

	// Window tuning, in chunks: the first window, the floor after a
	// timeout and the ceiling.
	InitialWindow, MinWindow, MaxWindow int
	// RTO tuning: the timeout before any RTT sample, and its bounds.
	InitialRTO, MinRTO, MaxRTO time.Duration

	// fixedWindow disables the congestion response (tests compare with
	// the reference's send-everything discipline).
	fixedWindow bool
}

// Default returns the defaults: 16 MiB messages, 5-minute deadlines, an
// inbox of 4096 messages and 256 MiB (1024 and 64 MiB per topic), 1024
// incoming transfers idle at most a minute.
func Default() Config {
	return Config{
		MaxMessageSize:   16 << 20,
		SendTimeout:      5 * time.Minute,
		StatusRetention:  10 * time.Minute,
		MaxStatus:        8192,
		MaxOutbound:      1024,
		MaxOutboundBytes: 256 << 20,
		MaxPending:       1024,
		PendingTimeout:   time.Minute,
		MaxInboxMessages: 4096,
		MaxInboxBytes:    256 << 20,
		MaxTopicMessages: 1024,
		MaxTopicBytes:    64 << 20,
		ForwardTimeout:   30 * time.Second,
		MaxForwards:      16,
		Topics:           TopicConfig{DefaultAccept: true},
		InitialWindow:    16,
		MinWindow:        2,
		MaxWindow:        512,
		InitialRTO:       300 * time.Millisecond,
		MinRTO:           50 * time.Millisecond,
		MaxRTO:           5 * time.Second,
	}
}

// Validate reports the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.Key.IsZero():
		return fmt.Errorf("%w: no node key", ErrConfig)
	case c.MaxMessageSize < 0 || c.MaxMessageSize > 1<<30:
		return fmt.Errorf("%w: max message size %d outside 0..1 GiB", ErrConfig, c.MaxMessageSize)
	case c.SendTimeout <= 0 || c.StatusRetention <= 0 || c.PendingTimeout <= 0 || c.ForwardTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	case c.MaxStatus < 1 || c.MaxOutbound < 1 || c.MaxOutboundBytes < int64(c.MaxMessageSize):
		return fmt.Errorf("%w: outbound limits must admit one message", ErrConfig)
	case c.MaxPending < 1 || c.MaxInboxMessages < 1 || c.MaxTopicMessages < 1:
		return fmt.Errorf("%w: inbound counts must be positive", ErrConfig)
	case c.MaxInboxBytes < int64(c.MaxMessageSize) || c.MaxTopicBytes < int64(c.MaxMessageSize):
		return fmt.Errorf("%w: inbox byte limits must admit one message", ErrConfig)
	case c.MaxForwards < 0:
		return fmt.Errorf("%w: negative forward limit", ErrConfig)
	case c.MinWindow < 1 || c.InitialWindow < c.MinWindow || c.MaxWindow < c.InitialWindow:
		return fmt.Errorf("%w: windows want 1 <= min <= initial <= max", ErrConfig)
	case c.MinRTO <= 0 || c.InitialRTO < c.MinRTO || c.MaxRTO < c.InitialRTO:
		return fmt.Errorf("%w: RTOs want 0 < min <= initial <= max", ErrConfig)
	}
	return c.Topics.Validate()
}

// Errors returned to callers of the bus.
var (
	ErrClosed        = errors.New("message: bus closed")
	ErrTopicTooLarge = fmt.Errorf("message: topic longer than %d bytes", wire.MaxTopicSize)
	ErrTooLarge      = errors.New("message: message too large")
	ErrBusy          = errors.New("message: too many messages being sent")
	ErrDestination   = errors.New("message: destination is not an overlay address")
	ErrInFlight      = errors.New("message: a message with this id is still being sent")
	ErrReplied       = errors.New("message: this message was already replied to")
	ErrUnknownTopic  = errors.New("message: topic not configured")
	ErrBadSubnet     = errors.New("message: bad subnet")
	ErrNotStarted    = errors.New("message: bus not started")
)
