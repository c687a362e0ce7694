package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/utcday"
)

// File layout in the trail's directory:
//
//	YYYY-MM-DD.jsonl   records written on that UTC day, one JSON object a line
//	head.json          seq, hash and signature of the last record (after each batch)
//	digest.key         HMAC-SHA256 key of the digests (hex, mode 0600)
//
// A line is {"seq":N,"prev":"<hex SHA-256 of the previous line>","event":{…}}
// or, for a digest, {"seq":N,"prev":"…","digest":{…}}. The first line's
// prev is 64 zeros. Hashes are over the exact bytes of a line without its
// newline.
const (
	keyFile  = "digest.key"
	headFile = "head.json"
	fileExt  = ".jsonl"
)

var zeroHash = strings.Repeat("0", 64)

// Digest is a signed summary of the chain: it covers records StartSeq to
// EndSeq, and its signature covers those numbers, the hash of the record
// before it (its line's prev) and the previous digest's signature, so the
// digests form a chain of their own.
type Digest struct {
	StartSeq          int64  `json:"digestStartSeq"`
	EndSeq            int64  `json:"digestEndSeq"`
	Time              string `json:"digestTime"`
	PreviousSignature string `json:"previousDigestSignature"`
	Algorithm         string `json:"digestSignatureAlgorithm"`
	Signature         string `json:"digestSignature"`
}

func (d *Digest) sign(key []byte, prev string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "outcrop-audit-digest-v1\n%d\n%d\n%s\n%s\n%s", d.StartSeq, d.EndSeq, d.Time, prev, d.PreviousSignature)
	return hex.EncodeToString(m.Sum(nil))
}

// head records the end of the chain, so that truncation is detected.
type head struct {
	Seq           int64  `json:"seq"`
	Hash          string `json:"hash"`
	LastSignature string `json:"lastDigestSignature"`
	DigestStart   int64  `json:"digestStartSeq"`
	Signature     string `json:"signature"`
}

func (h *head) sign(key []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "outcrop-audit-head-v1\n%d\n%s\n%s\n%d", h.Seq, h.Hash, h.LastSignature, h.DigestStart)
	return hex.EncodeToString(m.Sum(nil))
}

// line is one parsed line.
type line struct {
	Seq    int64           `json:"seq"`
	Prev   string          `json:"prev"`
	Event  json.RawMessage `json:"event,omitempty"`
	Digest *Digest         `json:"digest,omitempty"`
}

func hashLine(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hash is the hex SHA-256 of a line, kept as an array so that chaining a
// line allocates nothing.
type hash [2 * sha256.Size]byte

func (h *hash) set(line []byte) {
	s := sha256.Sum256(line)
	hex.Encode(h[:], s[:])
}

// writer appends lines; only the writer goroutine uses it.
type writer struct {
	dir  string
	key  []byte
	now  func() time.Time
	f    *os.File
	day  string       // the day of the open file
	days utcday.Namer // names the day of each line
	buf  []byte
	seq  int64
	prev hash // of the last line

	sinceDigest int
	digestStart int64
	lastSig     string
	lastDigest  time.Time

	syncEvery time.Duration // how long written records may wait for their fsync
	unsynced  bool          // records are written but not yet fsynced
	syncedAt  time.Time     // the last fsync

	headEvery time.Duration // how long the head may trail the last synced record
	headSeq   int64         // the record the head on disk names (-1: not written by this writer)
	headAt    time.Time     // when it was written
}

// files returns the trail's record files in order.
func files(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*"+fileExt))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

func openWriter(dir string, key []byte, now func() time.Time) (*writer, error) {
	w := &writer{dir: dir, key: key, now: now, digestStart: 1, lastDigest: now()}
	copy(w.prev[:], zeroHash)
	fs, err := files(dir)
	if err != nil {
		return nil, err
	}
	if len(fs) > 0 {
		last, err := lastLine(fs[len(fs)-1])
		if err != nil {
			return nil, err
		}
		if last != nil {
			var l line
			if err := json.Unmarshal(last, &l); err != nil {
				return nil, fmt.Errorf("audit: last record of %s is malformed; run `outcrop audit verify`", fs[len(fs)-1])
			}
			w.seq = l.Seq
			w.prev.set(last)
			w.digestStart = l.Seq + 1
			if l.Digest != nil {
				w.lastSig = l.Digest.Signature
			}
		}
	}
	if h, err := readHead(dir); err == nil {
		if h.Seq >= w.seq && h.Seq > 0 && w.lastSig == "" {
			w.lastSig = h.LastSignature
			w.digestStart = h.DigestStart
		}
		// Records the head says were written are missing: continue after
		// them, so the gap stays visible to Verify instead of being
		// papered over by a new chain.
		if h.Seq > w.seq {
			w.seq = h.Seq
		}
	}
	w.sinceDigest = int(w.seq + 1 - w.digestStart)
	return w, nil
}

// lastLine returns the last complete line of a file, truncating a partial
// line left by a crash mid-write (it was never synced, so never
// acknowledged as durable).
func lastLine(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	const chunk = 64 << 10
	for n := int64(chunk); ; n *= 2 {
		off := max(size-n, 0)
		b := make([]byte, size-off)
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return nil, err
		}
		end := bytes.LastIndexByte(b, '\n')
		if end < 0 {
			if off == 0 {
				if size > 0 {
					return nil, f.Truncate(0)
				}
				return nil, nil
			}
			continue
		}
		if int64(end+1) != int64(len(b)) {
			if err := f.Truncate(off + int64(end) + 1); err != nil {
				return nil, err
			}
		}
		b = b[:end]
		start := bytes.LastIndexByte(b, '\n')
		if start < 0 && off > 0 {
			continue
		}
		return bytes.Clone(b[start+1:]), nil
	}
}

func readHead(dir string) (*head, error) {
	b, err := os.ReadFile(filepath.Join(dir, headFile))
	if err != nil {
		return nil, err
	}
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", headFile, err)
	}
	return &h, nil
}

// beginLine starts the next line in buf, up to the colon after field;
// the caller appends the field's JSON and calls endLine with the offset
// returned.
func (w *writer) beginLine(field string, now time.Time) (int, error) {
	if day := w.days.Of(now); day != w.day {
		if err := w.rotate(day); err != nil {
			return 0, err
		}
	}
	start := len(w.buf)
	w.seq++
	w.buf = append(w.buf, `{"seq":`...)
	w.buf = strconv.AppendInt(w.buf, w.seq, 10)
	w.buf = append(w.buf, `,"prev":"`...)
	w.buf = append(w.buf, w.prev[:]...)
	w.buf = append(w.buf, `","`...)
	w.buf = append(w.buf, field...)
	w.buf = append(w.buf, `":`...)
	return start, nil
}

// endLine closes the line begun at start and chains it.
func (w *writer) endLine(start int) {
	w.buf = append(w.buf, '}')
	w.prev.set(w.buf[start:])
	w.buf = append(w.buf, '\n')
}

func (w *writer) appendEvent(ev *Event, now time.Time) error {
	start, err := w.beginLine("event", now)
	if err != nil {
		return err
	}
	w.buf = appendEvent(w.buf, ev)
	w.endLine(start)
	w.sinceDigest++
	return nil
}

// digestBuffered appends a digest of the records since the last one.
func (w *writer) digestBuffered(now time.Time) error {
	d := &Digest{
		StartSeq: w.digestStart, EndSeq: w.seq, Time: now.UTC().Format(time.RFC3339Nano),
		PreviousSignature: w.lastSig, Algorithm: "HMAC-SHA256",
	}
	d.Signature = d.sign(w.key, string(w.prev[:]))
	start, err := w.beginLine("digest", now)
	if err != nil {
		return err
	}
	w.buf = appendDigest(w.buf, d)
	w.endLine(start)
	w.lastSig, w.digestStart, w.sinceDigest, w.lastDigest = d.Signature, w.seq+1, 0, now
	return nil
}

// digest writes a digest if records were added since the last one.
func (w *writer) digest(now time.Time) error {
	if w.sinceDigest == 0 {
		return nil
	}
	if err := w.digestBuffered(now); err != nil {
		return err
	}
	return w.sync()
}

func (w *writer) rotate(day string) error {
	if err := w.syncHead(); err != nil {
		return err
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(w.dir, day+fileExt), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	w.f, w.day = f, day
	return nil
}

// sync writes the buffered lines and fsyncs them; the head follows when
// it was last written headEvery ago or more (syncHead otherwise).
func (w *writer) sync() error { return w.write(true) }

// write writes the buffered lines and fsyncs what is written when force
// is set or the last fsync was syncEvery ago or more; the head follows
// the fsynced records as sync says.
func (w *writer) write(force bool) error {
	if len(w.buf) > 0 && w.f != nil {
		if _, err := w.f.Write(w.buf); err != nil {
			return fmt.Errorf("audit write: %w", err)
		}
		w.buf = w.buf[:0]
		w.unsynced = true
	}
	if w.unsynced && (force || w.now().Sub(w.syncedAt) >= w.syncEvery) {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("audit sync: %w", err)
		}
		w.unsynced, w.syncedAt = false, w.now()
	}
	if w.headBehind() && w.now().Sub(w.headAt) >= w.headEvery {
		return w.writeHead()
	}
	return nil
}

// syncHead syncs and brings the head up to date.
func (w *writer) syncHead() error {
	if err := w.sync(); err != nil {
		return err
	}
	if w.headBehind() {
		return w.writeHead()
	}
	return nil
}

// headBehind says whether synced records are newer than the head.
func (w *writer) headBehind() bool {
	return w.seq != w.headSeq && len(w.buf) == 0 && !w.unsynced && w.f != nil
}

// writeHead replaces the head with one naming the last synced record.
func (w *writer) writeHead() error {
	h := head{Seq: w.seq, Hash: string(w.prev[:]), LastSignature: w.lastSig, DigestStart: w.digestStart}
	h.Signature = h.sign(w.key)
	b, _ := json.Marshal(h)
	tmp := filepath.Join(w.dir, headFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, headFile)); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	w.headSeq, w.headAt = w.seq, w.now()
	return nil
}

func (w *writer) close() error {
	err := w.syncHead()
	if w.f != nil {
		if e := w.f.Close(); err == nil {
			err = e
		}
	}
	return err
}
