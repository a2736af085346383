// Package davxml parses WebDAV request bodies (PROPFIND, PROPPATCH, LOCK)
// and writes response bodies (multistatus, lock discovery, errors).
//
// Property values and lock owners are kept as canonical XML: every
// element declares the namespace it uses, so a value stored from one
// request can be written into any later response without the prefixes of
// the original document. Parsing is strict: malformed XML and empty
// prefixed namespace declarations (xmlns:p="") are errors, which the
// handler turns into 400 Bad Request.
package davxml
