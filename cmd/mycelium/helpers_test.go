package main

import (
	"github.com/mycelium-go/mycelium/core/api/apitest"
	"github.com/mycelium-go/mycelium/core/message"
)

// messageFromB is a message from node B to node A.
func messageFromB(h *apitest.Harness, topic, payload string) message.Outgoing {
	var t []byte
	if topic != "" {
		t = []byte(topic)
	}
	return message.Outgoing{Dst: h.A.Addr(), Topic: t, Payload: []byte(payload)}
}
