// Package router implements the Babel subset the reference Mycelium node
// speaks (spec §4): neighbours measured by Hello/IHU, a routing table of
// selected and fallback routes, the source table and feasibility, seqno
// and route requests with their caches, triggered updates with split
// horizon, retractions, expiry, and the own-/64 announcement.
//
// # Concurrency
//
// One goroutine owns all routing state. Links feed it through LinkUp,
// LinkDown and HandleTLV; API callers reach it through the snapshot
// methods, which run a closure on that goroutine. Three things do not wait
// for it:
//
//   - A liveness goroutine sends the periodic Hellos and declares silent
//     neighbours dead, so a router busy with a flood of Updates (every new
//     route costs an X25519) neither stops its Hellos nor misses a dead
//     link, and its neighbours do not take it for dead.
//   - Hello and IHU are handled on the link's reader goroutine. A Hello is
//     answered with an IHU immediately, because the time we take is part
//     of the link cost our peer measures for us; an IHU updates the
//     neighbour's RTT and liveness through atomics.
//   - The data plane calls Lookup for every packet. The forwarding table
//     is a set of immutable Forward snapshots, one per prefix, held in
//     4096 copy-on-write shards keyed by the /64's upper 64 bits (longer
//     prefixes, rare, in a small per-length table searched first). A
//     lookup is two atomic loads and a map access: no lock, no
//     allocation. A Forward carries everything a packet needs: the next
//     hop, the shared secret (computed once, when the route list is
//     created), the key the prefix is bound to, and the expiry that
//     triggers the pre-expiry route request.
//
// # Fast failover
//
// The reference declares a neighbour dead after 43 s without an IHU,
// checked every 10 s, so a silently failing link black-holes traffic for
// up to 53 s. This router sends a Hello every HelloInterval (500 ms by
// default) instead of every 20 s. The reference answers every Hello with
// an IHU and ignores the Hello interval field, so a reference peer keeps
// seeing an ordinary Hello/IHU exchange, just a more frequent one (two
// 16-byte packets per second per link). A neighbour is declared dead when
// neither an IHU nor any byte at all (Link.LastReceive) arrived for
// DeadInterval (1.5 s, three Hellos), checked every DeadCheckInterval
// (100 ms). Counting every received byte means a link busy with data is
// never declared dead because IHUs queue behind that data. A dead
// neighbour is removed and its link closed (the link manager reconnects),
// and spec §4.13 runs at once: every selected route through it is
// retracted and route selection picks the feasible fallback, with a
// triggered update. A silent failure therefore moves traffic within about
// DeadInterval + DeadCheckInterval (< 2 s); a clean link failure
// (LinkDown) within milliseconds.
//
// When the fallback is not feasible (Babel's loop avoidance), the router
// asks for a new seqno. When the data plane then still needs the prefix
// and no live neighbour announced it, Want sends a route request as well,
// so the answer from another side of the network brings a seqno request
// to the origin instead of waiting for the retracted entry to expire.
//
// The RTT sample matches each IHU with the oldest unanswered Hello (links
// are reliable and ordered, and every node answers each Hello with one
// IHU), so RTTs longer than the Hello interval are measured right.
//
// # Other differences from the reference
//
// Everything on the wire is what the reference sends and accepts. The
// behaviour differs where the reference can get stuck:
//
//   - A seqno request for our own subnet that arrives within 4 s of our
//     last bump is honoured when the 4 s are over instead of dropped.
//   - A seqno request we forwarded suppresses the same request for
//     SeqnoRetry (4 s) instead of 60 s, and the suppression outlives the
//     answer, so a lost request can be retried but an answer that does
//     not satisfy the asker cannot start a request/answer loop.
//   - When the answer to a forwarded seqno request arrives on a route
//     other than the selected one, that route is selected, so the asker
//     gets the seqno it asked for and we advertise the route we use.
//   - A reply to a seqno request carries the metric through our next hop
//     (the reference adds the cost of the link to the asker).
//   - A new query (nothing known about the subnet) goes to every
//     neighbour, and a route request we originate suppresses repeats to
//     the same neighbours for RouteRequestRetry (2 s) rather than 15 s;
//     forwarded requests keep the reference's 15 s.
//   - Route requests for prefixes no valid Update could answer (outside
//     400::/7, shorter than /64) are dropped, and at most MaxQueries
//     subnets are queried at once.
//   - When the queue of input is full, route requests are dropped like
//     Updates and seqno requests, so a link's reader never waits on a busy
//     router except for a neighbour's own-subnet Update.
//   - A new neighbour's first RTT sample replaces the initial cost of 1000
//     (later samples are smoothed as the reference does), and route
//     selection reruns when a neighbour's cost moves by more than the
//     hysteresis, at most once per CostInterval, for the subnets with a
//     route through it (linkcost.go); a route whose metric fell more than
//     10 below the lowest we advertised is advertised again. The reference
//     reselects only on Updates, so traffic stayed on a detour after a
//     better link came up.
//   - On link up we also send a wildcard route request when we have
//     routes: the neighbour's dump tells us the routes through it at once
//     (wildcardRequest).
package router
