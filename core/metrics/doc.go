// Package metrics exports the node's counters in the Prometheus text
// format at /metrics, under the reference node's metric names where it has
// them (spec §8.5) and ours elsewhere (docs/metrics.md lists every one).
//
// Components do not import Prometheus: each exposes its counters as a
// slice of Sample values (the router, the node, the message bus), and the
// Exporter turns the union of those sources into Prometheus metrics at
// scrape time. A Sample has at most one label, which is all the reference's
// metrics need.
package metrics
