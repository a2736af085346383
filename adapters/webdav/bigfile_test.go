package webdav

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// genReader yields a deterministic pseudo-random byte stream of a given
// size; any slice of it can be regenerated from its offset.
type genReader struct {
	off, end int64
}

func mix(i uint64) uint64 { // splitmix64
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.end {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.end-g.off))
	var w [8]byte
	for i := 0; i < n; {
		word := uint64(g.off+int64(i)) / 8
		binary.LittleEndian.PutUint64(w[:], mix(word))
		k := copy(p[i:n], w[(g.off+int64(i))%8:])
		i += k
	}
	g.off += int64(n)
	return n, nil
}

// heapPeak samples the in-use heap every few milliseconds.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapPeak {
	h := &heapPeak{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapPeak) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

// TestLargeFile PUTs 200 MB with chunked transfer encoding (no
// Content-Length, as Finder sends), GETs it whole and by range, checks
// the sha256 of each, and checks that the heap stays far below the file
// size: the body is streamed both ways, never buffered.
func TestLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB transfer skipped in -short mode")
	}
	const size = 200 << 20
	const heapLimit = 48 << 20
	ta := newTestAdapter(t, "", "", nil)
	url := ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)) + "/big.bin"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	runtime.GC()
	peak := watchHeap()
	want := sha256.New()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPut, url, io.TeeReader(&genReader{end: size}, want))
	req.ContentLength = -1 // unknown length: no Content-Length header
	req.TransferEncoding = []string{"chunked"}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	putTime := time.Since(start)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT = %d, want 201", resp.StatusCode)
	}

	start = time.Now()
	resp, err = client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	getTime := time.Since(start)
	if err != nil || n != size || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("GET returned %d bytes (%v) with a different sha256", n, err)
	}

	const from, length = 123456789, 10 << 20
	req, _ = http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, from+length-1))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part := sha256.New()
	n, _ = io.Copy(part, resp.Body)
	resp.Body.Close()
	wantPart := sha256.New()
	io.Copy(wantPart, &genReader{off: from, end: from + length})
	if resp.StatusCode != http.StatusPartialContent || n != length || string(part.Sum(nil)) != string(wantPart.Sum(nil)) {
		t.Errorf("Range GET = %d with %d bytes, want 206 with %d bytes of matching sha256", resp.StatusCode, n, length)
	}
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", from, from+length-1, size) {
		t.Errorf("Content-Range = %q", cr)
	}

	p := peak.done()
	t.Logf("PUT %.0f MB/s, GET %.0f MB/s, peak heap in use %.1f MiB",
		size/putTime.Seconds()/1e6, size/getTime.Seconds()/1e6, float64(p)/(1<<20))
	if p > heapLimit {
		t.Errorf("peak heap in use %d MiB, want below %d MiB for a %d MiB file", p>>20, heapLimit>>20, size>>20)
	}
}
