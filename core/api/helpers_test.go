package api_test

import (
	"github.com/mycelium-go/mycelium/core/api/apitest"
	"github.com/mycelium-go/mycelium/core/message"
)

// messageTo is a message from B to A's node.
func messageTo(h *apitest.Harness, topic, payload string) message.Outgoing {
	var t []byte
	if topic != "" {
		t = []byte(topic)
	}
	return message.Outgoing{Dst: h.A.Addr(), Topic: t, Payload: []byte(payload)}
}
