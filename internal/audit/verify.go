package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Problem is one place where the trail does not verify.
type Problem struct {
	File string // base name of the file, "" for the trail as a whole
	Line int    // 1-based line in File, 0 if none
	Seq  int64  // the record concerned, 0 if unknown
	Msg  string
}

func (p Problem) String() string {
	if p.File == "" {
		return p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Report is the outcome of Verify.
type Report struct {
	Files    int
	Records  int64 // event lines
	Digests  int64
	LastSeq  int64
	Problems []Problem
}

// OK reports whether the trail verified.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the whole trail in dir: sequence numbers (a gap is a
// deleted record, a repeat or step back an inserted one), the hash chain
// (a record whose hash differs from the one its successor carries was
// edited), every digest's signature and its link to the previous digest,
// and the head (records missing at the end, or the last record edited).
// key is the digest key; with nil, signatures are not checked.
func Verify(dir string, key []byte) (*Report, error) {
	fs, err := files(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Files: len(fs)}
	var (
		prevHash  = zeroHash
		prevSeq   int64
		prevFile  string
		prevLine  int
		lastSig   string
		digestEnd int64
	)
	add := func(file string, ln int, seq int64, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{File: file, Line: ln, Seq: seq, Msg: fmt.Sprintf(format, args...)})
	}
	for _, path := range fs {
		name := filepath.Base(path)
		err := eachLine(path, func(n int, raw []byte) error {
			var l line
			h := hashLine(raw)
			if err := json.Unmarshal(raw, &l); err != nil || l.Seq == 0 || (l.Event == nil) == (l.Digest == nil) {
				add(name, n, prevSeq+1, "line is not a valid audit record (edited or inserted)")
				prevSeq, prevHash, prevFile, prevLine = prevSeq+1, h, name, n
				return nil
			}
			switch want := prevSeq + 1; {
			case l.Seq > want:
				add(name, n, want, "%s deleted: the chain jumps from record %d to record %d", span(want, l.Seq-1), prevSeq, l.Seq)
			case l.Seq < want:
				add(name, n, l.Seq, "record %d is out of sequence after record %d (inserted or duplicated)", l.Seq, prevSeq)
			case l.Prev != prevHash:
				if prevSeq == 0 {
					add(name, n, l.Seq, "record %d does not start the chain (records before it were deleted)", l.Seq)
				} else {
					add(prevFile, prevLine, prevSeq, "record %d was modified: its hash differs from the one record %d carries (or a record was inserted after it)", prevSeq, l.Seq)
				}
			}
			if l.Digest != nil {
				rep.Digests++
				d := l.Digest
				if key != nil && !hmac.Equal([]byte(d.sign(key, l.Prev)), []byte(d.Signature)) {
					add(name, n, l.Seq, "digest %d has a bad signature (forged or edited)", l.Seq)
				}
				if d.PreviousSignature != lastSig || d.StartSeq != digestEnd+1 && digestEnd != 0 {
					add(name, n, l.Seq, "digest %d does not follow the previous digest (a digest was deleted or forged)", l.Seq)
				}
				if d.EndSeq != l.Seq-1 {
					add(name, n, l.Seq, "digest %d covers records up to %d, not up to the record before it", l.Seq, d.EndSeq)
				}
				lastSig, digestEnd = d.Signature, l.Seq
			} else {
				rep.Records++
			}
			prevSeq, prevHash, prevFile, prevLine = l.Seq, h, name, n
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	rep.LastSeq = prevSeq
	h, err := readHead(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if prevSeq > 0 {
			add("", 0, 0, "%s is missing: truncation at the end cannot be ruled out", headFile)
		}
	case err != nil:
		add("", 0, 0, "%s: %v", headFile, err)
	default:
		if key != nil && !hmac.Equal([]byte(h.sign(key)), []byte(h.Signature)) {
			add("", 0, 0, "%s has a bad signature (forged or edited)", headFile)
		}
		switch {
		case h.Seq > prevSeq:
			add(prevFile, prevLine, prevSeq+1, "%s deleted from the end: the last record is %d, the head says %d", span(prevSeq+1, h.Seq), prevSeq, h.Seq)
		case h.Seq == prevSeq && h.Hash != prevHash:
			add(prevFile, prevLine, prevSeq, "record %d (the last) was modified: its hash differs from the head's", prevSeq)
		}
	}
	return rep, nil
}

func span(a, b int64) string {
	if a == b {
		return fmt.Sprintf("record %d was", a)
	}
	return fmt.Sprintf("records %d to %d were", a, b)
}

// eachLine calls f with each line of a file (without its newline).
func eachLine(path string, f func(n int, b []byte) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 256<<10)
	for n := 1; ; n++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			if err := f(n, bytes.TrimSuffix(b, []byte("\n"))); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Filter selects events, as CloudTrail's LookupEvents attributes do. Zero
// fields match everything.
type Filter struct {
	Start, End time.Time // inclusive range of event times
	// Principal matches the caller's ARN, user name, access key ID or
	// principal ID.
	Principal string
	EventName string
	// Resource matches a resource's ARN, or its last segment (a model ID,
	// a guardrail ID).
	Resource string
	// ErrorsOnly keeps failed calls.
	ErrorsOnly bool
	Max        int // at most this many, newest first (Lookup only); 0: all
}

func (f *Filter) match(e *Event) bool {
	if f.EventName != "" && e.EventName != f.EventName {
		return false
	}
	if f.ErrorsOnly && e.ErrorCode == "" {
		return false
	}
	if !f.Start.IsZero() || !f.End.IsZero() {
		t := e.Time()
		if !f.Start.IsZero() && t.Before(f.Start.Truncate(time.Second)) || !f.End.IsZero() && t.After(f.End) {
			return false
		}
	}
	if p := f.Principal; p != "" {
		u := e.UserIdentity
		if p != u.ARN && p != u.UserName && p != u.AccessKeyID && p != u.PrincipalID {
			return false
		}
	}
	if r := f.Resource; r != "" {
		ok := false
		for _, res := range e.Resources {
			if res.ARN == r || strings.HasSuffix(res.ARN, "/"+r) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// scan calls f with each event in dir that matches, oldest first, and its
// raw JSON. Files wholly outside the time range are skipped.
func scan(dir string, flt Filter, f func(e *Event, raw []byte) error) error {
	fs, err := files(dir)
	if err != nil {
		return err
	}
	var needle []byte
	if flt.EventName != "" {
		needle = []byte(`"eventName":"` + flt.EventName + `"`)
	}
	for _, path := range fs {
		day, err := time.Parse(time.DateOnly, strings.TrimSuffix(filepath.Base(path), fileExt))
		// A file holds records written that day; their event times are at
		// most a little earlier.
		if err == nil && (!flt.Start.IsZero() && day.Add(48*time.Hour).Before(flt.Start) || !flt.End.IsZero() && day.After(flt.End)) {
			continue
		}
		err = eachLine(path, func(_ int, b []byte) error {
			if needle != nil && !bytes.Contains(b, needle) {
				return nil
			}
			var l line
			if json.Unmarshal(b, &l) != nil || l.Event == nil {
				return nil
			}
			var e Event
			if json.Unmarshal(l.Event, &e) != nil || !flt.match(&e) {
				return nil
			}
			return f(&e, l.Event)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Lookup returns the events in dir that match, newest first.
func Lookup(dir string, flt Filter) ([]Event, error) {
	var out []Event
	err := scan(dir, flt, func(e *Event, _ []byte) error {
		out = append(out, *e)
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if flt.Max > 0 && len(out) > flt.Max {
		out = out[:flt.Max]
	}
	return out, err
}

// Export writes the matching events to w as JSON lines, oldest first, in
// CloudTrail's record shape (without the chain fields).
func Export(dir string, flt Filter, w io.Writer) (int, error) {
	n := 0
	bw := bufio.NewWriter(w)
	err := scan(dir, flt, func(_ *Event, raw []byte) error {
		n++
		bw.Write(raw)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}
