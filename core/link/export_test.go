package link

// AddDiscoveredForTest adds ep as if a discovery beacon had announced it.
func AddDiscoveredForTest(m *Manager, ep Endpoint) { m.addDiscovered(ep) }
