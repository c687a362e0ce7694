package openaicompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/bufpool"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/h1"
	"github.com/outcrop/outcrop/internal/wirejson"
)

// Defaults of HTTP.
const (
	DefaultTimeout    = 120 * time.Second
	DefaultMaxRetries = 2
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 8 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After that is waited out;
	// a longer one fails the request at once (as Throttled) so a router
	// can try another backend instead.
	DefaultMaxRetryAfter = 20 * time.Second
)

// Secret is a credential. It logs as REDACTED.
type Secret string

// LogValue keeps the secret out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps the secret out of fmt output.
func (Secret) String() string { return "REDACTED" }

// Backoff is the retry schedule: exponential with full jitter, so attempt n
// waits a uniformly random time in [0, min(Max, Base·2ⁿ)).
type Backoff struct {
	Base time.Duration // default DefaultBackoff
	Max  time.Duration // default DefaultMaxBackoff
	// MaxRetryAfter bounds an honoured Retry-After (default
	// DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Sleep waits d or until ctx ends; tests inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1); tests inject a fixed one.
	Rand func() float64
}

// SleepContext waits d or until ctx ends, whichever is first.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// delay is the wait before retry number attempt (0-based). retryAfter, if
// positive, replaces the jittered backoff; ok is false when it is longer
// than MaxRetryAfter.
func (b Backoff) delay(attempt int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		maxRA := b.MaxRetryAfter
		if maxRA == 0 {
			maxRA = DefaultMaxRetryAfter
		}
		return retryAfter, retryAfter <= maxRA
	}
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoff
	}
	if maxD <= 0 {
		maxD = DefaultMaxBackoff
	}
	ceil := maxD
	if attempt < 30 && base<<attempt < maxD && base<<attempt > 0 {
		ceil = base << attempt
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(ceil)), true
}

// HTTP is a JSON-over-HTTP upstream with retries, timeouts and error
// mapping. Every backend kind uses one; it is safe for concurrent use.
type HTTP struct {
	Client  *http.Client
	BaseURL string      // without a trailing slash
	Header  http.Header // sent with every request (auth, version, extras)
	// Timeout bounds each attempt: until the response headers arrive and
	// then, while a body is read, each wait for more bytes (so a long
	// stream that keeps producing is never cut off). Default
	// DefaultTimeout.
	Timeout    time.Duration
	MaxRetries int // retries after the first attempt
	Backoff    Backoff
	// Name is the backend kind, used in client messages ("openai").
	Name string
	// Secrets are removed from any error text (API keys).
	Secrets []string
	// ErrorInfo extracts an upstream error's type and message from a
	// non-2xx body; nil means the body is not parsed.
	ErrorInfo func(body []byte) (typ, msg string)
	Log       *slog.Logger
	// Now is the clock for Retry-After dates (default time.Now).
	Now func() time.Time
}

// sharedTransport carries plain-text HTTP/1.1 upstreams itself, in the
// caller's goroutine (h1), and everything else (https, proxies) through
// net/http.
var sharedTransport = sync.OnceValue(func() *h1.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return h1.New(t)
})

// PooledClient returns c, or a client like it, whose transport keeps
// enough idle connections per upstream host for many concurrent
// streams. (http.DefaultTransport keeps only two per host.) The
// transport is shared by every backend in the process.
func PooledClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Transport: sharedTransport()}
	}
	if c.Transport != nil {
		return c
	}
	cc := *c
	cc.Transport = sharedTransport()
	return &cc
}

// Response is a 2xx upstream response. Read its Body and Close it.
type Response struct {
	Status int
	Header http.Header
	// Body returns upstream bytes; its errors are already fault-mapped
	// (ModelTimeout, Unavailable, or the caller's context error).
	Body io.Reader
	a    *attempt
}

// Close releases the connection and the timer.
func (r *Response) Close() { r.a.closeOnce.Do(r.a.close) }

var errTimedOut = errors.New("upstream timed out")

// Post sends body as JSON to path with retries. stream says the body will
// be read incrementally: the timeout then restarts on each read.
//
// Retries happen only before a 2xx response arrives, so nothing that was
// handed to a caller is ever repeated: 429, 5xx (but 501) and connection
// failures are retried up to MaxRetries times; a Retry-After (or
// retry-after-ms) header replaces the backoff.
func (h *HTTP) Post(ctx context.Context, path string, body []byte, stream bool) (*Response, error) {
	for attempt := 0; ; attempt++ {
		resp, retry, after, err := h.once(ctx, path, body, stream)
		if err == nil {
			return resp, nil
		}
		if !retry || attempt >= h.MaxRetries {
			return nil, err
		}
		wait, ok := h.Backoff.delay(attempt, after)
		if !ok {
			return nil, err
		}
		if h.Log != nil {
			h.Log.DebugContext(ctx, "retrying upstream request", "backend", h.Name, "attempt", attempt+2, "wait_seconds", wait.Seconds(), "err", err)
		}
		sleep := h.Backoff.Sleep
		if sleep == nil {
			sleep = SleepContext
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// PostJSON sends body to path (not streamed), reads at most limit bytes of
// the 2xx answer and decodes it into out. what names the answer in the
// client message when it is not valid JSON ("a response", "embeddings").
func (h *HTTP) PostJSON(ctx context.Context, path string, body []byte, limit int64, out any, what string) error {
	resp, err := h.Post(ctx, path, body, false)
	if err != nil {
		return err
	}
	defer resp.Close()
	bp := bufpool.Get()
	raw, err := bufpool.ReadAtMost(resp.Body, *bp, limit)
	*bp = raw
	defer bufpool.Put(bp)
	if err != nil {
		return err
	}
	// Decoding copies what it keeps, so the buffer can be reused.
	if err := wirejson.Unmarshal(raw, out); err != nil {
		return fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent %s that is not valid JSON.", h.Name, what))
	}
	return nil
}

// Header values set on every upstream request; never modified.
var (
	jsonType   = []string{"application/json"}
	acceptJSON = []string{"application/json"}
	acceptSSE  = []string{"text/event-stream, application/x-ndjson"}
)

func (h *HTTP) once(parent context.Context, path string, body []byte, stream bool) (_ *Response, retry bool, after time.Duration, _ error) {
	if err := parent.Err(); err != nil {
		return nil, false, 0, err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// One allocation holds the attempt's state, its timer callback and,
	// on success, the body reader and the close function.
	c := h.client()
	a := &attempt{h: h, parent: parent, timeout: timeout, stream: stream}
	rt, direct := c.Transport.(*h1.Transport)
	if direct = direct && c.Jar == nil && c.CheckRedirect == nil; direct && c.Timeout > 0 {
		// The client's overall limit, which http.Client would enforce
		// with a goroutine of its own, bounds the attempt's timer.
		a.end = time.Now().Add(c.Timeout)
	}
	a.ctx, a.cancel = context.WithCancelCause(parent)
	a.timer = time.AfterFunc(a.wait(), a.expire)

	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, h.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		a.release()
		return nil, false, 0, fault.Wrap(fault.Internal, h.redact(err), "")
	}
	for k, vs := range h.Header {
		req.Header[k] = vs
	}
	req.Header["Content-Type"] = jsonType
	if stream {
		req.Header["Accept"] = acceptSSE
	} else {
		req.Header["Accept"] = acceptJSON
	}
	var resp *http.Response
	if direct {
		// Straight to the transport: no redirects to follow for an API
		// call, and no per-request goroutine for the client's timeout.
		resp, err = rt.RoundTrip(req)
	} else {
		resp, err = c.Do(req)
	}
	if err != nil {
		a.release()
		err = h.transportErr(parent, a.ctx, err)
		return nil, fault.KindOf(err) == fault.Unavailable, 0, err
	}
	if resp.StatusCode/100 != 2 {
		defer a.release()
		defer resp.Body.Close()
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if rerr != nil && len(b) == 0 {
			err := h.transportErr(parent, a.ctx, rerr)
			return nil, fault.KindOf(err) == fault.Unavailable, 0, err
		}
		var typ, msg string
		if h.ErrorInfo != nil {
			typ, msg = h.ErrorInfo(b)
		}
		err, retry := h.StatusError(resp.StatusCode, typ, msg)
		now := time.Now
		if h.Now != nil {
			now = h.Now
		}
		return nil, retry, retryAfter(resp.Header, now()), err
	}
	if !stream {
		// The whole body must arrive within the timeout.
		a.progress()
	}
	a.body = resp.Body
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: a, a: a}, false, 0, nil
}

func (h *HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return PooledClient(nil)
}

// attempt is one upstream request. Once a 2xx response arrives it is the
// response's body: it restarts the idle timer on each read (when
// streaming) and maps read errors to fault kinds.
type attempt struct {
	h           *HTTP
	parent, ctx context.Context
	cancel      context.CancelCauseFunc
	timer       *time.Timer
	timeout     time.Duration
	stream      bool
	end         time.Time // when set, no wait goes past it
	// moved is the deadline (Unix nanoseconds) as the answer's progress
	// has moved it, 0 when it has not. The timer is not reset on
	// progress (a reset can wake the runtime's network poller, a
	// cross-thread wake-up per call or per chunk); when it fires before
	// moved, expire sets it again for the rest.
	moved     atomic.Int64
	body      io.ReadCloser
	closeOnce sync.Once
}

// expire is the timer's callback: the attempt took longer than the
// timeout, unless its progress moved the deadline on.
func (a *attempt) expire() {
	if d := a.moved.Load(); d != 0 {
		if left := time.Until(time.Unix(0, d)); left > 0 {
			a.timer.Reset(left)
			return
		}
	}
	a.cancel(errTimedOut)
}

// progress moves the deadline to a full wait from now.
func (a *attempt) progress() { a.moved.Store(time.Now().Add(a.wait()).UnixNano()) }

func (a *attempt) release() { a.moved.Store(0); a.timer.Stop(); a.cancel(nil) }

// wait is the time until the attempt times out from now.
func (a *attempt) wait() time.Duration {
	if a.end.IsZero() {
		return a.timeout
	}
	return max(min(a.timeout, time.Until(a.end)), 0)
}

func (a *attempt) close() { a.release(); a.body.Close() }

func (a *attempt) Read(p []byte) (int, error) {
	n, err := a.body.Read(p)
	if n > 0 && a.stream {
		a.progress()
	}
	if err != nil && err != io.EOF {
		err = a.h.transportErr(a.parent, a.ctx, err)
	}
	return n, err
}

// transportErr maps a failure to reach or read the upstream.
func (h *HTTP) transportErr(parent, ctx context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr // the caller went away or its deadline passed
	}
	var ne net.Error
	if errors.Is(context.Cause(ctx), errTimedOut) || (errors.As(err, &ne) && ne.Timeout()) {
		return fault.Wrap(fault.ModelTimeout, h.redact(err), fmt.Sprintf("The %s backend did not respond in time.", h.Name))
	}
	return fault.Wrap(fault.Unavailable, h.redact(err), fmt.Sprintf("The %s backend cannot be reached.", h.Name))
}

// safeType matches upstream error types that may be shown to callers.
var safeType = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)

// StatusError maps a non-2xx upstream status (with the upstream's error
// type and message, if known) to a fault, and says whether a retry may
// help. Client messages never include the upstream body; msg is kept as
// the logged cause (with secrets removed), except for 401 and 403 whose
// bodies may echo a credential.
func (h *HTTP) StatusError(status int, typ, msg string) (error, bool) {
	detail := fmt.Sprintf("HTTP %d", status)
	if typ != "" && safeType.MatchString(typ) {
		detail += ", " + typ
	} else {
		typ = ""
	}
	cause := fmt.Errorf("upstream %s: HTTP %d %s: %s", h.Name, status, typ, h.redactString(msg))
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fault.Wrap(fault.Unavailable, fmt.Errorf("upstream %s: HTTP %d %s (body withheld)", h.Name, status, typ),
			fmt.Sprintf("The %s backend refused Outcrop's credentials (%s). An operator must check the backend's API key configuration.", h.Name, detail)), false
	case status == http.StatusTooManyRequests:
		return fault.Wrap(fault.Throttled, cause, fmt.Sprintf("The %s backend is throttling requests (%s). Try again later.", h.Name, detail)), true
	case status == http.StatusRequestTimeout:
		return fault.Wrap(fault.ModelTimeout, cause, fmt.Sprintf("The %s backend timed out (%s).", h.Name, detail)), false
	case status == http.StatusNotFound:
		return fault.Wrap(fault.ModelNotReady, cause, fmt.Sprintf("The %s backend does not serve the requested model or endpoint (%s). An operator must check the backend's base URL and the catalog's backend model name.", h.Name, detail)), false
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity:
		return fault.Wrap(fault.Invalid, cause, fmt.Sprintf("The %s backend rejected the request as invalid (%s).", h.Name, detail)), false
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout || status == 529:
		return fault.Wrap(fault.Unavailable, cause, fmt.Sprintf("The %s backend is unavailable (%s).", h.Name, detail)), true
	case status >= 500 && status != http.StatusNotImplemented:
		return fault.Wrap(fault.ModelFailed, cause, fmt.Sprintf("The %s backend failed (%s).", h.Name, detail)), true
	default:
		return fault.Wrap(fault.ModelFailed, cause, fmt.Sprintf("The %s backend returned an error (%s).", h.Name, detail)), false
	}
}

// retryAfter reads retry-after-ms or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// redact returns err with every secret removed from its text.
func (h *HTTP) redact(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if r := h.redactString(s); r != s {
		return errors.New(r)
	}
	return err
}

func (h *HTTP) redactString(s string) string {
	for _, sec := range h.Secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

// Redact removes secrets from an upstream message (for errors that arrive
// inside a stream).
func (h *HTTP) Redact(s string) string { return h.redactString(s) }
