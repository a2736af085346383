package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/identity"
)

// oneYear is how long --wait and receive wait without --timeout, as the
// reference's CLI.
const oneYear = 365 * 24 * time.Hour

// MessageCmd sends and receives messages through a running node.
type MessageCmd struct {
	Send    MessageSendCmd    `cmd:"" help:"Send a message to a node (by public key or overlay address)."`
	Receive MessageReceiveCmd `cmd:"" help:"Receive a message."`
	Reply   MessageReplyCmd   `cmd:"" help:"Reply to a received message."`
	Status  MessageStatusCmd  `cmd:"" help:"Show the state of a sent message."`
}

// parseDest reads a destination: a 64-hex public key or an overlay IPv6
// address.
func parseDest(s string) (api.MessageDestination, error) {
	if len(s) == 64 {
		pk, err := identity.ParsePublicKey(s)
		if err != nil {
			return api.MessageDestination{}, fmt.Errorf("destination %q is not a valid public key", s)
		}
		return api.MessageDestination{PK: &pk}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !identity.InOverlay(a) {
		return api.MessageDestination{}, fmt.Errorf("destination %q is neither a public key (64 hex digits) nor an overlay address in 400::/7", s)
	}
	return api.MessageDestination{IP: a}, nil
}

// payload reads the message from a file or the argument.
func payload(path, msg string) ([]byte, error) {
	switch {
	case path != "" && msg != "":
		return nil, errors.New("give the message as an argument or with --msg-path, not both")
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the message: %w", err)
		}
		return b, nil
	default:
		return []byte(msg), nil
	}
}

// MessageSendCmd sends a message.
type MessageSendCmd struct {
	APIFlags
	Wait    bool    `short:"w" help:"Wait for a reply and print it."`
	Timeout *uint64 `help:"Seconds to wait for the reply (with --wait; default a year)."`
	Topic   string  `short:"t" help:"Topic of the message."`
	MsgPath string  `name:"msg-path" type:"path" help:"Read the message from this file."`
	ReplyTo string  `name:"reply-to" help:"Send the message as the reply to this message id."`
	Dest    string  `arg:"" help:"Receiver: public key (64 hex digits) or overlay address."`
	Msg     string  `arg:"" optional:"" help:"The message (or use --msg-path)."`
	JSON    bool    `help:"Print the reply as JSON with base64 fields, as the API returns it."`
}

func (c *MessageSendCmd) Run() error {
	dst, err := parseDest(c.Dest)
	if err != nil {
		return err
	}
	data, err := payload(c.MsgPath, c.Msg)
	if err != nil {
		return err
	}
	ctx, cancel := cmdContext()
	defer cancel()
	body := api.PushMessageBody{Dst: dst, Payload: data}
	if c.ReplyTo != "" {
		if c.Topic != "" || c.Wait {
			return errors.New("a reply has no topic and gets no reply: drop --topic and --wait")
		}
		return c.client().ReplyMessage(ctx, c.ReplyTo, body)
	}
	if c.Topic != "" {
		body.Topic = []byte(c.Topic)
	}
	var wait *time.Duration
	if c.Wait {
		d := oneYear
		if c.Timeout != nil {
			d = time.Duration(*c.Timeout) * time.Second
		}
		wait = &d
	}
	id, reply, err := c.client().PushMessage(ctx, body, wait)
	if err != nil {
		return err
	}
	if !c.Wait {
		fmt.Fprintln(stdout, id)
		return nil
	}
	if reply == nil {
		return fmt.Errorf("no reply to message %s in time", id)
	}
	return printMessage(reply, c.JSON)
}

// printMessage prints a received message: by default as JSON with topic
// and payload as text, with asJSON as the API returns it.
func printMessage(m *api.InboundMessage, asJSON bool) error {
	if asJSON {
		return printJSON(m)
	}
	out := struct {
		ID      string `json:"id"`
		SrcIP   string `json:"srcIp"`
		SrcPK   string `json:"srcPk"`
		DstIP   string `json:"dstIp"`
		DstPK   string `json:"dstPk"`
		Topic   string `json:"topic,omitempty"`
		Payload string `json:"payload,omitempty"`
	}{m.ID, m.SrcIP, m.SrcPK, m.DstIP, m.DstPK, strings.ToValidUTF8(string(m.Topic), "\uFFFD"), strings.ToValidUTF8(string(m.Payload), "\uFFFD")}
	return printJSON(out)
}

// MessageReceiveCmd receives a message.
type MessageReceiveCmd struct {
	APIFlags
	Timeout *uint64 `help:"Seconds to wait for a message (default a year)."`
	Topic   string  `short:"t" help:"Only take a message with exactly this topic."`
	MsgPath string  `name:"msg-path" type:"path" help:"Write the message data to this file (and print only its details)."`
	Raw     bool    `help:"Print only the message data, as is."`
	Peek    bool    `help:"Leave the message queued."`
	JSON    bool    `help:"Print JSON with base64 fields, as the API returns it."`
}

func (c *MessageReceiveCmd) Run() error {
	wait := oneYear
	if c.Timeout != nil {
		wait = time.Duration(*c.Timeout) * time.Second
	}
	var topic []byte
	if c.Topic != "" {
		topic = []byte(c.Topic)
	}
	ctx, cancel := cmdContext()
	defer cancel()
	m, err := c.client().PopMessage(ctx, c.Peek, wait, topic)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("no message arrived within %v", wait)
	}
	if c.MsgPath != "" {
		if err := os.WriteFile(c.MsgPath, m.Payload, 0o600); err != nil {
			return fmt.Errorf("write the message: %w", err)
		}
		m.Payload = nil
	}
	if c.Raw {
		_, err := stdout.Write(m.Payload)
		return err
	}
	return printMessage(m, c.JSON)
}

// MessageReplyCmd replies to a received message.
type MessageReplyCmd struct {
	APIFlags
	MsgPath string `name:"msg-path" type:"path" help:"Read the reply from this file."`
	ID      string `arg:"" help:"Id of the message to reply to (16 hex digits)."`
	Dest    string `arg:"" help:"The sender of that message: public key or overlay address."`
	Msg     string `arg:"" optional:"" help:"The reply (or use --msg-path)."`
}

func (c *MessageReplyCmd) Run() error {
	dst, err := parseDest(c.Dest)
	if err != nil {
		return err
	}
	data, err := payload(c.MsgPath, c.Msg)
	if err != nil {
		return err
	}
	ctx, cancel := cmdContext()
	defer cancel()
	return c.client().ReplyMessage(ctx, c.ID, api.PushMessageBody{Dst: dst, Payload: data})
}

// MessageStatusCmd shows a sent message's state.
type MessageStatusCmd struct {
	APIFlags
	ID string `arg:"" help:"Id of a sent message (16 hex digits)."`
}

func (c *MessageStatusCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	st, err := c.client().MessageStatus(ctx, c.ID)
	if err != nil {
		return err
	}
	return printJSON(st)
}
