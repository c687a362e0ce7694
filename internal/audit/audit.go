// Package audit keeps the audit trail: an append-only, tamper-evident
// record of every API call (management and data events) in CloudTrail's
// event shape, without prompts, outputs, secrets or signatures.
//
// Record only enqueues; one writer goroutine redacts, encodes, chains and
// appends records in batches to JSON-lines files under the trail's
// directory, and fsyncs each batch. Close drains the queue and makes every
// enqueued record durable. Each line carries the SHA-256 of the line
// before it, and signed digest lines summarize the chain periodically;
// Verify finds edited, inserted and deleted records. docs/audit.md
// describes the file format.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Param is a named request parameter taken from the path or a header.
type Param struct{ Name, Value string }

// Principal is the caller as the audit trail records it.
type Principal struct {
	Type        string // Root, IAMUser, AssumedRole
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
}

// Call is one finished API call as the server saw it. Record takes
// ownership: Body and Response must not be modified afterwards. They are
// only read by the writer goroutine to extract identifiers and are never
// written out.
type Call struct {
	Time      time.Time
	Operation string
	Region    string
	SourceIP  string
	UserAgent string
	Principal *Principal // nil before authentication
	Params    []Param    // path and header parameters
	Body      []byte     // request body (JSON), redacted by the writer; nil to skip
	Response  []byte     // response body (JSON) of a mutating call, redacted likewise
	ErrorCode string     // the AWS exception name, "" on success
	ErrorMsg  string     // the client-safe message
	RequestID string
	// Source is the eventSource, e.g. cloudtrail.amazonaws.com for
	// LookupEvents; "" means EventSource (bedrock.amazonaws.com).
	Source string
}

// Options configures a Trail.
type Options struct {
	Dir       string // directory of the trail's files
	AccountID string // recipientAccountId
	Logger    *slog.Logger
	Now       func() time.Time
	// QueueSize bounds enqueued, unwritten calls (default 8192). When the
	// queue is full, Record waits: audit records are never dropped.
	QueueSize int
	// BatchSize bounds the calls written per batch (default 1024).
	BatchSize int
	// FlushInterval is how long the writer collects calls after the
	// first of a batch before writing them to the file (default 5ms):
	// it bounds writes to about 200 a second, whatever the request rate,
	// and a process that dies loses at most the calls of that window.
	FlushInterval time.Duration
	// SyncInterval is the longest a written record waits for its fsync
	// (default 20ms): a batch is fsynced when it is written this long or
	// more after the last fsync, otherwise by a timer that long after
	// it, so that fsyncs, the trail's costliest step, are at most about
	// 50 a second, and a machine that loses power loses at most the
	// calls of the last FlushInterval plus SyncInterval. Flush and Close
	// fsync at once.
	SyncInterval time.Duration
	// DigestEvery writes a signed digest line after this many records
	// (default 1000); one is also written at least hourly and on Close.
	DigestEvery int
	// DigestInterval is the longest time between digests (default 1h).
	DigestInterval time.Duration
	// HeadInterval is the longest the head may trail the last synced
	// record (default 250ms). Records are fsynced with every batch; the
	// head, which lets verify tell records cut from the end, is
	// rewritten at most this often (and on Flush and Close), which
	// spares a file write and rename per batch.
	HeadInterval time.Duration
}

// Trail is an open audit trail. Record is safe for concurrent use.
type Trail struct {
	opts Options
	log  *slog.Logger
	key  []byte // HMAC key of the digests

	mu     sync.RWMutex // guards closed against Record's send
	closed bool
	queue  chan Call
	full   chan struct{} // a batch's worth is queued: end the window early
	stop   chan struct{} // closed by Close: end the window early
	flush  chan chan error
	done   chan struct{}
	err    error // the writer's first write error, returned by Close

	w   *writer // owned by the writer goroutine
	ids uuids   // owned by the writer goroutine
}

// Open opens (creating if needed) the trail in opts.Dir and starts its
// writer, continuing the chain where the last file ends.
func Open(opts Options) (*Trail, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Millisecond
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 20 * time.Millisecond
	}
	if opts.DigestEvery <= 0 {
		opts.DigestEvery = 1000
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = time.Hour
	}
	if opts.HeadInterval <= 0 {
		opts.HeadInterval = 250 * time.Millisecond
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit dir: %w", err)
	}
	key, err := loadKey(opts.Dir)
	if err != nil {
		return nil, err
	}
	w, err := openWriter(opts.Dir, key, opts.Now)
	if err != nil {
		return nil, err
	}
	w.headEvery, w.syncEvery = opts.HeadInterval, opts.SyncInterval
	t := &Trail{
		opts: opts, log: opts.Logger, key: key, w: w,
		queue: make(chan Call, opts.QueueSize), full: make(chan struct{}, 1), stop: make(chan struct{}),
		flush: make(chan chan error), done: make(chan struct{}),
	}
	go t.run()
	return t, nil
}

// Record enqueues a call. It returns at once unless the queue is full.
// Calls recorded after Close are dropped and logged.
func (t *Trail) Record(c Call) {
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		t.log.Error("audit record after close", "operation", c.Operation, "request_id", c.RequestID)
		return
	}
	t.queue <- c
	if len(t.queue) >= t.opts.BatchSize-1 { // with the one the writer holds, a full batch
		select {
		case t.full <- struct{}{}:
		default:
		}
	}
	t.mu.RUnlock()
}

// Flush waits until every call recorded before it is written and synced.
func (t *Trail) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case t.flush <- reply:
	case <-t.done:
		return t.err
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting calls, writes every queued one followed by a
// digest, syncs, and closes the files.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.done
		return t.err
	}
	t.closed = true
	close(t.queue)
	close(t.stop)
	t.mu.Unlock()
	<-t.done
	return t.err
}

// run is the writer goroutine: it takes one call, waits for whatever else
// is queued in the next FlushInterval, up to BatchSize, and writes them as
// one batch (group commit).
func (t *Trail) run() {
	defer close(t.done)
	batch := make([]Call, 0, t.opts.BatchSize)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// headTimer brings the head up to date when batches stop coming
	// before HeadInterval has passed.
	headTimer := time.NewTimer(time.Hour)
	headTimer.Stop()
	headArmed := false
	armHead := func() {
		if !headArmed && t.w.headBehind() {
			headTimer.Reset(max(t.w.headAt.Add(t.opts.HeadInterval).Sub(t.opts.Now()), 0))
			headArmed = true
		}
	}
	// syncTimer fsyncs written records when no batch has come to do it
	// SyncInterval after the last fsync.
	syncTimer := time.NewTimer(time.Hour)
	syncTimer.Stop()
	syncArmed := false
	armSync := func() {
		if !syncArmed && t.w.unsynced {
			syncTimer.Reset(max(t.w.syncedAt.Add(t.opts.SyncInterval).Sub(t.opts.Now()), 0))
			syncArmed = true
		}
	}
	for {
		select {
		case <-syncTimer.C:
			syncArmed = false
			t.fail(t.w.sync())
			armHead()
		case <-headTimer.C:
			headArmed = false
			t.fail(t.w.syncHead())
		case c, ok := <-t.queue:
			if !ok {
				t.fail(t.w.digest(t.opts.Now()))
				t.fail(t.w.close())
				return
			}
			batch = append(batch[:0], c)
			// Collect for up to FlushInterval so that one write, fsync
			// and head update serve many calls (group commit). The
			// writer sleeps through the window and then takes what was
			// queued, rather than waking for every call: Record ends the
			// window early when a batch's worth is queued, and Close when
			// the trail closes.
			select {
			case <-t.full: // left over from the last batch
			default:
			}
			if len(t.queue) < t.opts.BatchSize-1 {
				timer.Reset(t.opts.FlushInterval)
				select {
				case <-timer.C:
				case <-t.full:
				case <-t.stop:
				}
				timer.Stop()
			}
			closed := false
		collect:
			for len(batch) < t.opts.BatchSize {
				select {
				case c, ok := <-t.queue:
					if !ok {
						closed = true
						break collect
					}
					batch = append(batch, c)
				default:
					break collect
				}
			}
			t.fail(t.write(batch))
			clear(batch) // drop references to request bodies
			armSync()
			armHead()
			if closed {
				t.fail(t.w.digest(t.opts.Now()))
				t.fail(t.w.close())
				return
			}
		case reply := <-t.flush:
			// Everything sent before the flush request is already queued.
			var err error
			for n := len(t.queue); n > 0; n = len(t.queue) {
				batch = batch[:0]
				for i := 0; i < n && i < t.opts.BatchSize; i++ {
					batch = append(batch, <-t.queue)
				}
				err = t.write(batch)
				clear(batch)
				if err != nil {
					break
				}
			}
			if err == nil {
				err = t.w.syncHead()
			}
			t.fail(err)
			reply <- err
		case <-tick.C:
			if t.opts.Now().Sub(t.w.lastDigest) >= t.opts.DigestInterval && t.w.sinceDigest > 0 {
				t.fail(t.w.digest(t.opts.Now()))
			}
		}
	}
}

func (t *Trail) fail(err error) {
	if err == nil {
		return
	}
	t.log.Error("audit write failed", "err", err)
	if t.err == nil {
		t.err = err
	}
}

// write encodes and appends a batch, adding a digest when due, and
// fsyncs it when the last fsync was SyncInterval ago or more.
func (t *Trail) write(batch []Call) error {
	now := t.opts.Now()
	for i := range batch {
		var ev Event
		t.event(&ev, &batch[i])
		if err := t.w.appendEvent(&ev, now); err != nil {
			return err
		}
		if t.w.sinceDigest >= t.opts.DigestEvery {
			if err := t.w.digestBuffered(now); err != nil {
				return err
			}
		}
	}
	return t.w.write(false)
}

// event builds the CloudTrail event of a call in ev. It runs on the
// writer goroutine, so the cost of redaction is not on the request path.
func (t *Trail) event(ev *Event, c *Call) {
	*ev = Event{
		EventVersion:       eventVersion,
		EventTime:          c.Time.UTC().Truncate(time.Second).Format(time.RFC3339),
		EventSource:        EventSource,
		EventName:          c.Operation,
		AWSRegion:          c.Region,
		SourceIPAddress:    c.SourceIP,
		UserAgent:          c.UserAgent,
		ErrorCode:          c.ErrorCode,
		ErrorMessage:       truncate(c.ErrorMsg, 1024),
		RequestParameters:  Redact(c.Params, c.Body),
		RequestID:          c.RequestID,
		EventID:            t.ids.next(),
		ReadOnly:           readOnly(c.Operation),
		EventType:          "AwsApiCall",
		ManagementEvent:    !dataOperations[c.Operation],
		RecipientAccountID: t.opts.AccountID,
		EventCategory:      "Management",
		Resources:          resources(c.Params, c.Region, t.opts.AccountID),
	}
	if dataOperations[c.Operation] {
		ev.EventCategory = "Data"
	}
	if c.Source != "" {
		ev.EventSource = c.Source
	}
	if c.Response != nil {
		ev.ResponseElements = Redact(nil, c.Response)
	}
	if p := c.Principal; p != nil {
		ev.UserIdentity = UserIdentity{Type: p.Type, PrincipalID: p.PrincipalID, ARN: p.ARN, AccountID: p.AccountID, AccessKeyID: p.AccessKeyID, UserName: p.UserName}
	} else {
		ev.UserIdentity = UserIdentity{Type: "Unknown", AccountID: t.opts.AccountID}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// uuids makes random (version 4) UUIDs. It reads crypto/rand a buffer
// at a time: one read per event cost more than the rest of the ID.
type uuids struct {
	rnd  [1024]byte
	left int // unused bytes at the end of rnd
}

func (u *uuids) next() string {
	if u.left < 16 {
		_, _ = rand.Read(u.rnd[:])
		u.left = len(u.rnd)
	}
	var b [16]byte
	copy(b[:], u.rnd[len(u.rnd)-u.left:])
	u.left -= 16
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// loadKey reads the digest key, creating it on first use.
func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(string(trimSpace(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("audit key %s is malformed", path)
		}
		return k, nil
	}
	if !os.IsNotExist(err) {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return k, nil
}

// ReadKey reads the digest key of the trail in dir (for Verify).
func ReadKey(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(string(trimSpace(b)))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
