package message

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// forwardAsync hands m to the topic's forward socket in the background
// (spec §7.5). It reports false when too many forwards are running; the
// caller then queues m in the inbox.
func (b *Bus) forwardAsync(m *Message, t ticket, path string) bool {
	select {
	case b.fwdSem <- struct{}{}:
	default:
		return false
	}
	err := b.spawn(func(ctx context.Context) {
		defer func() { <-b.fwdSem }()
		b.forwardOne(ctx, m, t, path)
	})
	if err != nil {
		<-b.fwdSem
		return false
	}
	return true
}

func (b *Bus) forwardOne(ctx context.Context, m *Message, t ticket, path string) {
	reply, err := b.exchange(ctx, path, m.Payload)
	if err == nil && len(reply) == 0 {
		err = errors.New("empty reply")
	}
	if err != nil {
		b.c.fwdFailed.Add(1)
		b.log.Warn("topic forward failed; message queued", "socket", path, "id", m.ID.String(), "err", err)
		b.inbox.commit(m, t)
		b.c.toInbox.Add(1)
		return
	}
	b.inbox.release(t)
	b.c.forwarded.Add(1)
	if err := b.Reply(m.ID, m.SrcIP, reply); err != nil {
		b.log.Warn("topic forward: sending the reply failed", "socket", path, "id", m.ID.String(), "err", err)
	}
}

// exchange writes data to the unix socket at path, half-closes the write
// side (so servers that read to EOF work; the reference never does this),
// and reads the answer until EOF. The whole exchange is bounded by
// ForwardTimeout (the reference's read has no bound) and the answer by
// MaxMessageSize.
func (b *Bus) exchange(ctx context.Context, path string, data []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ForwardTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(data); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	reply, err := io.ReadAll(io.LimitReader(conn, int64(b.cfg.MaxMessageSize)+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(reply) > b.cfg.MaxMessageSize {
		return nil, fmt.Errorf("reply longer than %d bytes", b.cfg.MaxMessageSize)
	}
	return reply, nil
}
