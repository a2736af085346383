// Package setup helps mail clients find the node's services: Thunderbird
// autoconfig XML served over HTTP, and Apple configuration profiles
// (.mobileconfig) with the IMAP and SMTP accounts, the node CA and,
// when the node runs a CalDAV/CardDAV server, calendar and contacts
// accounts.
package setup

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Endpoint is where a client reaches one service. Port 0 means the
// service is not offered there.
type Endpoint struct {
	Host string
	Port uint16
}

// Endpoints lists the mail services as clients should see them.
type Endpoints struct {
	IMAPS       Endpoint // implicit TLS (993)
	IMAP        Endpoint // STARTTLS (143)
	Submissions Endpoint // implicit TLS (465)
	Submission  Endpoint // STARTTLS (587)
	// DAV is the node's CalDAV and CardDAV server (one HTTP root serves
	// both); Port 0 when the node runs none.
	DAV DAVEndpoint
}

// DAVEndpoint is where a client reaches a CalDAV/CardDAV server.
type DAVEndpoint struct {
	Endpoint
	TLS bool // https; plain http otherwise
}

// URL is the server's root URL, from which clients discover the
// principal (current-user-principal), e.g. "https://[5ff::1]:5233/".
func (e DAVEndpoint) URL() string {
	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))) + "/"
}

// AutoconfigHandler serves Thunderbird's autoconfig document at
// /mail/config-v1.1.xml and /.well-known/autoconfig/mail/config-v1.1.xml.
type AutoconfigHandler struct {
	// Endpoints returns the endpoints for a client: loopback clients get
	// localhost and the loopback ports, overlay clients the node's
	// overlay name or address. ctx is the request's.
	Endpoints func(ctx context.Context, p sdk.Peer) Endpoints
	Resolver  *addr.Resolver
}

// ServeHTTP implements http.Handler.
func (h *AutoconfigHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml":
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	domain, err := QueryDomain(r.URL.Query().Get("emailaddress"), h.Resolver)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	p, _ := sdk.PeerFromContext(r.Context())
	body, err := Autoconfig(domain, h.Endpoints(r.Context(), p))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// QueryDomain validates the emailaddress query parameter: empty means the
// node's canonical domain; otherwise the address's domain must be one of
// the node's local domains.
func QueryDomain(email string, res *addr.Resolver) (string, error) {
	if email == "" {
		return res.Canonical(), nil
	}
	a, err := addr.Parse(email)
	if err != nil {
		return "", fmt.Errorf("emailaddress: %w", err)
	}
	if res.Classify(a.Domain) != addr.KindLocal {
		return "", fmt.Errorf("emailaddress: %s is not a domain of this node", a.Domain)
	}
	return a.Domain, nil
}

// Autoconfig renders a Thunderbird autoconfig document (clientConfig 1.1)
// for domain. The mail username is the full address (%EMAILADDRESS%).
// With a DAV endpoint it adds an address book (CardDAV) and a calendar
// (CalDAV) on the server's root URL, with the local part
// (%EMAILLOCALPART%) as username: DAV account names have no "@".
func Autoconfig(domain string, ep Endpoints) ([]byte, error) {
	type server struct {
		Type       string `xml:"type,attr"`
		Hostname   string `xml:"hostname"`
		Port       uint16 `xml:"port"`
		SocketType string `xml:"socketType"`
		Auth       string `xml:"authentication"`
		Username   string `xml:"username"`
	}
	type provider struct {
		ID       string   `xml:"id,attr"`
		Domain   string   `xml:"domain"`
		Display  string   `xml:"displayName"`
		Short    string   `xml:"displayShortName"`
		Incoming []server `xml:"incomingServer"`
		Outgoing []server `xml:"outgoingServer"`
	}
	type clientConfig struct {
		XMLName     xml.Name  `xml:"clientConfig"`
		Version     string    `xml:"version,attr"`
		Provider    provider  `xml:"emailProvider"`
		AddressBook *davEntry `xml:"addressBook,omitempty"`
		Calendar    *davEntry `xml:"calendar,omitempty"`
	}
	mk := func(typ string, e Endpoint, sock string) server {
		return server{Type: typ, Hostname: e.Host, Port: e.Port, SocketType: sock, Auth: "password-cleartext", Username: "%EMAILADDRESS%"}
	}
	p := provider{ID: domain, Domain: domain, Display: "Mycelium mail (" + domain + ")", Short: "Mycelium"}
	if ep.IMAPS.Port != 0 {
		p.Incoming = append(p.Incoming, mk("imap", ep.IMAPS, "SSL"))
	}
	if ep.IMAP.Port != 0 {
		p.Incoming = append(p.Incoming, mk("imap", ep.IMAP, "STARTTLS"))
	}
	if ep.Submissions.Port != 0 {
		p.Outgoing = append(p.Outgoing, mk("smtp", ep.Submissions, "SSL"))
	}
	if ep.Submission.Port != 0 {
		p.Outgoing = append(p.Outgoing, mk("smtp", ep.Submission, "STARTTLS"))
	}
	if len(p.Incoming) == 0 || len(p.Outgoing) == 0 {
		return nil, errors.New("autoconfig: IMAP or SMTP submission is not offered to this client")
	}
	cc := clientConfig{Version: "1.1", Provider: p}
	if ep.DAV.Port != 0 {
		cc.AddressBook, cc.Calendar = newDAVEntry("carddav", ep.DAV), newDAVEntry("caldav", ep.DAV)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(cc); err != nil {
		return nil, fmt.Errorf("autoconfig: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// davEntry is an <addressBook> or <calendar> of clientConfig 1.1.
type davEntry struct {
	Type      string `xml:"type,attr"`
	Username  string `xml:"username"`
	Auth      string `xml:"authentication"`
	ServerURL string `xml:"serverURL"`
}

func newDAVEntry(typ string, e DAVEndpoint) *davEntry {
	return &davEntry{Type: typ, Username: "%EMAILLOCALPART%", Auth: "http-basic", ServerURL: e.URL()}
}
