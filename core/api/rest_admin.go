package api

import (
	"net/http"
	"net/netip"
)

// routes registers every REST path of the reference (spec §8.1).
func (s *Server) routes() {
	const v1 = "/api/v1"
	m := s.mux
	m.HandleFunc("GET "+v1+"/admin", s.getInfo)
	m.HandleFunc("GET "+v1+"/admin/peers", s.getPeers)
	m.HandleFunc("POST "+v1+"/admin/peers", s.addPeer)
	m.HandleFunc("DELETE "+v1+"/admin/peers/{endpoint}", s.deletePeer)
	m.HandleFunc("GET "+v1+"/admin/routes/selected", s.getSelectedRoutes)
	m.HandleFunc("GET "+v1+"/admin/routes/fallback", s.getFallbackRoutes)
	m.HandleFunc("GET "+v1+"/admin/routes/queried", s.getQueriedSubnets)
	m.HandleFunc("GET "+v1+"/admin/proxy", s.getProxies)
	m.HandleFunc("POST "+v1+"/admin/proxy", s.connectProxy)
	m.HandleFunc("DELETE "+v1+"/admin/proxy", s.disconnectProxy)
	m.HandleFunc("GET "+v1+"/admin/proxy/probe", s.startProxyProbe)
	m.HandleFunc("DELETE "+v1+"/admin/proxy/probe", s.stopProxyProbe)
	m.HandleFunc("GET "+v1+"/admin/stats/packets", s.getPacketStatistics)
	m.HandleFunc("GET "+v1+"/pubkey/{ip}", s.getPublicKey)

	m.HandleFunc("GET "+v1+"/messages", s.popMessage)
	m.HandleFunc("POST "+v1+"/messages", s.pushMessage)
	m.HandleFunc("POST "+v1+"/messages/reply/{id}", s.replyMessage)
	m.HandleFunc("GET "+v1+"/messages/status/{id}", s.messageStatus)

	m.HandleFunc("GET "+v1+"/messages/topics/default", s.getDefaultTopicAction)
	m.HandleFunc("PUT "+v1+"/messages/topics/default", s.setDefaultTopicAction)
	m.HandleFunc("GET "+v1+"/messages/topics", s.getTopics)
	m.HandleFunc("POST "+v1+"/messages/topics", s.addTopic)
	m.HandleFunc("DELETE "+v1+"/messages/topics/{topic}", s.removeTopic)
	m.HandleFunc("GET "+v1+"/messages/topics/{topic}/sources", s.getTopicSources)
	m.HandleFunc("POST "+v1+"/messages/topics/{topic}/sources", s.addTopicSource)
	m.HandleFunc("DELETE "+v1+"/messages/topics/{topic}/sources/{subnet}", s.removeTopicSource)
	m.HandleFunc("GET "+v1+"/messages/topics/{topic}/forward", s.getTopicForward)
	m.HandleFunc("PUT "+v1+"/messages/topics/{topic}/forward", s.setTopicForward)
	m.HandleFunc("DELETE "+v1+"/messages/topics/{topic}/forward", s.removeTopicForward)
}

func (s *Server) info() Info {
	i := s.deps.Node.Info()
	if i.NodeStartTime == 0 {
		i.NodeStartTime = s.cfg.StartTime.Unix()
	}
	return i
}

func (s *Server) getInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.info())
}

func (s *Server) peers() []PeerStats {
	if p := s.deps.Node.Peers(); p != nil {
		return p
	}
	return []PeerStats{}
}

func (s *Server) getPeers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.peers())
}

// AddPeerRequest is the body of POST /admin/peers.
type AddPeerRequest struct {
	Endpoint string `json:"endpoint"`
}

func (s *Server) addPeer(w http.ResponseWriter, r *http.Request) {
	var req AddPeerRequest
	if err := decodeJSON(w, r, smallBody, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Endpoint == "" {
		writeError(w, badRequest("endpoint is missing; want e.g. {\"endpoint\": \"tcp://192.0.2.1:9651\"}"))
		return
	}
	if err := s.deps.Node.AddPeer(req.Endpoint); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deletePeer(w http.ResponseWriter, r *http.Request) {
	if err := s.deps.Node.RemovePeer(r.PathValue("endpoint")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// answer writes v, or err as a 500 with its message.
func answer[T any](w http.ResponseWriter, v []T, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(v))
}

func (s *Server) getSelectedRoutes(w http.ResponseWriter, r *http.Request) {
	v, err := s.deps.Node.SelectedRoutes(r.Context())
	answer(w, v, err)
}

func (s *Server) getFallbackRoutes(w http.ResponseWriter, r *http.Request) {
	v, err := s.deps.Node.FallbackRoutes(r.Context())
	answer(w, v, err)
}

func (s *Server) getQueriedSubnets(w http.ResponseWriter, r *http.Request) {
	v, err := s.deps.Node.QueriedSubnets(r.Context())
	answer(w, v, err)
}

func (s *Server) packetStatistics() PacketStatistics {
	p := s.deps.Node.PacketStatistics()
	p.BySource, p.ByDestination = nonNil(p.BySource), nonNil(p.ByDestination)
	return p
}

func (s *Server) getPacketStatistics(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.packetStatistics())
}

func (s *Server) getPublicKey(w http.ResponseWriter, r *http.Request) {
	ip, err := netip.ParseAddr(r.PathValue("ip"))
	if err != nil {
		writeError(w, badRequest("%q is not an IP address", r.PathValue("ip")))
		return
	}
	pk, ok := s.deps.Node.PublicKeyOf(ip)
	if !ok {
		http.Error(w, "no public key known for "+ip.String(), http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, PublicKeyResponse{PublicKey: pk.String()})
}

func (s *Server) proxyList() []string {
	out := []string{}
	for _, a := range s.deps.Proxy.Proxies() {
		out = append(out, a.String())
	}
	return out
}

func (s *Server) getProxies(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.proxyList())
}

func (s *Server) connectProxy(w http.ResponseWriter, r *http.Request) {
	var req ConnectProxyRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, smallBody, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	var remote *netip.AddrPort
	if req.Remote != nil {
		ap, err := netip.ParseAddrPort(*req.Remote)
		if err != nil {
			writeError(w, badRequest("remote %q is not an ip:port socket address", *req.Remote))
			return
		}
		remote = &ap
	}
	addr, err := s.deps.Proxy.Connect(r.Context(), remote)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, addr.String())
}

func (s *Server) disconnectProxy(w http.ResponseWriter, _ *http.Request) {
	s.deps.Proxy.Disconnect()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) startProxyProbe(w http.ResponseWriter, _ *http.Request) {
	s.deps.Proxy.StartProbe()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) stopProxyProbe(w http.ResponseWriter, _ *http.Request) {
	s.deps.Proxy.StopProbe()
	w.WriteHeader(http.StatusNoContent)
}
