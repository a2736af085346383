package webdav

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// benchTree serves an identity whose /big collection holds n small
// files, withProps of them carrying a dead property.
func benchTree(b *testing.B, n, withProps int) dc {
	b.Helper()
	t := &testing.T{}
	ta := newTestAdapter(t, b.TempDir(), "", nil)
	b.Cleanup(func() { ta.a.Close() })
	base := ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1))
	c := dc{t, base, ""}
	dir := filepath.Join(ta.dataDir, "trees", "keys", keyOf(1).String(), "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.txt", i)), []byte("content"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range withProps {
		if code, _, _ := c.call("PROPPATCH", fmt.Sprintf("/big/file-%05d.txt", i), setProp("urn:bench", "tag", "v")); code != 207 {
			b.Fatalf("PROPPATCH = %d", code)
		}
	}
	return c
}

func benchPropfind(b *testing.B, n, withProps int, body string) {
	c := benchTree(b, n, withProps)
	client := &http.Client{}
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		req, _ := http.NewRequest("PROPFIND", c.base+"/big/", strings.NewReader(body))
		req.Header.Set("Depth", "1")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		nb, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 207 {
			b.Fatalf("PROPFIND = %d", resp.StatusCode)
		}
		bytes = nb
	}
	b.ReportMetric(float64(bytes), "resp-bytes")
}

// BenchmarkPropfind10k is PROPFIND Depth 1 (allprop) on a collection of
// 10,000 files without dead properties, as a Finder or rclone listing.
func BenchmarkPropfind10k(b *testing.B) { benchPropfind(b, 10000, 0, propfindAll) }

// BenchmarkPropfind10kWithProps is the same with 1,000 of the files
// carrying a dead property.
func BenchmarkPropfind10kWithProps(b *testing.B) { benchPropfind(b, 10000, 1000, propfindAll) }

// BenchmarkPropfind10kNamed asks for the properties davfs2 asks for.
func BenchmarkPropfind10kNamed(b *testing.B) {
	body := `<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/><getetag/><getlastmodified/><executable xmlns="http://apache.org/dav/props/"/></prop></propfind>`
	benchPropfind(b, 10000, 0, body)
}
