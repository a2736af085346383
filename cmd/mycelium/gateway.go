package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mycelium-go/mycelium/gateway"
)

// defaultAPIAddr is the reference node's default API address.
const defaultAPIAddr = "127.0.0.1:8989"

// apiTimeout bounds one CLI request to the node's API.
const apiTimeout = 30 * time.Second

// GatewayCmd groups the commands that talk to a running node's gateway.
type GatewayCmd struct {
	APIAddr string `name:"api-addr" env:"MYCELIUM_API_ADDR" default:"127.0.0.1:8989" help:"Address of the node's REST API."`

	Status GatewayStatusCmd `cmd:"" help:"Show the plugins, their services and the port forwards."`
	Reload GatewayReloadCmd `cmd:"" help:"Re-read the config file: policy, plugins, forwards."`
}

// GatewayStatusCmd prints the gateway's status.
type GatewayStatusCmd struct {
	JSON bool `help:"Print the API's JSON."`
}

// Run fetches /api/v1/gateway/plugins and prints it.
func (c *GatewayStatusCmd) Run(gw *GatewayCmd) error {
	body, err := apiCall(http.MethodGet, gw.APIAddr, gateway.PathPlugins)
	if err != nil {
		return err
	}
	if c.JSON {
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			return fmt.Errorf("gateway status: %w", err)
		}
		_, err = fmt.Fprintln(os.Stdout, strings.TrimSpace(out.String()))
		return err
	}
	var st gateway.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("gateway status: decode: %w", err)
	}
	return printStatus(os.Stdout, st, time.Now())
}

// GatewayReloadCmd asks the node to reload its configuration.
type GatewayReloadCmd struct{}

// Run posts /api/v1/gateway/reload.
func (c *GatewayReloadCmd) Run(gw *GatewayCmd) error {
	if _, err := apiCall(http.MethodPost, gw.APIAddr, gateway.PathReload); err != nil {
		return err
	}
	fmt.Println("configuration reloaded")
	return nil
}

// apiCall does one request to the node's API and returns the body of a
// 2xx answer; other answers become errors carrying the API's message.
func apiCall(method, addr, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the node's API at %s (is the node running? see --api-addr): %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return body, nil
}

// printStatus writes st as tables: the plugins, their services (one row
// per service, its listeners below it), and the forwards. Each table is
// aligned on its own.
func printStatus(w io.Writer, st gateway.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tSTATE\tPID\tRESTARTS\tSINCE\tHEALTH")
	for _, p := range st.Plugins {
		health := "ok"
		if !p.Healthy {
			health = orDash(p.Health)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.Name, p.State, pid(p.Pid), p.Restarts, age(now, p.Since), health)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range st.Plugins {
		if p.LastError != "" {
			fmt.Fprintf(w, "%s: last error: %s\n", p.Name, firstLine(p.LastError))
		}
	}

	var services bool
	for _, p := range st.Plugins {
		services = services || len(p.Services) > 0
	}
	if services {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tSTATE\tPROTOCOL\tSERVING\tACCEPTED\tREFUSED\tFAILED\tACTIVE\tLISTENERS")
		for _, p := range st.Plugins {
			for _, s := range p.Services {
				var lns []string
				for _, l := range s.Listeners {
					ln := l.Origin + " " + l.Addr
					if l.Error != "" {
						ln += " (error: " + l.Error + ")"
					}
					lns = append(lns, ln)
				}
				// The listeners are the last cell, so long addresses do not
				// widen the columns.
				fmt.Fprintf(tw, "%s/%s\t%s\t%s/%s\t%v\t%d\t%d\t%d\t%d\t%s\n",
					p.Name, s.Name, orDash(s.State), s.Protocol, s.TLS, s.Serving, s.Accepted, s.Refused, s.Failed, s.Active,
					orDash(strings.Join(lns, ", ")))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(st.Forwards) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FORWARD\tTARGET\tACCEPTED\tFAILED\tACTIVE")
		for _, f := range st.Forwards {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d", f.Local, f.Target, f.Accepted, f.Failed, f.Active)
			if f.Error != "" {
				fmt.Fprintf(tw, "\terror: %s", f.Error)
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.DialOut != "" {
		fmt.Fprintf(w, "\ndial-out (SOCKS5): %s\n", st.DialOut)
	}
	return nil
}

func pid(p int) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func age(now, since time.Time) string {
	if since.IsZero() {
		return "-"
	}
	return now.Sub(since).Truncate(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return firstLine(s)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readNodeFile reads and strictly parses the config file; no path means
// no file (the defaults).
func readNodeFile(path string) (*configFile, error) {
	if path == "" {
		return &configFile{}, nil
	}
	cfg, _, err := loadConfigFile(path)
	return cfg, err
}

// gatewayConfig reads the gateway's part of the node's config file; no
// file means the defaults.
func gatewayConfig(path string) (gateway.Config, error) {
	f, err := readNodeFile(path)
	if err != nil {
		return gateway.Config{}, err
	}
	return f.Config, nil
}

// configPath is the config file the node would read: -c, else the
// reference's default path if it exists, else none.
func (g *Globals) configPath() string {
	if g.ConfigFile != "" {
		return g.ConfigFile
	}
	if _, err := os.Stat(defaultConfigFile()); err == nil {
		return defaultConfigFile()
	}
	return ""
}

// parseGatewayConfig decodes the gateway's tables of a config file.
func parseGatewayConfig(raw []byte) (gateway.Config, error) {
	if raw == nil {
		return gateway.Config{}, nil
	}
	f, err := parseConfig(raw)
	if err != nil {
		return gateway.Config{}, err
	}
	return f.Config, nil
}

// dataDir is the node's data directory as the node resolves it: the
// flag's value, else $MYCELIUM_DATA_DIR, else data_dir from the config
// file, else the directory of the key file.
func (g *Globals) dataDir(flag string) string {
	if flag != "" {
		return flag
	}
	if d := os.Getenv("MYCELIUM_DATA_DIR"); d != "" {
		return d
	}
	if f, err := readNodeFile(g.configPath()); err == nil && f.DataDir != "" {
		return f.DataDir
	}
	return filepath.Dir(g.keyFile())
}
