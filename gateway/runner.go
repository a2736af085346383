package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Restart backoff: the first restart after initialBackoff, doubling up to
// Settings.MaxBackoff; a plugin that ran for stableAfter starts over.
const (
	initialBackoff = 100 * time.Millisecond
	stableAfter    = 30 * time.Second
	healthTimeout  = 5 * time.Second
	maxHealthFails = 3
)

// State is a plugin's supervision state.
type State string

// Plugin states.
const (
	StateStarting   State = "starting"   // launching, describing, configuring
	StateRunning    State = "running"    // configured and serving
	StateRestarting State = "restarting" // died or was stopped; restart pending
	StateFailed     State = "failed"     // the last start failed; see LastError and RetryAt
	StateStopped    State = "stopped"    // the gateway stopped it
	StateDisabled   State = "disabled"   // enabled = false in the config
)

// errPermanent marks start failures that a retry cannot fix.
var errPermanent = errors.New("not retried until the configuration changes")

// runner supervises one plugin: it starts a process, watches it and
// restarts it, and owns the plugin's service listeners across restarts.
type runner struct {
	g    *Gateway
	cfg  PluginConfig
	path string
	log  *slog.Logger

	st struct {
		sync.Mutex
		state     State
		pid       int
		restarts  int
		lastErr   string
		since     time.Time
		retryAt   time.Time
		desc      sdk.Description
		protocol  int
		health    *sdk.Health
		healthErr string
		inst      *instance
		changed   chan struct{} // closed and replaced whenever inst changes
		services  map[string]*service
	}

	ctx    context.Context // ends when the runner stops
	cancel context.CancelFunc
	done   chan struct{}
}

// startRunner creates the plugin's supervisor and starts it, unless the
// plugin is disabled.
func (g *Gateway) startRunner(pc PluginConfig) *runner {
	r := &runner{g: g, cfg: pc, path: pc.binary(g.pluginDir()), done: make(chan struct{})}
	r.log = g.log.With("plugin", pc.Name)
	r.st.changed = make(chan struct{})
	r.st.services = map[string]*service{}
	r.st.since = time.Now()
	if !pc.enabled() {
		r.st.state = StateDisabled
		close(r.done)
		r.ctx, r.cancel = context.WithCancel(g.ctx)
		return r
	}
	r.st.state = StateStarting
	r.ctx, r.cancel = context.WithCancel(g.ctx)
	go r.run(r.ctx)
	return r
}

// stop stops the plugin and its listeners and waits for all of it.
func (r *runner) stop() {
	r.cancel()
	<-r.done
}

// run is the supervision loop.
func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	defer r.closeServices()
	defer r.g.releaseClaims(r.cfg.Name)
	backoff := initialBackoff
	for {
		r.setState(StateStarting, "", time.Time{})
		inst, err := r.start(ctx)
		if ctx.Err() != nil {
			if inst != nil {
				inst.kill()
			}
			r.setState(StateStopped, "", time.Time{})
			return
		}
		if err != nil {
			if !r.failed(ctx, err, &backoff) {
				return
			}
			continue
		}
		started := time.Now()
		r.setInstance(inst)
		reason := r.watch(ctx, inst)
		r.clearInstance()
		inst.kill()
		if ctx.Err() != nil {
			r.setState(StateStopped, "", time.Time{})
			return
		}
		if time.Since(started) >= stableAfter {
			backoff = initialBackoff
		}
		delay := backoff
		if reason == reasonRenew {
			delay = 0
		} else {
			backoff = r.nextBackoff(backoff)
		}
		r.log.Warn("plugin stopped, restarting", "reason", reason, "pid", inst.p.Pid(), "delay", delay)
		r.restarted(reason, time.Now().Add(delay))
		if !sleep(ctx, delay) {
			r.setState(StateStopped, "", time.Time{})
			return
		}
	}
}

// failed records a failed start and waits before the next attempt. It
// returns false when the runner should end (ctx ended).
func (r *runner) failed(ctx context.Context, err error, backoff *time.Duration) bool {
	if errors.Is(err, sdk.ErrConfigRejected) || errors.Is(err, errPermanent) {
		r.log.Error("plugin failed to start; not retrying until the configuration changes", "path", r.path, "error", err)
		r.setState(StateFailed, err.Error(), time.Time{})
		<-ctx.Done()
		r.setState(StateStopped, err.Error(), time.Time{})
		return false
	}
	retry := time.Now().Add(*backoff)
	r.log.Error("plugin failed to start", "path", r.path, "error", err, "retry_in", *backoff)
	r.setState(StateFailed, err.Error(), retry)
	if !sleep(ctx, *backoff) {
		r.setState(StateStopped, err.Error(), time.Time{})
		return false
	}
	*backoff = r.nextBackoff(*backoff)
	return true
}

func (r *runner) nextBackoff(d time.Duration) time.Duration {
	return min(2*d, time.Duration(r.g.settings().MaxBackoff))
}

// Reasons a running plugin is restarted.
const (
	reasonExited    = "process exited"
	reasonUnhealthy = "health checks failed"
	reasonRenew     = "TLS certificate renewal"
)

// watch waits until the instance's process exits, fails its health checks
// maxHealthFails times in a row (no answer, or a service no longer
// serving), or its certificate is due for renewal; it returns why. It
// returns "" when ctx ends.
func (r *runner) watch(ctx context.Context, inst *instance) string {
	tick := time.NewTicker(time.Duration(r.g.settings().HealthInterval))
	defer tick.Stop()
	var renew <-chan time.Time
	if !inst.renewAt.IsZero() {
		t := time.NewTimer(time.Until(inst.renewAt))
		defer t.Stop()
		renew = t.C
	}
	r.checkHealth(ctx, inst)
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-inst.p.Done():
			return reasonExited
		case <-renew:
			return reasonRenew
		case <-tick.C:
			if r.checkHealth(ctx, inst) {
				fails = 0
			} else if fails++; fails >= maxHealthFails {
				return reasonUnhealthy
			}
		}
	}
}

// checkHealth asks the plugin for its health and records it. It reports
// whether the plugin is sound: the call succeeded and every service's
// Serve is running. A failing HealthChecker (e.g. an unreachable upstream)
// is shown in the status but does not count: a restart would not fix it.
func (r *runner) checkHealth(ctx context.Context, inst *instance) bool {
	hctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	h, err := inst.p.Client.Health(hctx)
	r.st.Lock()
	defer r.st.Unlock()
	if err != nil {
		r.st.healthErr = err.Error()
		return ctx.Err() != nil
	}
	r.st.health, r.st.healthErr = &h, ""
	if !h.Configured {
		return false
	}
	for _, s := range h.Services {
		if !s.Serving {
			return false
		}
	}
	return true
}

// current returns the running instance, waiting up to wait for one while
// the plugin (re)starts.
func (r *runner) current(ctx context.Context, wait time.Duration) (*instance, error) {
	var timer <-chan time.Time
	for {
		r.st.Lock()
		inst, changed := r.st.inst, r.st.changed
		r.st.Unlock()
		if inst != nil && !inst.exited() {
			return inst, nil
		}
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-changed:
		case <-timer:
			return nil, errNoInstance
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// setInstance records a configured, serving process.
func (r *runner) setInstance(inst *instance) {
	r.st.Lock()
	defer r.st.Unlock()
	r.st.inst = inst
	r.st.state, r.st.since, r.st.retryAt, r.st.lastErr = StateRunning, time.Now(), time.Time{}, ""
	r.st.pid, r.st.desc, r.st.protocol = inst.p.Pid(), inst.desc, inst.p.ProtocolVersion()
	r.notifyLocked()
}

// clearInstance forgets the process once it is gone or being stopped.
func (r *runner) clearInstance() {
	r.st.Lock()
	defer r.st.Unlock()
	r.st.inst = nil
	r.st.health = nil
	r.notifyLocked()
}

// notifyLocked wakes everyone waiting in current.
func (r *runner) notifyLocked() {
	close(r.st.changed)
	r.st.changed = make(chan struct{})
}

func (r *runner) restarted(reason string, at time.Time) {
	r.st.Lock()
	defer r.st.Unlock()
	r.st.restarts++
	r.st.state, r.st.since, r.st.retryAt, r.st.lastErr = StateRestarting, time.Now(), at, reason
	r.st.pid = 0
}

func (r *runner) setState(s State, lastErr string, retryAt time.Time) {
	r.st.Lock()
	defer r.st.Unlock()
	if r.st.state != s {
		r.st.since = time.Now()
	}
	r.st.state, r.st.retryAt = s, retryAt
	if lastErr != "" {
		r.st.lastErr = lastErr
	}
	if s != StateRunning {
		r.st.pid = 0
	}
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
