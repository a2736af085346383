// Package contacts gives the DAV plugin its vCard semantics: validation
// of address object resources (RFC 6352 section 5.1) and the
// CARDDAV:filter of addressbook-query (RFC 6352 section 10.5) with
// match types and collations.
package contacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
)

// CardDAV preconditions a ValidationError can name.
const (
	CondValidData = "valid-address-data"
)

// ValidationError says why data cannot be stored as an address object.
type ValidationError struct {
	Cond string
	Msg  string
}

func (e *ValidationError) Error() string { return "contacts: " + e.Cond + ": " + e.Msg }

func invalid(format string, a ...any) error {
	return &ValidationError{Cond: CondValidData, Msg: fmt.Sprintf(format, a...)}
}

// Card is a parsed and validated vCard.
type Card struct {
	Card    vcard.Card
	UID     string
	Version string
}

// Decode parses data as exactly one vCard. go-vcard panics on nothing we
// know of, but the decoder is third-party code fed untrusted input, so a
// panic becomes a validation error like in package calendar.
func Decode(data []byte) (card vcard.Card, err error) {
	defer func() {
		if r := recover(); r != nil {
			card, err = nil, invalid("malformed vCard")
		}
	}()
	if !utf8.Valid(data) {
		return nil, invalid("not UTF-8")
	}
	dec := vcard.NewDecoder(bytes.NewReader(data))
	card, err = dec.Decode()
	if err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, invalid("more than one vCard")
	}
	return card, nil
}

// Parse decodes and validates an address object resource: one vCard of
// version 3.0 or 4.0 (2.1 is accepted for old clients) with a UID.
func Parse(data []byte) (*Card, error) {
	card, err := Decode(data)
	if err != nil {
		return nil, err
	}
	version := strings.TrimSpace(card.Value(vcard.FieldVersion))
	switch version {
	case "2.1", "3.0", "4.0":
	case "":
		return nil, invalid("VERSION is required")
	default:
		return nil, invalid("unsupported vCard version %q", version)
	}
	uid := strings.TrimSpace(card.Value(vcard.FieldUID))
	if uid == "" {
		return nil, invalid("UID is required")
	}
	return &Card{Card: card, UID: uid, Version: version}, nil
}
