package mail

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parsePlist decodes an XML property list into maps, slices, strings,
// ints, bools and []byte, so tests read a profile as a client would.
func parsePlist(b []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("plist: no <plist>: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "plist" {
			se, err := nextStart(dec)
			if err != nil {
				return nil, err
			}
			return plistValue(dec, se)
		}
	}
}

// nextStart returns the next start element; an end element first is an
// error.
func nextStart(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errEnd
		}
	}
}

var errEnd = errors.New("plist: end of container")

func plistValue(dec *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		for {
			k, err := nextStart(dec)
			if errors.Is(err, errEnd) {
				return m, nil
			}
			if err != nil || k.Name.Local != "key" {
				return nil, fmt.Errorf("plist: dict wants <key>, got %v %v", k.Name.Local, err)
			}
			var key string
			if err := dec.DecodeElement(&key, &k); err != nil {
				return nil, err
			}
			vs, err := nextStart(dec)
			if err != nil {
				return nil, fmt.Errorf("plist: value of %s: %w", key, err)
			}
			if m[key], err = plistValue(dec, vs); err != nil {
				return nil, err
			}
		}
	case "array":
		var a []any
		for {
			vs, err := nextStart(dec)
			if errors.Is(err, errEnd) {
				return a, nil
			}
			if err != nil {
				return nil, err
			}
			v, err := plistValue(dec, vs)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	}
	var text string
	if err := dec.DecodeElement(&text, &se); err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "string":
		return text, nil
	case "integer":
		return strconv.Atoi(text)
	case "true", "false":
		return se.Name.Local == "true", nil
	case "data":
		return base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	}
	return nil, fmt.Errorf("plist: unknown element <%s>", se.Name.Local)
}

// payloads returns a profile's payloads by PayloadType.
func payloads(profile []byte) (map[string]map[string]any, error) {
	v, err := parsePlist(profile)
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok || top["PayloadType"] != "Configuration" {
		return nil, fmt.Errorf("plist: not a configuration profile: %v", v)
	}
	list, _ := top["PayloadContent"].([]any)
	out := map[string]map[string]any{}
	for _, p := range list {
		d, ok := p.(map[string]any)
		typ, _ := d["PayloadType"].(string)
		if !ok || typ == "" || out[typ] != nil {
			return nil, fmt.Errorf("plist: bad or repeated payload %v", p)
		}
		out[typ] = d
	}
	return out, nil
}
