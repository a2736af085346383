package webdav

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestCompareApache measures large-file PUT and GET throughput of this
// server and of Apache httpd with mod_dav_fs on loopback, with the same
// client (curl) and file, and logs both. It is a benchmark, not part of
// the normal suite: run it with
//
//	WEBDAV_BENCH_APACHE=1 go test -run CompareApache -v ./adapters/webdav/
//
// (needs apache2 and curl; WEBDAV_BENCH_SIZE_MB sets the file size,
// default 1024; WEBDAV_BENCH_ROUNDS the rounds, default 3). Apache's
// PUT does not fsync; this server's does, so the log also gives Apache's
// PUT followed by sync(1), the durable equivalent.
func TestCompareApache(t *testing.T) {
	if os.Getenv("WEBDAV_BENCH_APACHE") == "" {
		t.Skip("set WEBDAV_BENCH_APACHE=1 to compare with Apache mod_dav")
	}
	apache, err := exec.LookPath("apache2")
	if err != nil {
		t.Skip("apache2 not installed (apt-get install apache2)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	sizeMB := envInt("WEBDAV_BENCH_SIZE_MB", 1024)
	rounds := envInt("WEBDAV_BENCH_ROUNDS", 3)
	work := t.TempDir()
	src := filepath.Join(work, "src.bin")
	writeRandomFile(t, src, int64(sizeMB)<<20)

	ta := newTestAdapter(t, filepath.Join(work, "ours"), "", nil)
	ours := ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1))
	theirs := startApache(t, apache, work)

	exec.Command("sync").Run() // the source file's write-back must not slow the first PUTs

	type result struct{ put, putChunked, get []float64 }
	var o, a, as result
	// Interleave the servers round by round so that load from elsewhere
	// on the machine hits both alike.
	for i := range rounds {
		for _, srv := range []struct {
			base string
			sync bool
			r    *result
		}{{ours, false, &o}, {theirs, false, &a}, {theirs, true, &as}} {
			url := fmt.Sprintf("%s/bench-%d-%v.bin", srv.base, i, srv.sync)
			srv.r.put = append(srv.r.put, curlRate(t, sizeMB, srv.sync, "-T", src, url))
			srv.r.putChunked = append(srv.r.putChunked, curlRate(t, sizeMB, srv.sync, "-T", src, "-H", "Transfer-Encoding: chunked", url+".c"))
			if !srv.sync {
				srv.r.get = append(srv.r.get, curlRate(t, sizeMB, false, "-o", "/dev/null", url))
			}
		}
		exec.Command("sync").Run()
	}
	med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	t.Logf("file %d MiB, %d rounds, median MB/s (curl, loopback)", sizeMB, rounds)
	t.Logf("%-28s %10s %10s %10s", "", "PUT", "PUT chunk", "GET")
	t.Logf("%-28s %10.0f %10.0f %10.0f", "this server (fsync)", med(o.put), med(o.putChunked), med(o.get))
	t.Logf("%-28s %10.0f %10.0f %10.0f", "apache mod_dav_fs", med(a.put), med(a.putChunked), med(a.get))
	t.Logf("%-28s %10.0f %10.0f %10s", "apache + sync(1) after PUT", med(as.put), med(as.putChunked), "-")
	t.Logf("all rounds: this %v / apache %v / apache+sync %v", o, a, as)
	t.Logf("ratio this/apache: PUT %.2f, PUT chunked %.2f, GET %.2f; PUT vs apache+sync %.2f",
		med(o.put)/med(a.put), med(o.putChunked)/med(a.putChunked), med(o.get)/med(a.get), med(o.put)/med(as.put))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func writeRandomFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	g := &genReader{end: size}
	for {
		n, err := g.Read(buf)
		if n > 0 {
			f.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
}

// curlRate runs curl with args and returns MB/s for sizeMB mebibytes;
// with syncAfter the time includes a sync(1) after the request.
func curlRate(t *testing.T, sizeMB int, syncAfter bool, args ...string) float64 {
	t.Helper()
	start := time.Now()
	out, err := exec.Command("curl", append([]string{"-s", "-S", "-f", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v %s", args, err, out)
	}
	if syncAfter {
		exec.Command("sync").Run()
	}
	return float64(sizeMB) * (1 << 20) / time.Since(start).Seconds() / 1e6
}

// startApache runs httpd with only mod_dav_fs on a free loopback port,
// serving a fresh document root, and returns its base URL.
func startApache(t *testing.T, bin, work string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := filepath.Join(work, "apache")
	docs := filepath.Join(root, "htdocs")
	os.MkdirAll(docs, 0o777)
	os.Chmod(docs, 0o777)
	os.Chmod(root, 0o777)
	os.Chmod(work, 0o755)
	os.Chmod(filepath.Dir(work), 0o755)
	mods := "/usr/lib/apache2/modules/"
	conf := strings.Join([]string{
		"ServerRoot " + root,
		"Listen " + addr,
		"ServerName localhost",
		"PidFile " + filepath.Join(root, "httpd.pid"),
		"ErrorLog " + filepath.Join(root, "error.log"),
		"LoadModule mpm_event_module " + mods + "mod_mpm_event.so",
		"LoadModule authz_core_module " + mods + "mod_authz_core.so",
		"LoadModule dav_module " + mods + "mod_dav.so",
		"LoadModule dav_fs_module " + mods + "mod_dav_fs.so",
		"User www-data",
		"Group www-data",
		"DocumentRoot " + docs,
		"DavLockDB " + filepath.Join(root, "DavLock"),
		"EnableSendfile On",
		"LimitRequestBody 0",
		"<Directory " + docs + ">",
		"  Dav On",
		"  Require all granted",
		"</Directory>",
	}, "\n") + "\n"
	confPath := filepath.Join(root, "httpd.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-f", confPath, "-DFOREGROUND")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start apache: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	for range 50 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(root, "error.log"))
	t.Fatalf("apache did not start:\n%s", log)
	return ""
}

// TestCompareApachePropfind times PROPFIND Depth 1 (allprop) on a
// collection of 10,000 files on this server and on Apache, with curl.
// Opt-in like TestCompareApache.
func TestCompareApachePropfind(t *testing.T) {
	if os.Getenv("WEBDAV_BENCH_APACHE") == "" {
		t.Skip("set WEBDAV_BENCH_APACHE=1 to compare with Apache mod_dav")
	}
	apache, err := exec.LookPath("apache2")
	if err != nil {
		t.Skip("apache2 not installed (apt-get install apache2)")
	}
	work := t.TempDir()
	ta := newTestAdapter(t, filepath.Join(work, "ours"), "", nil)
	ours := ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1))
	theirs := startApache(t, apache, work)
	for _, dir := range []string{
		filepath.Join(ta.dataDir, "trees", "keys", keyOf(1).String(), "big"),
		filepath.Join(work, "apache", "htdocs", "big"),
	} {
		os.MkdirAll(dir, 0o777)
		for i := range 10000 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.txt", i)), []byte("content"), 0o666)
		}
	}
	timeIt := func(base string) time.Duration {
		var times []time.Duration
		for range 7 {
			start := time.Now()
			out, err := exec.Command("curl", "-s", "-S", "-f", "-o", "/dev/null", "-X", "PROPFIND", "-H", "Depth: 1",
				"-H", "Content-Type: application/xml", "--data", propfindAll, base+"/big/").CombinedOutput()
			if err != nil {
				t.Fatalf("curl PROPFIND %s: %v %s", base, err, out)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		return times[len(times)/2]
	}
	o, a := timeIt(ours), timeIt(theirs)
	t.Logf("PROPFIND Depth 1 allprop, 10,000 files, median of 7 (curl): this server %v, apache %v", o, a)
}
