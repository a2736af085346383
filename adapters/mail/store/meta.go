package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// Meta is what the index caches about a message at delivery time so that
// ENVELOPE and BODYSTRUCTURE never re-read the body.
type Meta struct {
	Envelope      []byte // JSON of imap.Envelope
	BodyStructure []byte // JSON of bsNode
}

// ParseMeta reads the message in the blob and computes its cached
// envelope and body structure. Malformed messages still get a (minimal)
// structure: the IMAP library panics on some shapes (a multipart without
// parts), so those are replaced by text/plain.
func ParseMeta(b *Blob) (Meta, error) {
	f, err := b.Open()
	if err != nil {
		return Meta{}, fmt.Errorf("parse message: %w", err)
	}
	defer f.Close()
	return parseMeta(f)
}

func parseMeta(f *os.File) (Meta, error) {
	br := bufio.NewReader(f)
	h, err := textproto.ReadHeader(br)
	var env *imap.Envelope
	if err == nil {
		env = imapserver.ExtractEnvelope(h)
	} else {
		env = &imap.Envelope{}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Meta{}, fmt.Errorf("parse message: %w", err)
	}
	bs := imapserver.ExtractBodyStructure(bufio.NewReader(f))
	envJSON, err := json.Marshal(env)
	if err != nil {
		return Meta{}, fmt.Errorf("encode envelope: %w", err)
	}
	bsJSON, err := json.Marshal(toNode(bs))
	if err != nil {
		return Meta{}, fmt.Errorf("encode body structure: %w", err)
	}
	return Meta{Envelope: envJSON, BodyStructure: bsJSON}, nil
}

// DecodeEnvelope decodes a cached envelope.
func DecodeEnvelope(b []byte) (*imap.Envelope, error) {
	var env imap.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	return &env, nil
}

// DecodeBodyStructure decodes a cached body structure.
func DecodeBodyStructure(b []byte) (imap.BodyStructure, error) {
	var n bsNode
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("decode body structure: %w", err)
	}
	return n.toIMAP(), nil
}

// bsNode is a concrete, JSON-friendly form of imap.BodyStructure.
type bsNode struct {
	Multi       bool                           `json:"m,omitempty"`
	Type        string                         `json:"t,omitempty"`
	Subtype     string                         `json:"s,omitempty"`
	Params      map[string]string              `json:"p,omitempty"`
	ID          string                         `json:"id,omitempty"`
	Description string                         `json:"d,omitempty"`
	Encoding    string                         `json:"e,omitempty"`
	Size        uint32                         `json:"z,omitempty"`
	Lines       *int64                         `json:"l,omitempty"` // text/* and message/rfc822
	MsgEnvelope *imap.Envelope                 `json:"me,omitempty"`
	MsgBody     *bsNode                        `json:"mb,omitempty"`
	Children    []*bsNode                      `json:"c,omitempty"`
	Disposition *imap.BodyStructureDisposition `json:"di,omitempty"`
	Language    []string                       `json:"la,omitempty"`
	Location    string                         `json:"lo,omitempty"`
}

func toNode(bs imap.BodyStructure) *bsNode {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		n := &bsNode{Multi: true, Subtype: bs.Subtype}
		for _, c := range bs.Children {
			n.Children = append(n.Children, toNode(c))
		}
		if ext := bs.Extended; ext != nil {
			n.Params, n.Disposition, n.Language, n.Location = ext.Params, ext.Disposition, ext.Language, ext.Location
		}
		if len(n.Children) == 0 {
			return &bsNode{Type: "text", Subtype: "plain", Params: map[string]string{"charset": "us-ascii"}, Lines: new(int64)}
		}
		return n
	case *imap.BodyStructureSinglePart:
		n := &bsNode{Type: bs.Type, Subtype: bs.Subtype, Params: bs.Params, ID: bs.ID,
			Description: bs.Description, Encoding: bs.Encoding, Size: bs.Size}
		if n.Type == "" {
			n.Type, n.Subtype = "text", "plain"
		}
		if bs.Text != nil {
			l := bs.Text.NumLines
			n.Lines = &l
		}
		if m := bs.MessageRFC822; m != nil && m.BodyStructure != nil {
			l := m.NumLines
			n.Lines = &l
			n.MsgEnvelope = m.Envelope
			n.MsgBody = toNode(m.BodyStructure)
		}
		if ext := bs.Extended; ext != nil {
			n.Disposition, n.Language, n.Location = ext.Disposition, ext.Language, ext.Location
		}
		return n
	default:
		return &bsNode{Type: "text", Subtype: "plain", Lines: new(int64)}
	}
}

func (n *bsNode) toIMAP() imap.BodyStructure {
	if n.Multi {
		bs := &imap.BodyStructureMultiPart{Subtype: n.Subtype, Extended: &imap.BodyStructureMultiPartExt{
			Params: n.Params, Disposition: n.Disposition, Language: n.Language, Location: n.Location,
		}}
		for _, c := range n.Children {
			if c != nil {
				bs.Children = append(bs.Children, c.toIMAP())
			}
		}
		if len(bs.Children) == 0 {
			bs.Children = []imap.BodyStructure{(&bsNode{Type: "text", Subtype: "plain"}).toIMAP()}
		}
		return bs
	}
	bs := &imap.BodyStructureSinglePart{
		Type: n.Type, Subtype: n.Subtype, Params: n.Params, ID: n.ID,
		Description: n.Description, Encoding: n.Encoding, Size: n.Size,
		Extended: &imap.BodyStructureSinglePartExt{Disposition: n.Disposition, Language: n.Language, Location: n.Location},
	}
	lines := int64(0)
	if n.Lines != nil {
		lines = *n.Lines
	}
	switch {
	case n.MsgBody != nil:
		env := n.MsgEnvelope
		if env == nil {
			env = &imap.Envelope{}
		}
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{Envelope: env, BodyStructure: n.MsgBody.toIMAP(), NumLines: lines}
	case strings.EqualFold(n.Type, "text"):
		bs.Text = &imap.BodyStructureText{NumLines: lines}
	}
	return bs
}
