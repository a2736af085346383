package setup

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// MailServer is one server entry of a profile.
type MailServer struct {
	Host string
	Port uint16
	// TLS: true for implicit TLS or STARTTLS (Apple's "UseSSL" picks by
	// port); profiles never offer plain text.
	TLS bool
}

// DAVAccount is an optional CalDAV or CardDAV account payload. Leave
// PrincipalURL empty unless it is certain: a stale principal URL breaks
// macOS (client-quirks 3.1 item 2); clients then use /.well-known. An
// empty Username is left out, and the device asks for one.
type DAVAccount struct {
	Description  string
	Host         string
	Port         uint16
	PrincipalURL string
	Username     string
	UseSSL       bool
}

// Profile describes an Apple configuration profile for one mail account.
type Profile struct {
	Address     string // full address, also the login everywhere
	DisplayName string // the user's name shown in From:, optional
	IMAP        MailServer
	SMTP        MailServer // 465 or 587, never 25
	// CAPEM is the node CA certificate (PEM); it becomes a
	// com.apple.security.root payload. Optional.
	CAPEM []byte
	// CalDAV and CardDAV add account payloads when set.
	CalDAV  *DAVAccount
	CardDAV *DAVAccount
}

// BuildProfile renders p as a .mobileconfig plist (unsigned).
func BuildProfile(p Profile) ([]byte, error) {
	if p.Address == "" || !strings.Contains(p.Address, "@") {
		return nil, errors.New("build profile: address required")
	}
	if p.IMAP.Host == "" || p.IMAP.Port == 0 || p.SMTP.Host == "" || p.SMTP.Port == 0 {
		return nil, errors.New("build profile: IMAP and SMTP host and port required")
	}
	if p.SMTP.Port == 25 {
		return nil, errors.New("build profile: SMTP port 25 is for node-to-node delivery; use 465 or 587")
	}
	for _, a := range []*DAVAccount{p.CalDAV, p.CardDAV} {
		if a != nil && (a.Host == "" || a.Port == 0) {
			return nil, errors.New("build profile: CalDAV and CardDAV need a host and port")
		}
	}
	domain := p.Address[strings.LastIndexByte(p.Address, '@')+1:]
	idBase := "internal.mycelium.mail." + domain + "." + strings.ReplaceAll(p.Address[:strings.LastIndexByte(p.Address, '@')], ".", "-")
	var payloads []dict
	mail := dict{
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadVersion", 1},
		{"PayloadIdentifier", idBase + ".account"},
		{"PayloadUUID", uuidFor(idBase + ".account")},
		{"PayloadDisplayName", "Mail: " + p.Address},
		{"EmailAccountDescription", "Mycelium " + p.Address},
		{"EmailAccountType", "EmailTypeIMAP"},
		{"EmailAddress", p.Address},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", p.IMAP.Host},
		{"IncomingMailServerPortNumber", int(p.IMAP.Port)},
		{"IncomingMailServerUseSSL", p.IMAP.TLS},
		{"IncomingMailServerUsername", p.Address},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", p.SMTP.Host},
		{"OutgoingMailServerPortNumber", int(p.SMTP.Port)},
		{"OutgoingMailServerUseSSL", p.SMTP.TLS},
		{"OutgoingMailServerUsername", p.Address},
		{"OutgoingPasswordSameAsIncomingPassword", true},
	}
	if p.DisplayName != "" {
		mail = append(mail, kv{"EmailAccountName", p.DisplayName})
	}
	payloads = append(payloads, mail)
	if len(p.CAPEM) > 0 {
		blk, _ := pem.Decode(p.CAPEM)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, errors.New("build profile: CA is not a PEM certificate")
		}
		payloads = append(payloads, dict{
			{"PayloadType", "com.apple.security.root"},
			{"PayloadVersion", 1},
			{"PayloadIdentifier", idBase + ".ca"},
			{"PayloadUUID", uuidFor(idBase + ".ca")},
			{"PayloadDisplayName", "Mycelium node CA"},
			{"PayloadCertificateFileName", "mycelium-ca.crt"},
			{"PayloadContent", data(blk.Bytes)},
		})
	}
	if a := p.CalDAV; a != nil {
		payloads = append(payloads, davPayload("caldav", "CalDAV", idBase, a, p.Address))
	}
	if a := p.CardDAV; a != nil {
		payloads = append(payloads, davPayload("carddav", "CardDAV", idBase, a, p.Address))
	}
	desc := "IMAP and SMTP account on a Mycelium node, and the node's certificate authority."
	if p.CalDAV != nil || p.CardDAV != nil {
		desc = "IMAP and SMTP account, calendars and contacts on a Mycelium node, and the node's certificate authority."
	}
	top := dict{
		{"PayloadContent", payloads},
		{"PayloadDisplayName", "Mycelium mail for " + p.Address},
		{"PayloadDescription", desc},
		{"PayloadIdentifier", idBase},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuidFor(idBase)},
		{"PayloadVersion", 1},
		{"PayloadRemovalDisallowed", false},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	if err := writeValue(&b, top, 0); err != nil {
		return nil, fmt.Errorf("build profile: %w", err)
	}
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

func davPayload(kind, prefix, idBase string, a *DAVAccount, address string) dict {
	desc := a.Description
	if desc == "" {
		desc = "Mycelium " + prefix + " " + address
	}
	d := dict{
		{"PayloadType", "com.apple." + kind + ".account"},
		{"PayloadVersion", 1},
		{"PayloadIdentifier", idBase + "." + kind},
		{"PayloadUUID", uuidFor(idBase + "." + kind)},
		{"PayloadDisplayName", prefix + ": " + address},
		{prefix + "AccountDescription", desc},
		{prefix + "HostName", a.Host},
		{prefix + "Port", int(a.Port)},
		{prefix + "UseSSL", a.UseSSL},
	}
	if a.Username != "" {
		d = append(d, kv{prefix + "Username", a.Username})
	}
	if a.PrincipalURL != "" {
		d = append(d, kv{prefix + "PrincipalURL", a.PrincipalURL})
	}
	return d
}

// uuidFor derives a stable UUID from s, so reinstalling a profile for the
// same account replaces the old one instead of adding a second.
func uuidFor(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x50 // version 5 layout (name-based)
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// plist values: dict (ordered), []dict, string, int, bool, data.
type kv struct {
	k string
	v any
}
type dict []kv
type data []byte

func writeValue(b *bytes.Buffer, v any, depth int) error {
	ind := strings.Repeat("\t", depth)
	switch v := v.(type) {
	case dict:
		b.WriteString(ind + "<dict>\n")
		for _, e := range v {
			b.WriteString(ind + "\t<key>")
			xml.EscapeText(b, []byte(e.k))
			b.WriteString("</key>\n")
			if err := writeValue(b, e.v, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(ind + "</dict>\n")
	case []dict:
		b.WriteString(ind + "<array>\n")
		for _, d := range v {
			if err := writeValue(b, d, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(ind + "</array>\n")
	case string:
		b.WriteString(ind + "<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>\n")
	case int:
		fmt.Fprintf(b, "%s<integer>%d</integer>\n", ind, v)
	case bool:
		if v {
			b.WriteString(ind + "<true/>\n")
		} else {
			b.WriteString(ind + "<false/>\n")
		}
	case data:
		b.WriteString(ind + "<data>" + base64.StdEncoding.EncodeToString(v) + "</data>\n")
	default:
		return fmt.Errorf("plist: unsupported value %T", v)
	}
	return nil
}
