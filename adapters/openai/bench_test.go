package openai

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
)

const (
	benchStream = `{"model":"llama3.2","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	benchChat   = `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`
	unlimited   = `,"requests_per_minute":0,"tokens_per_minute":0`
)

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
}

// timeToFirstToken posts a stream request and returns how long the first
// content frame took; it reads the rest of the stream so the connection
// is reused.
func timeToFirstToken(b *testing.B, c *http.Client, url, key string) time.Duration {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(benchStream))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var ttft time.Duration
	for {
		line, err := br.ReadString('\n')
		if ttft == 0 && strings.Contains(line, `"content":"Hello"`) {
			ttft = time.Since(start)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if ttft == 0 || resp.StatusCode != 200 {
		b.Fatalf("no content in the stream (status %d)", resp.StatusCode)
	}
	return ttft
}

// BenchmarkTimeToFirstToken compares the first streamed token's latency
// straight from the fake upstream with the latency through the mesh path:
// local client role -> (fake mesh, unix socket pair) -> serve role ->
// upstream. The difference is what the mesh path adds.
func BenchmarkTimeToFirstToken(b *testing.B) {
	p := startPair(b, openaitest.UpstreamConfig{}, unlimited)
	for _, tc := range []struct{ name, url, key string }{
		{"direct", p.up.URL + "/chat/completions", ""},
		{"mesh", p.local + "/chat/completions", localKey},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchClient()
			defer c.CloseIdleConnections()
			timeToFirstToken(b, c, tc.url, tc.key) // warm the connections
			var total time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				total += timeToFirstToken(b, c, tc.url, tc.key)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-ttft/op")
		})
	}
}

// BenchmarkThroughput sends 1,000 non-streaming chats through the mesh
// path from 20 concurrent clients per iteration, fails on any error, and
// reports requests per second.
func BenchmarkThroughput(b *testing.B) {
	const requests, concurrency = 1000, 20
	p := startPair(b, openaitest.UpstreamConfig{}, unlimited)
	c := benchClient()
	defer c.CloseIdleConnections()
	var elapsed time.Duration
	b.ReportAllocs()
	for b.Loop() {
		var next, failed atomic.Int64
		var firstErr sync.Once
		start := time.Now()
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for next.Add(1) <= requests {
					if err := chatOnce(c, p.local+"/chat/completions"); err != nil {
						failed.Add(1)
						firstErr.Do(func() { b.Error(err) })
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d requests failed", n, requests)
		}
	}
	b.ReportMetric(float64(requests*b.N)/elapsed.Seconds(), "req/s")
}

func chatOnce(c *http.Client, url string) error {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(benchChat))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+localKey)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), expectText) {
		return &statusError{code: resp.StatusCode, body: string(body)}
	}
	return nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return "status " + http.StatusText(e.code) + ": " + e.body }
