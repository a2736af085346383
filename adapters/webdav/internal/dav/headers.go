package dav

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// depth values.
const (
	depthZero     = 0
	depthOne      = 1
	depthInfinity = -1
	depthInvalid  = -2
)

// parseDepth parses a Depth header; absent means def. The ",noroot"
// suffix some Microsoft clients send is accepted and reported.
func parseDepth(s string, def int) (depth int, noRoot bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return def, false
	}
	s, noRoot = strings.CutSuffix(s, ",noroot")
	switch strings.TrimSpace(s) {
	case "0":
		return depthZero, noRoot
	case "1":
		return depthOne, noRoot
	case "infinity":
		return depthInfinity, noRoot
	}
	return depthInvalid, false
}

// parseTimeout picks the first usable value of a Timeout header
// ("Second-3600, Infinite"), capped at max; Infinite means max. An absent
// or unusable header gives def.
func parseTimeout(s string, def, max time.Duration) time.Duration {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if strings.EqualFold(part, "infinite") {
			return max
		}
		secs, ok := strings.CutPrefix(part, "Second-")
		if !ok {
			secs, ok = strings.CutPrefix(part, "second-")
		}
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(secs, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		if n > uint64(max/time.Second) {
			return max
		}
		return time.Duration(n) * time.Second
	}
	return def
}

// parseOverwrite parses the Overwrite header: T (the default) or F.
func parseOverwrite(s string) (overwrite, ok bool) {
	switch strings.TrimSpace(s) {
	case "", "T", "t":
		return true, true
	case "F", "f":
		return false, true
	}
	return false, false
}

// destinationPath returns the clean URL path of a Destination header,
// which may be an absolute URL or an absolute path. The host part is not
// compared with the request's: proxies and port forwards rewrite one but
// not the other, and a destination on another server cannot be reached
// through this one anyway.
func destinationPath(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme == "" && !strings.HasPrefix(s, "/")) {
		return "", false
	}
	if strings.Contains(s, "#") || u.RawQuery != "" {
		return "", false
	}
	return cleanPath(u.Path)
}
