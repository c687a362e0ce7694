// Package h1 is an HTTP/1.1 client transport for plain-text upstreams
// (model servers on the same host or network: Ollama, vLLM, llama.cpp,
// an OpenAI-compatible mock) that runs each round trip in the caller's
// goroutine. net/http's Transport hands every request to a write-loop
// goroutine and every response to a read-loop goroutine; on a gateway
// that makes one upstream call per request those hand-offs and wake-ups
// are a large share of the CPU. Here the caller writes the request with
// one write, reads the response with the standard library's parser
// (http.ReadResponse) from a buffered reader kept with the connection,
// and puts the connection back in a pool when the body has been read to
// its end.
//
// What it does not do goes to Fallback (net/http): https, proxies,
// requests whose body length is unknown, and Expect: 100-continue.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Defaults.
const (
	DefaultMaxIdlePerHost = 128
	DefaultIdleTimeout    = 90 * time.Second
	bufSize               = 4 << 10
	// maxHead bounds the bytes read before a response's body: status
	// line, headers and any informational answers (net/http's client
	// allows 10 MiB; an API's heads are a few hundred bytes).
	maxHead = 1 << 20
)

// Transport is an http.RoundTripper; the zero value is not usable: set
// Fallback. It is safe for concurrent use.
type Transport struct {
	// Fallback carries the requests this transport does not (see the
	// package comment).
	Fallback http.RoundTripper
	// DialContext opens connections (default: a net.Dialer with a 30 s
	// timeout and 30 s keep-alive, as net/http's default transport).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy says which requests must go through a proxy; those use
	// Fallback. Default http.ProxyFromEnvironment; set it to a function
	// returning nil to connect directly always.
	Proxy func(*http.Request) (*url.URL, error)
	// MaxIdlePerHost bounds the idle connections kept per host:port
	// (default DefaultMaxIdlePerHost).
	MaxIdlePerHost int
	// IdleTimeout is how long an idle connection may be reused
	// (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Now is the clock for idle ages (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	idle map[string][]*conn
}

// New returns a transport in front of fallback with the defaults.
func New(fallback http.RoundTripper) *Transport {
	return &Transport{Fallback: fallback, Proxy: http.ProxyFromEnvironment}
}

type conn struct {
	t      *Transport
	key    string
	nc     net.Conn
	capped capReader // nc, read through a cap while a head is read
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
}

// errStale marks a failure on a reused connection before any byte of the
// response arrived: the server had closed it while it was idle, so the
// request was not processed and may be sent again on a new connection.
var errStale = errors.New("h1: connection closed by the server before the response")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.direct(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	key := hostPort(req.URL)
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			closeBody(req)
			return nil, err
		}
		c, err := t.get(ctx, key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			closeBody(req)
			return nil, ctx.Err()
		}
		if errors.Is(err, errStale) && try == 0 {
			if retry, ok := rewind(req); ok {
				req = retry
				continue
			}
		}
		closeBody(req)
		return nil, err
	}
}

// direct says whether this transport carries req itself.
func (t *Transport) direct(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		return false // length unknown: net/http sends it chunked
	}
	if _, ok := req.Header["Expect"]; ok {
		return false
	}
	if t.Proxy != nil {
		if p, err := t.Proxy(req); err != nil || p != nil {
			return false
		}
	}
	return true
}

// rewind returns req with a fresh body for a second attempt.
func rewind(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r := *req
	r.Body = body
	return &r, true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// get returns an idle connection to key or dials a new one.
func (t *Transport) get(ctx context.Context, key string) (*conn, error) {
	now := t.now()
	maxAge := t.IdleTimeout
	if maxAge <= 0 {
		maxAge = DefaultIdleTimeout
	}
	t.mu.Lock()
	for list := t.idle[key]; len(list) > 0; list = t.idle[key] {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		if now.Sub(c.idleAt) < maxAge {
			t.mu.Unlock()
			c.reused = true
			return c, nil
		}
		c.nc.Close()
	}
	t.mu.Unlock()
	dial := t.DialContext
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	nc, err := dial(ctx, "tcp", key)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, key: key, nc: nc, capped: capReader{r: nc, left: -1}, bw: bufio.NewWriterSize(nc, bufSize)}
	c.br = bufio.NewReaderSize(&c.capped, bufSize)
	return c, nil
}

// capReader reads from r at most left more bytes, or without a cap when
// left is negative.
type capReader struct {
	r    io.Reader
	left int64
}

var errHeadTooLarge = fmt.Errorf("h1: the response head is larger than %d bytes", maxHead)

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return c.r.Read(p)
	}
	if c.left == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

var defaultDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// put returns c to the pool, or closes it when the pool is full.
func (t *Transport) put(c *conn) {
	limit := t.MaxIdlePerHost
	if limit <= 0 {
		limit = DefaultMaxIdlePerHost
	}
	c.idleAt = t.now()
	t.mu.Lock()
	if len(t.idle[c.key]) < limit {
		if t.idle == nil {
			t.idle = map[string][]*conn{}
		}
		t.idle[c.key] = append(t.idle[c.key], c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.nc.Close()
}

// CloseIdleConnections closes the pooled connections (and the
// fallback's); http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Idle is the number of pooled connections (for tests and metrics).
func (t *Transport) Idle() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, list := range t.idle {
		n += len(list)
	}
	return n
}

func (t *Transport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// aLongTimeAgo is a deadline in the past: setting it makes a blocked
// read or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req on c and reads the response head. On error the
// connection is closed.
func (c *conn) roundTrip(req *http.Request) (*http.Response, error) {
	stop := alwaysTrue
	if ctx := req.Context(); ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		return nil, err
	}
	if err := c.writeRequest(req); err != nil {
		if c.reused && !errors.Is(err, errInvalid) {
			err = fmt.Errorf("%w: %w", errStale, err)
		}
		return fail(err)
	}
	// The head is read under a cap (counting what the buffer holds
	// beyond it); the body is not.
	c.capped.left = maxHead - int64(c.br.Buffered())
	if _, err := c.br.Peek(1); err != nil {
		if c.reused {
			err = fmt.Errorf("%w: %w", errStale, err)
		}
		return fail(err)
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(fmt.Errorf("h1: reading the response: %w", err))
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		resp.Body.Close() // an informational answer (103 Early Hints): the real one follows
	}
	c.capped.left = -1
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return fail(errors.New("h1: the server switched protocols, which this transport does not support"))
	}
	reusable := !resp.Close && !req.Close && resp.ProtoAtLeast(1, 1) &&
		(resp.ContentLength >= 0 || isChunked(resp.TransferEncoding))
	b := &body{c: c, rc: resp.Body, stop: stop, reusable: reusable}
	if resp.ContentLength == 0 && !isChunked(resp.TransferEncoding) {
		b.finish(true)
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

func alwaysTrue() bool { return true }

func isChunked(te []string) bool { return len(te) == 1 && te[0] == "chunked" }

// errInvalid marks a request that cannot be written (a bad header).
var errInvalid = errors.New("h1: invalid request")

// writeRequest sends the request line, the headers and the body.
func (c *conn) writeRequest(req *http.Request) error {
	w := c.bw
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) || !validMethod(method) {
		return fmt.Errorf("%w: bad host %q or method %q", errInvalid, host, method)
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Connection", "Transfer-Encoding", "Trailer":
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("%w: header name %q", errInvalid, k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("%w: value of header %q", errInvalid, k)
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		var n [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(n[:0], max(req.ContentLength, 0), 10))
		w.WriteString("\r\n")
	}
	if req.Close {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	if hasBody {
		n, err := io.Copy(w, io.LimitReader(req.Body, req.ContentLength))
		req.Body.Close()
		if err != nil {
			return err
		}
		if n != req.ContentLength {
			return fmt.Errorf("%w: the body had %d bytes, Content-Length says %d", errInvalid, n, req.ContentLength)
		}
	}
	return w.Flush()
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return m != ""
}

// body is a response body; reading it to its end returns the connection
// to the pool. Close may be called while another goroutine is blocked in
// Read (to abort it): it then closes the connection, which ends the Read.
type body struct {
	c        *conn
	rc       io.ReadCloser
	stop     func() bool
	reusable bool
	mu       sync.Mutex
	done     bool // the connection is released
	eof      bool // done because the body was read to its end
	reading  bool // a Read is in progress
	closed   bool // Close was called
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.eof {
		b.mu.Unlock()
		return 0, io.EOF
	}
	if b.done || b.closed {
		b.mu.Unlock()
		return 0, errClosed
	}
	b.reading = true
	b.mu.Unlock()

	n, err := b.rc.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	switch {
	case b.closed:
		if !b.done {
			b.finish(false)
		}
		return n, errClosed
	case err == io.EOF:
		b.eof = true
		b.finish(true)
	case err != nil:
		b.finish(false)
	}
	return n, err
}

var errClosed = errors.New("h1: read on a closed response body")

// Close releases the connection: back to the pool if the body was read
// to its end, closed otherwise.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.reading {
		b.c.nc.Close() // ends the Read, which then releases the rest
		return nil
	}
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish ends the body's use of the connection; the caller holds b.mu
// (or owns b alone) and no Read is in progress.
func (b *body) finish(clean bool) {
	b.done = true
	// stop is false when the context's cancellation already ran: the
	// connection then has a past deadline and cannot be reused.
	// Bytes after the body's end would be taken for the next answer: a
	// connection holding any is not reused.
	if b.stop() && clean && b.reusable && b.c.br.Buffered() == 0 {
		b.c.t.put(b.c)
		return
	}
	b.c.nc.Close()
}
