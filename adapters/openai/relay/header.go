package relay

import (
	"net/http"
	"strings"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 section 7.6.1), plus the ones net/http manages itself.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// secretRequestHeaders carry the caller's credentials for this hop. They
// are never forwarded: the local API key must not leave the machine, and
// the serve role adds the upstream key itself.
var secretRequestHeaders = []string{"Authorization", "Cookie", "Api-Key", "X-Api-Key"}

// CopyRequestHeaders copies the end-to-end headers of an incoming request
// to an outgoing one: everything except hop-by-hop headers, credentials,
// Host, Content-Length (set from the body) and Accept-Encoding (the
// transport negotiates its own). Headers like OpenAI-Beta, X-Stainless-*
// and User-Agent pass through.
func CopyRequestHeaders(dst, src http.Header) {
	copyHeaders(dst, src)
	for _, h := range secretRequestHeaders {
		dst.Del(h)
	}
	dst.Del("Host")
	dst.Del("Content-Length")
	dst.Del("Accept-Encoding")
}

// CopyResponseHeaders copies the end-to-end headers of a response. For an
// event stream it drops Content-Length and adds the headers that stop
// proxies from buffering.
func CopyResponseHeaders(dst, src http.Header, eventStream bool) {
	copyHeaders(dst, src)
	if eventStream {
		dst.Del("Content-Length")
		dst.Set("X-Accel-Buffering", "no")
		if dst.Get("Cache-Control") == "" {
			dst.Set("Cache-Control", "no-cache")
		}
	}
}

func copyHeaders(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append(dst[k][:0:0], vv...)
	}
	for _, f := range src.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
	for _, h := range hopByHop {
		dst.Del(h)
	}
}

// IsEventStream reports whether h declares a text/event-stream body.
func IsEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// isJSON reports whether h declares a JSON body.
func isJSON(h http.Header) bool {
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
