package acl

import (
	"fmt"
	"sort"
)

// Policy is a compiled, immutable access policy. It is safe for concurrent
// use; replace it as a whole (an atomic pointer) to reload.
type Policy struct {
	services map[string]*servicePolicy
}

// servicePolicy is one service's rule as sets. denyAll and allowAll come
// from "*" entries.
type servicePolicy struct {
	allowAll bool
	denyAll  bool
	allow    map[Key]struct{}
	deny     map[Key]struct{}
}

// Compile validates cfg and builds the policy. Errors name the bad entry,
// e.g. `policy.imap.allow[2] "group:freinds": no group "freinds"`.
func Compile(cfg Config) (*Policy, error) {
	groups, err := compileGroups(cfg.Groups)
	if err != nil {
		return nil, err
	}
	p := &Policy{services: make(map[string]*servicePolicy, len(cfg.Services))}
	for _, svc := range sortedKeys(cfg.Services) {
		if err := ValidateName(svc); err != nil {
			return nil, fmt.Errorf("%w: policy: service %w", ErrPolicy, err)
		}
		r := cfg.Services[svc]
		sp := &servicePolicy{}
		if sp.allow, sp.allowAll, err = expand(r.Allow, groups, "policy."+svc+".allow"); err != nil {
			return nil, err
		}
		if sp.deny, sp.denyAll, err = expand(r.Deny, groups, "policy."+svc+".deny"); err != nil {
			return nil, err
		}
		p.services[svc] = sp
	}
	return p, nil
}

// compileGroups parses every group's members.
func compileGroups(in map[string][]string) (map[string][]Key, error) {
	out := make(map[string][]Key, len(in))
	for _, name := range sortedKeys(in) {
		if err := ValidateName(name); err != nil {
			return nil, fmt.Errorf("%w: groups: %w", ErrPolicy, err)
		}
		keys := make([]Key, 0, len(in[name]))
		for i, s := range in[name] {
			k, err := ParseKey(s)
			if err != nil {
				return nil, fmt.Errorf("%w: groups.%s[%d] %q: %w", ErrPolicy, name, i, s, err)
			}
			keys = append(keys, k)
		}
		out[name] = keys
	}
	return out, nil
}

// expand turns a list of entries into a key set, resolving groups; all
// reports a "*" entry. where names the list in errors.
func expand(entries []string, groups map[string][]Key, where string) (set map[Key]struct{}, all bool, err error) {
	set = make(map[Key]struct{}, len(entries))
	for i, s := range entries {
		e, err := ParseEntry(s)
		if err != nil {
			return nil, false, fmt.Errorf("%s[%d]: %w", where, i, err)
		}
		switch {
		case e.Any:
			all = true
		case e.Group != "":
			members, ok := groups[e.Group]
			if !ok {
				return nil, false, fmt.Errorf("%w: %s[%d] %q: no group %q in [groups]", ErrPolicy, where, i, s, e.Group)
			}
			for _, k := range members {
				set[k] = struct{}{}
			}
		default:
			set[e.Key] = struct{}{}
		}
	}
	return set, all, nil
}

// Allow reports whether key may connect to service over the overlay. An
// unknown service, a nil policy and the zero key are refused.
func (p *Policy) Allow(service string, key Key) bool {
	if p == nil || key == (Key{}) {
		return false
	}
	sp, ok := p.services[service]
	if !ok || sp.denyAll {
		return false
	}
	if _, denied := sp.deny[key]; denied {
		return false
	}
	if sp.allowAll {
		return true
	}
	_, ok = sp.allow[key]
	return ok
}

// Services returns the names of the services the policy has a rule for,
// sorted.
func (p *Policy) Services() []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.services))
	for s := range p.services {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open reports whether the service admits any key at all ("*" without a
// "*" deny): such services are worth a warning in the log.
func (p *Policy) Open(service string) bool {
	if p == nil {
		return false
	}
	sp, ok := p.services[service]
	return ok && sp.allowAll && !sp.denyAll
}
