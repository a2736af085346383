// Package serve holds what the mail protocol servers (smtpd, imapd) share
// around their libraries: a listener fed by the servers' own accept loop,
// and a logger that turns the libraries' printf-style messages into slog
// records.
package serve

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
)

// ChanListener is a net.Listener fed by an accept loop with Push, so that
// connections can be routed to one of several server instances (with and
// without plain-text auth).
type ChanListener struct {
	addr net.Addr
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

var _ net.Listener = (*ChanListener)(nil)

// NewChanListener returns a listener that reports a as its address.
func NewChanListener(a net.Addr) *ChanListener {
	return &ChanListener{addr: a, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Push hands c to the next Accept; it waits for one, and closes c if the
// listener is closed first.
func (l *ChanListener) Push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next pushed connection, or net.ErrClosed once the
// listener is closed.
func (l *ChanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Push return. It can be called more than once.
func (l *ChanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address given to NewChanListener.
func (l *ChanListener) Addr() net.Addr { return l.addr }

// LibraryLog adapts a protocol library's Printf/Println logger to slog.
// What names the library in every record ("imap server").
type LibraryLog struct {
	Log  *slog.Logger
	What string
}

// Printf logs a formatted library message.
func (l LibraryLog) Printf(format string, args ...any) { l.log(fmt.Sprintf(format, args...)) }

// Println logs a library message.
func (l LibraryLog) Println(args ...any) { l.log(fmt.Sprint(args...)) }

// log logs msg: connection teardown noise at debug level, the rest as
// warnings.
func (l LibraryLog) log(msg string) {
	for _, noise := range []string{"use of closed network connection", "connection reset by peer", "EOF", "broken pipe", "closed pipe", "i/o timeout"} {
		if strings.Contains(msg, noise) {
			l.Log.Debug(l.What, "detail", msg)
			return
		}
	}
	l.Log.Warn(l.What, "detail", msg)
}
