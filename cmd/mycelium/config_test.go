package main

import (
	"os"
	"testing"
)

// The shipped config files parse strictly (node and gateway keys together)
// and merge into valid settings.
func TestShippedConfigs(t *testing.T) {
	for _, path := range []string{"../../configs/mycelium.toml", "../../configs/run.toml"} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := parseConfig(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := cfg.Config.Validate(); err != nil {
			t.Fatalf("%s: gateway: %v", path, err)
		}
		var run RunCmd
		if _, err := run.mergeSettings(&Globals{KeyFile: "/tmp/k"}, nil, &cfg.fileConfig); err != nil {
			t.Fatalf("%s: settings: %v", path, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ name, toml string }{
		{"unknown key", "tcp_listen_prot = 1\n"},
		{"unknown table", "[gatway]\nnames = []\n"},
		{"wrong type", "tcp_listen_port = \"x\"\n"},
		{"bad peers", "peers = [1]\n"},
	} {
		cfg, err := parseConfig([]byte(tt.toml))
		if err == nil {
			var run RunCmd
			_, err = run.mergeSettings(&Globals{KeyFile: "/tmp/k"}, nil, &cfg.fileConfig)
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	cfg, err := parseConfig([]byte("peers = \"tcp://192.0.2.1:9651\"\nno_tun = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	var run RunCmd
	s, err := run.mergeSettings(&Globals{KeyFile: "/tmp/k"}, nil, &cfg.fileConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.link.Peers) != 1 || s.device != "none" {
		t.Errorf("single-string peers / no_tun: %+v %s", s.link.Peers, s.device)
	}
}

// Config file values apply unless the same setting is given as a flag.
// Parsed by the real command line, with its defaults: kong marks flags
// that only got their default as set, which once made every file key with
// a flag default (device, ports, addresses, tun name) dead.
func TestConfigFileVersusFlags(t *testing.T) {
	file := []byte(`device = "netstack"
tcp_listen_port = 19651
api_addr = "127.0.0.1:18989"
tun_name = "myc9"
socks5_listen = "127.0.0.1:11080"
`)
	settings := func(args ...string) *settings {
		t.Helper()
		var cli CLI
		parser, err := newParser(&cli)
		if err != nil {
			t.Fatal(err)
		}
		kctx, err := parser.Parse(expandPeerArgs(args))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := parseConfig(file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := cli.Run.mergeSettings(&Globals{KeyFile: "/tmp/k"}, kctx, &cfg.fileConfig)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := settings()
	if s.device != "netstack" || s.tunName != "myc9" || s.apiAddr != "127.0.0.1:18989" ||
		s.socks5Listen != "127.0.0.1:11080" || s.link.TCPListen.Port() != 19651 {
		t.Errorf("file values not applied: device %q tun %q api %q socks5 %q tcp %q",
			s.device, s.tunName, s.apiAddr, s.socks5Listen, s.link.TCPListen)
	}

	if !s.batchSched {
		t.Error("batch scheduling is off without batch_scheduling in the file")
	}
	cfg, err := parseConfig([]byte("batch_scheduling = false\n"))
	if err != nil {
		t.Fatal(err)
	}
	var run RunCmd
	if off, err := run.mergeSettings(&Globals{KeyFile: "/tmp/k"}, nil, &cfg.fileConfig); err != nil || off.batchSched {
		t.Errorf("batch_scheduling = false: %v, %v", off.batchSched, err)
	}

	s = settings("--device", "none", "--tcp-listen-port=9000", "--api-addr", "127.0.0.1:1", "--tun-name", "x0")
	if s.device != "none" || s.tunName != "x0" || s.apiAddr != "127.0.0.1:1" || s.link.TCPListen.Port() != 9000 {
		t.Errorf("flags did not override the file: device %q tun %q api %q tcp %q",
			s.device, s.tunName, s.apiAddr, s.link.TCPListen)
	}
}

func TestExpandPeerArgs(t *testing.T) {
	got := expandPeerArgs([]string{"--peers", "tcp://a:1", "quic://b:2", "-t", "5", "--peers", "tcp://c:3"})
	want := []string{"--peers", "tcp://a:1", "--peers", "quic://b:2", "-t", "5", "--peers", "tcp://c:3"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
