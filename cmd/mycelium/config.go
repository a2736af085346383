package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/mycelium-go/mycelium/gateway"
)

// configFile is the whole TOML config file: the node's keys and the
// gateway's tables, decoded strictly together so that a misspelt key
// anywhere is an error.
type configFile struct {
	fileConfig
	gateway.Config
}

// fileConfig holds the node's keys of the TOML config file. It accepts every key of the
// reference node (spec §8.4) and adds ours. Unknown keys are an error that
// names the key and its line.
type fileConfig struct {
	// The reference node's keys.
	Peers                   any      `toml:"peers"` // a string or an array of strings
	TCPListenPort           *uint16  `toml:"tcp_listen_port"`
	DisableQUIC             bool     `toml:"disable_quic"`
	QUICListenPort          *uint16  `toml:"quic_listen_port"`
	NoTun                   bool     `toml:"no_tun"`
	TunName                 string   `toml:"tun_name"`
	DisablePeerDiscovery    bool     `toml:"disable_peer_discovery"`
	PeerDiscoveryPort       *uint16  `toml:"peer_discovery_port"`
	PeerDiscoveryInterfaces []string `toml:"peer_discovery_interfaces"`
	APIAddr                 string   `toml:"api_addr"`
	JSONRPCAddr             string   `toml:"jsonrpc_addr"`
	MetricsAPIAddress       string   `toml:"metrics_api_address"`
	FirewallMark            *uint32  `toml:"firewall_mark"`
	UpdateWorkers           *int     `toml:"update_workers"`
	TopicConfig             string   `toml:"topic_config"`
	CDNCache                string   `toml:"cdn_cache"`
	EnableDNS               bool     `toml:"enable_dns"`
	VsockListenPort         *uint32  `toml:"vsock_listen_port"`

	// Ours.
	KeyFile      string `toml:"key_file"`
	Device       string `toml:"device"`
	DataDir      string `toml:"data_dir"`
	SOCKS5Listen string `toml:"socks5_listen"`
	APIToken     string `toml:"api_token"`
	// BatchScheduling: nil means on (see node.Config.BatchScheduling).
	BatchScheduling *bool        `toml:"batch_scheduling"`
	Router          routerTimers `toml:"router"`
}

// routerTimers are the optional [router] table: the routing timers.
type routerTimers struct {
	HelloInterval  duration `toml:"hello_interval"`
	DeadInterval   duration `toml:"dead_interval"`
	UpdateInterval duration `toml:"update_interval"`
	QueryTimeout   duration `toml:"query_timeout"`
}

// duration is a time.Duration written as a Go duration string ("500ms").
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	*d = duration(v)
	return nil
}

// defaultConfigFile is where the reference looks for its config when -c is
// not given (spec §8.4).
func defaultConfigFile() string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "ThreeFold Tech", "Mycelium", "mycelium.toml")
	case "windows":
		base := os.Getenv("APPDATA")
		if base == "" {
			base = filepath.Join(home, "AppData", "Roaming")
		}
		return filepath.Join(base, "ThreeFold Tech", "Mycelium", "mycelium.toml")
	default:
		base := os.Getenv("XDG_CONFIG_HOME")
		if base == "" {
			base = filepath.Join(home, ".config")
		}
		return filepath.Join(base, "mycelium", "mycelium.toml")
	}
}

// loadConfigFile reads the config file named by -c, or the default one if
// it exists. An explicit path that does not exist is an error, as in the
// reference. It returns the parsed file and its raw bytes (the gateway
// decodes its own tables from the same bytes).
func loadConfigFile(path string) (*configFile, []byte, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigFile()
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &configFile{}, nil, nil
		}
		return nil, nil, fmt.Errorf("config file: %w", err)
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, raw, nil
}

// parseConfig decodes a config file, rejecting keys neither the node nor
// the gateway knows.
func parseConfig(raw []byte) (*configFile, error) {
	var cfg configFile
	dec := toml.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, describeTOMLError(err)
	}
	return &cfg, nil
}

// describeTOMLError turns go-toml's errors into one line with a position.
func describeTOMLError(err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Errorf("line %d, column %d: %s", row, col, de.Error())
	}
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		return errors.New(sm.String())
	}
	return err
}

// peers returns the peers key as a list: the reference accepts a single
// string as well as an array.
func (c *fileConfig) peers() ([]string, error) {
	switch v := c.Peers.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("peers: %v is not a string", p)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("peers: want a string or an array of strings, got %T", v)
	}
}
