//go:build !unix

package ca

// lock does nothing where there is no flock: only one process should
// create the CA at a time.
func lock(string) (func(), error) { return func() {}, nil }
