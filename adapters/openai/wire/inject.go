package wire

import (
	"bytes"
	"encoding/json"
	"io"
)

// span is the byte range of one member value in a JSON object.
type span struct{ start, end int }

// memberSpans returns the byte ranges of the values of the members of the
// JSON object in b, by name, plus the offset just after the object's "{".
// A name that occurs more than once maps to the span of its last
// occurrence and dup is true. ok is false if b is not one JSON object.
func memberSpans(b []byte) (spans map[string]span, open int, dup, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, 0, false, false
	}
	open = int(dec.InputOffset())
	spans = make(map[string]span)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, false, false
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return nil, 0, false, false
		}
		end := int(dec.InputOffset())
		if _, seen := spans[name]; seen {
			dup = true
		}
		spans[name] = span{start: end - len(raw), end: end}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, 0, false, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, false, false // trailing data after the object
	}
	return spans, open, dup, true
}

// InjectIncludeUsage returns body with stream_options.include_usage set to
// true, changing nothing else: every other byte of the body is kept as
// sent. It inserts `"stream_options":{"include_usage":true}` when
// stream_options is absent or null, inserts `"include_usage":true` into an
// existing stream_options object that lacks it, or replaces an explicit
// false. ok is false (and body is returned unchanged) if the body is not a
// single JSON object, if stream_options or include_usage occurs twice, if
// stream_options is neither an object nor null, or if include_usage is
// already true.
func InjectIncludeUsage(body []byte) (out []byte, ok bool) {
	spans, open, dup, valid := memberSpans(body)
	if !valid || dup {
		return body, false
	}
	so, found := spans["stream_options"]
	if !found {
		return insertMember(body, open, len(spans) > 0, `"stream_options":{"include_usage":true}`), true
	}
	value := body[so.start:so.end]
	if bytes.Equal(value, []byte("null")) {
		return splice(body, so.start, so.end, []byte(`{"include_usage":true}`)), true
	}
	inner, innerOpen, innerDup, isObject := memberSpans(value)
	if !isObject || innerDup {
		return body, false
	}
	iu, found := inner["include_usage"]
	if !found {
		return insertMember(body, so.start+innerOpen, len(inner) > 0, `"include_usage":true`), true
	}
	if !bytes.Equal(value[iu.start:iu.end], []byte("false")) {
		return body, false // already true, or a value we do not touch
	}
	return splice(body, so.start+iu.start, so.start+iu.end, []byte("true")), true
}

// insertMember inserts member right after the "{" that ends at offset at,
// followed by a comma if the object already has members.
func insertMember(body []byte, at int, nonEmpty bool, member string) []byte {
	ins := member
	if nonEmpty {
		ins += ","
	}
	return splice(body, at, at, []byte(ins))
}

func splice(b []byte, start, end int, repl []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(repl))
	out = append(out, b[:start]...)
	out = append(out, repl...)
	return append(out, b[end:]...)
}
