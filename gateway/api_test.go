package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/gateway/acl"
)

func TestAPI(t *testing.T) {
	cfg := whoamiConfig()
	cfg.Forwards = []ForwardConfig{{Local: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Remote: friendKey.String() + ":7"}}
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
	var reloads int
	reload := func(ctx context.Context) error {
		reloads++
		if reloads == 2 {
			bad := cfg
			bad.Policy = map[string]acl.Rule{"x": {Allow: []string{"nope"}}}
			return n.g.Reload(bad)
		}
		if reloads == 3 {
			return errors.New("cannot read the config file")
		}
		return n.g.Reload(cfg)
	}
	srv := httptest.NewServer(n.g.Handler(reload))
	defer srv.Close()

	var st Status
	get(t, srv.URL+PathPlugins, http.StatusOK, &st)
	if len(st.Plugins) != 1 || st.Plugins[0].Name != "whoami" || st.Plugins[0].State != StateRunning ||
		st.Plugins[0].Pid == 0 || len(st.Plugins[0].Services) != 1 || st.Plugins[0].Services[0].Overlay == "" || st.Plugins[0].Services[0].State != "listening" {
		t.Errorf("status %+v", st)
	}
	if len(st.Forwards) != 1 || st.Forwards[0].Remote != cfg.Forwards[0].Remote {
		t.Errorf("forwards %+v", st.Forwards)
	}
	var ps PluginStatus
	get(t, srv.URL+PathPlugins+"/whoami", http.StatusOK, &ps)
	if ps.Name != "whoami" || ps.Version != "1.0.0" || ps.Protocol != 1 {
		t.Errorf("plugin status %+v", ps)
	}
	var apiErr apiError
	get(t, srv.URL+PathPlugins+"/nope", http.StatusNotFound, &apiErr)
	if !strings.Contains(apiErr.Error, "nope") {
		t.Errorf("404 body %+v", apiErr)
	}

	for i, want := range []int{http.StatusNoContent, http.StatusBadRequest, http.StatusInternalServerError} {
		resp, err := http.Post(srv.URL+PathReload, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("reload %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	noReload := httptest.NewServer(n.g.Handler(nil))
	defer noReload.Close()
	resp, err := http.Post(noReload.URL+PathReload, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("reload without a ReloadFunc: %d", resp.StatusCode)
	}
}

func get(t *testing.T, url string, code int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, code)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
