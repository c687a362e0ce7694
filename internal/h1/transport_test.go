package h1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/h1"
)

// counted is an httptest server that counts the connections it accepted.
func counted(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

// newTransport returns a transport that never uses a proxy and fails the
// test if a request reaches the fallback.
func newTransport(t *testing.T) *h1.Transport {
	tr := h1.New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("fallback used for %s", r.URL)
		return nil, errors.New("fallback")
	}))
	tr.Proxy = nil
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func post(t *testing.T, tr http.RoundTripper, u, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, string(b)
}

// TestRoundTrip sends requests whose answers are framed every way
// HTTP/1.1 allows and checks the answer and which connections were
// reused: a delimited body read to its end returns the connection to the
// pool; an answer read until the server closes, or marked Connection:
// close, does not.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		want     string
		status   int
		reusable bool
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"got":%q,"type":%q,"len":%d}`, b, r.Header.Get("Content-Type"), r.ContentLength)
		}, `{"got":"hello","type":"application/json","len":5}`, 200, true},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		}, "part0;part1;part2;", 200, true},
		{"empty", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, "", 204, true},
		{"error status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, "slow down\n", 429, true},
		{"connection close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}, "bye", 200, false},
		{"informational first", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		}, "after hints", 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, conns := counted(t, tc.handler)
			tr := newTransport(t)
			for i := range 3 {
				resp, got := post(t, tr, s.URL+"/v1/x?q=1", "hello", "Content-Type", "application/json")
				if resp.StatusCode != tc.status {
					t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, tc.status)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("request %d: body (-want +got):\n%s", i, diff)
				}
			}
			want := int64(3)
			if tc.reusable {
				want = 1
			}
			if got := conns.Load(); got != want {
				t.Errorf("%d connections for 3 requests, want %d", got, want)
			}
		})
	}
}

// TestUntilClose reads an answer that has no length and ends when the
// server closes the connection (HTTP/1.0 style).
func TestUntilClose(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, req *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length here")
		return false
	})
	tr := newTransport(t)
	for range 2 {
		_, got := post(t, tr, "http://"+addr+"/", "x")
		if got != "no length here" {
			t.Errorf("body %q", got)
		}
	}
	if n := tr.Idle(); n != 0 {
		t.Errorf("%d idle connections after answers without a length, want 0", n)
	}
}

// rawServer accepts connections and, for each request read from one,
// calls answer, which writes the raw response and says whether to keep
// the connection open for the next request. It returns the address.
func rawServer(t *testing.T, answer func(c net.Conn, req *http.Request) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !answer(c, req) {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// TestStaleConnection: the server closes a connection while it sits in
// the pool; the next request notices before any answer arrived and is
// sent once more on a new connection, and the server saw it once there.
func TestStaleConnection(t *testing.T) {
	var served atomic.Int64
	addr := rawServer(t, func(c net.Conn, req *http.Request) bool {
		served.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false // closes the connection, though the answer said keep-alive
	})
	tr := newTransport(t)
	for i := range 3 {
		if _, got := post(t, tr, "http://"+addr+"/", "body"); got != "ok" {
			t.Fatalf("request %d: body %q", i, got)
		}
		time.Sleep(20 * time.Millisecond) // let the close reach us
	}
	if n := served.Load(); n != 3 {
		t.Errorf("server answered %d requests, want 3", n)
	}
}

// TestStaleNotRetriedWithoutBody: a request whose body cannot be read
// again is not sent twice.
func TestStaleNotRetriedWithoutGetBody(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, req *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	tr := newTransport(t)
	post(t, tr, "http://"+addr+"/", "first")
	time.Sleep(20 * time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", io.NopCloser(strings.NewReader("second")))
	req.ContentLength = 6
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a request on a closed connection without GetBody succeeded")
	}
}

// TestStreaming: each chunk reaches the reader as soon as the server
// flushes it, before the server writes the next.
func TestStreaming(t *testing.T) {
	next := make(chan struct{})
	s, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			<-next
		}
	}))
	tr := newTransport(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL, strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("data: %d\n", i); line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
	if _, err := io.ReadAll(br); err != nil {
		t.Fatal(err)
	}
	if tr.Idle() != 1 {
		t.Errorf("%d idle connections after the stream ended, want 1", tr.Idle())
	}
}

// TestCancel: cancelling the request's context ends a wait for the answer
// and a read of the body at once, and the connection is not reused.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	s, conns := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			io.WriteString(w, "start")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	tr := newTransport(t)
	for _, path := range []string{"/head", "/body"} {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader("x"))
		time.AfterFunc(50*time.Millisecond, cancel)
		resp, err := tr.RoundTrip(req)
		if path == "/head" {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: error %v, want context.Canceled", path, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s: the body read ended without an error after the cancel", path)
		}
	}
	if tr.Idle() != 0 {
		t.Errorf("%d idle connections after cancelled requests, want 0", tr.Idle())
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestCloseEarly: a body closed before its end closes the connection.
func TestCloseEarly(t *testing.T) {
	s, conns := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100000))
	}))
	tr := newTransport(t)
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(resp.Body, make([]byte, 10))
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("read after Close succeeded")
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a half-read body's connection is not reused)", n)
	}
}

// TestMaxIdle: beyond MaxIdlePerHost, finished connections are closed.
func TestMaxIdle(t *testing.T) {
	hold := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(4)
	s, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-hold
		io.WriteString(w, "ok")
	}))
	tr := newTransport(t)
	tr.MaxIdlePerHost = 2
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { post(t, tr, s.URL, "x") })
	}
	arrived.Wait()
	close(hold)
	wg.Wait()
	if n := tr.Idle(); n != 2 {
		t.Errorf("%d idle connections, want 2", n)
	}
}

// TestIdleTimeout: a connection idle longer than IdleTimeout is closed,
// not reused.
func TestIdleTimeout(t *testing.T) {
	s, conns := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	tr := newTransport(t)
	now := time.Unix(1000, 0)
	tr.Now = func() time.Time { return now }
	tr.IdleTimeout = time.Minute
	post(t, tr, s.URL, "x")
	now = now.Add(59 * time.Second)
	post(t, tr, s.URL, "x")
	now = now.Add(61 * time.Second)
	post(t, tr, s.URL, "x")
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestFallback: https, proxied requests and bodies of unknown length go
// to the fallback transport; nothing is sent directly.
func TestFallback(t *testing.T) {
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls") }))
	defer tls.Close()
	plain, conns := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") }))
	var fell []string
	tr := h1.New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fell = append(fell, r.URL.Scheme+" "+r.Method)
		if r.URL.Scheme != "https" {
			return nil, errors.New("no proxy here")
		}
		return tls.Client().Transport.RoundTrip(r)
	}))
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.Header.Get("Via-Proxy") != "" {
			return url.Parse("http://proxy.invalid:3128")
		}
		return nil, nil
	}
	if _, got := post(t, tr, tls.URL, "x"); got != "tls" {
		t.Errorf("https body %q", got)
	}
	req, _ := http.NewRequest(http.MethodPost, tls.URL, io.NopCloser(strings.NewReader("unknown length")))
	if resp, err := tr.RoundTrip(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
	}
	if _, got := post(t, tr, plain.URL, "x"); got != "plain" {
		t.Errorf("direct body %q", got)
	}
	if diff := cmp.Diff([]string{"https POST", "https POST"}, fell); diff != "" {
		t.Errorf("fallback calls (-want +got):\n%s", diff)
	}
	req, _ = http.NewRequest(http.MethodPost, plain.URL, strings.NewReader("x"))
	req.Header.Set("Via-Proxy", "1")
	if _, err := tr.RoundTrip(req); err == nil || len(fell) != 3 {
		t.Errorf("a request that needs a proxy was not given to the fallback")
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d direct connections, want 1", n)
	}
}

// TestInvalidRequest: a header that would split the request, a bad host
// or a body shorter than its declared length is refused before or
// instead of reaching the server intact.
func TestInvalidRequest(t *testing.T) {
	var got atomic.Int64
	s, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	tr := newTransport(t)
	for name, mk := range map[string]func() *http.Request{
		"header value with CRLF": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("x"))
			r.Header["X-Key"] = []string{"a\r\nX-Injected: 1"}
			return r
		},
		"header name with space": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("x"))
			r.Header["Bad Name"] = []string{"v"}
			return r
		},
		"host with CRLF": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("x"))
			r.Host = "a\r\nb"
			return r
		},
		"short body": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL, io.NopCloser(strings.NewReader("abc")))
			r.ContentLength = 10
			return r
		},
	} {
		if resp, err := tr.RoundTrip(mk()); err == nil {
			resp.Body.Close()
			t.Errorf("%s: no error", name)
		}
	}
	if n := got.Load(); n != 0 {
		t.Errorf("the server handled %d invalid requests", n)
	}
}

// TestUpstreamGarbage: answers that are not HTTP fail cleanly.
func TestUpstreamGarbage(t *testing.T) {
	for _, raw := range []string{"", "hello\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"} {
		addr := rawServer(t, func(c net.Conn, _ *http.Request) bool { io.WriteString(c, raw); return false })
		tr := newTransport(t)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("%q: no error", raw)
		}
		if tr.Idle() != 0 {
			t.Errorf("%q: the connection was pooled", raw)
		}
	}
}

// TestHugeHead: an upstream that sends headers without end is cut off at
// the cap instead of being read into memory.
func TestHugeHead(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, _ *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for range 3000 { // 3 MB of headers
			if _, err := io.WriteString(c, line); err != nil {
				return false
			}
		}
		io.WriteString(c, "Content-Length: 0\r\n\r\n")
		return false
	})
	tr := newTransport(t)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("x"))
	if resp, err := tr.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("a 3 MB response head was accepted")
	} else if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error %v, want the head cap", err)
	}
	// A body larger than the cap is read whole: the cap is for the head.
	big := strings.Repeat("b", 3<<20)
	s, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }))
	for range 2 {
		if _, got := post(t, tr, s.URL, "x"); len(got) != len(big) {
			t.Fatalf("body of %d bytes, want %d", len(got), len(big))
		}
	}
}

// FuzzResponse feeds arbitrary bytes as the upstream's answer: the
// transport must neither panic nor hang, and it pools the connection only
// after a complete, delimited answer.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			http.ReadRequest(bufio.NewReader(c))
			c.Write(raw)
			c.Close()
		}()
		tr := h1.New(nil)
		tr.Proxy = nil
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+"/", bytes.NewReader([]byte("x")))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ctx.Err() != nil {
			t.Fatal("the transport did not finish before the deadline")
		}
	})
}

// TestCloseDuringRead: Close from another goroutine ends a Read that is
// waiting for the upstream, as net/http's bodies do (the AWS SDK closes
// an event stream's body that way).
func TestCloseDuringRead(t *testing.T) {
	release := make(chan struct{})
	s, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })
	tr := newTransport(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the Read block
	closed := make(chan struct{})
	go func() { resp.Body.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the blocked Read")
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the aborted Read returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Read did not end after Close")
	}
	if tr.Idle() != 0 {
		t.Error("an aborted body's connection was pooled")
	}
}

// TestBytesAfterBody: an answer followed by bytes it did not announce is
// read, and its connection is not reused for the next call.
func TestBytesAfterBody(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, _ *http.Request) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
		return true
	})
	tr := newTransport(t)
	for range 2 {
		if _, got := post(t, tr, "http://"+addr+"/", "x"); got != "ok" {
			t.Fatalf("body %q, want ok", got)
		}
	}
}
