package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// pluginRuntime runs a Plugin inside its process: it answers the control plane
// and, after a successful Configure, runs Serve for every service on a
// listener of the Demux.
type pluginRuntime struct {
	impl   Plugin
	log    *slog.Logger
	demux  *Demux
	ctx    context.Context // ends at shutdown; the ctx of every Serve
	cancel context.CancelFunc
	wg     sync.WaitGroup // Serve goroutines

	mu struct {
		sync.Mutex
		desc        *Description
		configuring bool
		configured  bool
		services    map[string]*ServiceHealth
		closers     []io.Closer // host callback connections
		shutdown    bool
	}
}

func newRuntime(impl Plugin, log *slog.Logger, demux *Demux) *pluginRuntime {
	rt := &pluginRuntime{impl: impl, log: log, demux: demux}
	rt.ctx, rt.cancel = context.WithCancel(context.Background())
	return rt
}

// describe returns the plugin's description, asking it once.
func (rt *pluginRuntime) describe(ctx context.Context) (Description, error) {
	rt.mu.Lock()
	if d := rt.mu.desc; d != nil {
		rt.mu.Unlock()
		return *d, nil
	}
	rt.mu.Unlock()
	d, err := rt.impl.Describe(ctx)
	if err != nil {
		return Description{}, fmt.Errorf("describe: %w", err)
	}
	if err := d.Validate(); err != nil {
		return Description{}, err
	}
	rt.mu.Lock()
	rt.mu.desc = &d
	rt.mu.Unlock()
	return d, nil
}

// errAlreadyConfigured rejects a second Configure.
var errAlreadyConfigured = errors.New("sdk: plugin is already configured")

// configure calls the plugin's Configure and, on success, starts serving.
// closer (may be nil) is closed at shutdown, or now if configure fails.
func (rt *pluginRuntime) configure(ctx context.Context, cfg Config, host Host, closer io.Closer) (err error) {
	defer func() {
		if err != nil && closer != nil {
			_ = closer.Close()
		}
	}()
	desc, err := rt.describe(ctx)
	if err != nil {
		return err
	}
	for name := range cfg.Services {
		if !desc.hasService(name) {
			return fmt.Errorf("sdk: configure: binding for unknown service %q", name)
		}
	}
	if err := rt.beginConfigure(); err != nil {
		return err
	}
	if err := rt.impl.Configure(ctx, cfg, host); err != nil {
		rt.endConfigure(false, nil)
		return err
	}
	listeners := make(map[string]net.Listener, len(desc.Services))
	for _, s := range desc.Services {
		ln, err := rt.demux.Listen(s.Name)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			rt.endConfigure(false, nil)
			return fmt.Errorf("sdk: configure: %w", err)
		}
		listeners[s.Name] = ln
	}
	rt.endConfigure(true, closer)
	for name, ln := range listeners {
		rt.startService(name, ln)
	}
	return nil
}

func (rt *pluginRuntime) beginConfigure() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case rt.mu.shutdown:
		return errors.New("sdk: plugin is shutting down")
	case rt.mu.configured:
		return errAlreadyConfigured
	case rt.mu.configuring:
		return errors.New("sdk: plugin is being configured")
	}
	rt.mu.configuring = true
	return nil
}

func (rt *pluginRuntime) endConfigure(ok bool, closer io.Closer) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.mu.configuring = false
	rt.mu.configured = ok
	if ok {
		rt.mu.services = map[string]*ServiceHealth{}
		if closer != nil {
			rt.mu.closers = append(rt.mu.closers, closer)
		}
	}
}

// startService runs Serve for one service until it returns.
func (rt *pluginRuntime) startService(name string, ln net.Listener) {
	rt.mu.Lock()
	rt.mu.services[name] = &ServiceHealth{Name: name, Serving: true}
	rt.mu.Unlock()
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		err := rt.impl.Serve(rt.ctx, name, ln)
		_ = ln.Close()
		stopping := rt.ctx.Err() != nil
		if err != nil && !(stopping && errors.Is(err, net.ErrClosed)) {
			rt.log.Error("service stopped", "service", name, "error", err)
		} else if !stopping {
			rt.log.Warn("service returned before shutdown", "service", name)
		}
		rt.mu.Lock()
		h := rt.mu.services[name]
		h.Serving = false
		if err != nil {
			h.Err = err.Error()
		}
		rt.mu.Unlock()
	}()
}

func (rt *pluginRuntime) health(ctx context.Context) Health {
	rt.mu.Lock()
	h := Health{Configured: rt.mu.configured}
	if desc := rt.mu.desc; desc != nil && rt.mu.configured {
		for _, s := range desc.Services {
			if sh := rt.mu.services[s.Name]; sh != nil {
				h.Services = append(h.Services, *sh)
			}
		}
	}
	rt.mu.Unlock()
	if hc, ok := rt.impl.(HealthChecker); ok && h.Configured {
		if err := hc.Health(ctx); err != nil {
			h.Err = err.Error()
		}
	}
	return h
}

// shutdown ends every Serve: it cancels their context, closes the
// listeners, and waits up to grace for them to return. It reports whether
// they all did.
func (rt *pluginRuntime) shutdown(grace time.Duration) bool {
	rt.mu.Lock()
	rt.mu.shutdown = true
	closers := rt.mu.closers
	rt.mu.closers = nil
	rt.mu.Unlock()
	rt.cancel()
	_ = rt.demux.Close()
	done := make(chan struct{})
	go func() { rt.wg.Wait(); close(done) }()
	ok := true
	select {
	case <-done:
	case <-time.After(grace):
		ok = false
		rt.log.Warn("services did not stop in time", "grace", grace)
	}
	for _, c := range closers {
		_ = c.Close()
	}
	return ok
}

func (d Description) hasService(name string) bool {
	for _, s := range d.Services {
		if s.Name == name {
			return true
		}
	}
	return false
}
