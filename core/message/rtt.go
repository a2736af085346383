package message

import "time"

// rttState is an RFC 6298 retransmission-timeout estimator with
// exponential backoff.
type rttState struct {
	srtt, rttvar   time.Duration
	has            bool
	backoff        uint
	init, min, max time.Duration
}

func newRTT(c *Config, seed rttSeed, seeded bool) rttState {
	r := rttState{init: c.InitialRTO, min: c.MinRTO, max: c.MaxRTO}
	if seeded {
		r.srtt, r.rttvar, r.has = seed.srtt, seed.rttvar, true
	}
	return r
}

// sample folds in one round-trip measurement and resets the backoff.
func (r *rttState) sample(d time.Duration) {
	d = max(d, 0)
	if !r.has {
		r.srtt, r.rttvar, r.has = d, d/2, true
	} else {
		diff := r.srtt - d
		if diff < 0 {
			diff = -diff
		}
		r.rttvar = (3*r.rttvar + diff) / 4
		r.srtt = (7*r.srtt + d) / 8
	}
	r.backoff = 0
}

// rto is the current retransmission timeout.
func (r *rttState) rto() time.Duration {
	base := r.init
	if r.has {
		base = r.srtt + max(4*r.rttvar, time.Millisecond)
	}
	base = min(max(base, r.min), r.max)
	for i := uint(0); i < r.backoff && base < r.max; i++ {
		base *= 2
	}
	return min(base, r.max)
}

// backOff doubles the timeout (up to the maximum).
func (r *rttState) backOff() {
	if r.backoff < 16 {
		r.backoff++
	}
}

// window is the congestion window, in chunks: slow start to ssthresh,
// then additive increase; halved once per window of losses.
type window struct {
	cwnd, ssthresh float64
	min, max       float64
	// recover is the transmission sequence number up to which a loss is
	// part of the episode already answered.
	recover uint32
	fixed   bool
	// prior is the window before the last timeout, restored if the
	// timeout proves spurious.
	prior struct{ cwnd, ssthresh float64 }
}

func newWindow(c *Config) window {
	return window{
		cwnd: float64(c.InitialWindow), ssthresh: float64(c.MaxWindow),
		min: float64(c.MinWindow), max: float64(c.MaxWindow), fixed: c.fixedWindow,
	}
}

func (w *window) size() int { return int(w.cwnd) }

// acked grows the window for one newly acknowledged chunk.
func (w *window) acked() {
	if w.cwnd < w.ssthresh {
		w.cwnd++
	} else {
		w.cwnd += 1 / w.cwnd
	}
	w.cwnd = min(w.cwnd, w.max)
}

// lost answers a loss of the chunk sent as seq; txSeq is the latest
// sequence number. It reports whether the window shrank.
func (w *window) lost(seq, txSeq uint32) bool {
	if seq <= w.recover || w.fixed {
		return false
	}
	w.ssthresh = max(w.cwnd/2, w.min)
	w.cwnd = w.ssthresh
	w.recover = txSeq
	return true
}

// timeout collapses the window after a retransmission timeout.
func (w *window) timeout(inflight int, txSeq uint32) {
	if w.fixed {
		return
	}
	w.prior.cwnd, w.prior.ssthresh = w.cwnd, w.ssthresh
	w.ssthresh = max(float64(inflight)/2, w.min)
	w.cwnd = w.min
	w.recover = txSeq
}

// undo restores the window a spurious timeout collapsed.
func (w *window) undo() {
	if w.prior.cwnd > w.cwnd {
		w.cwnd, w.ssthresh = w.prior.cwnd, w.prior.ssthresh
	}
	w.prior.cwnd = 0
}
