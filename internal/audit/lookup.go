package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
)

// The lookup attribute keys of CloudTrail's LookupEvents
// (LookupAttribute.AttributeKey).
const (
	AttrEventID      = "EventId"
	AttrEventName    = "EventName"
	AttrReadOnly     = "ReadOnly"
	AttrUsername     = "Username"
	AttrResourceType = "ResourceType"
	AttrResourceName = "ResourceName"
	AttrEventSource  = "EventSource"
	AttrAccessKeyID  = "AccessKeyId"
)

// MaxLookupResults is the most events one LookupEvents page holds, and the
// default page size.
const MaxLookupResults = 50

// The reasons a Query is refused. Errors returned by LookupEvents wrap one
// of them (errors.Is), so that the API layer can name CloudTrail's
// exception; their kind is fault.Invalid.
var (
	ErrLookupAttributes = errors.New("invalid lookup attributes")
	ErrTimeRange        = errors.New("invalid time range")
	ErrMaxResults       = errors.New("invalid max results")
	ErrNextToken        = errors.New("invalid next token")
)

// Attribute is one LookupEvents lookup attribute.
type Attribute struct{ Key, Value string }

// Query is a LookupEvents request over the trail. Zero fields match
// everything.
type Query struct {
	// Attributes holds at most one attribute, as CloudTrail allows.
	Attributes []Attribute
	Start, End time.Time // inclusive, whole seconds
	// Max is the page size, 1 to MaxLookupResults; 0 means the maximum.
	Max int
	// NextToken continues an earlier query with the same attributes and
	// time range.
	NextToken string
}

// LookupEvent is one event of a LookupEvents page: the summary fields
// CloudTrail returns beside the whole record.
type LookupEvent struct {
	Event
	Username string
	// Raw is the record as written (CloudTrail's CloudTrailEvent string).
	Raw json.RawMessage
}

// Page is one page of LookupEvents results, newest first.
type Page struct {
	Events    []LookupEvent
	NextToken string // "" on the last page
}

// LookupEvents answers a CloudTrail LookupEvents query over the trail in
// dir: the matching events, newest first, one page at a time. A page's
// NextToken names the record after which the next page starts, so pages
// are stable while the trail grows: records written after the first call
// are not in later pages.
func LookupEvents(dir string, q Query) (*Page, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	max := q.Max
	if max == 0 {
		max = MaxLookupResults
	}
	before := int64(-1) // no cursor
	if q.NextToken != "" {
		var err error
		if before, err = q.cursor(); err != nil {
			return nil, err
		}
	}
	var attr Attribute
	if len(q.Attributes) == 1 {
		attr = q.Attributes[0]
	}
	var needle []byte
	switch attr.Key {
	case AttrEventName:
		needle = []byte(`"eventName":"` + attr.Value + `"`)
	case AttrEventID:
		needle = []byte(`"eventID":"` + attr.Value + `"`)
	}
	fs, err := files(dir)
	if err != nil {
		return nil, err
	}
	// Files are scanned oldest first; a ring keeps the newest max+1
	// matches (one more than a page, to know whether another follows).
	ring := make([]LookupEvent, max+1)
	seqs := make([]int64, max+1)
	n := 0
	for _, path := range fs {
		day, err := time.Parse(time.DateOnly, strings.TrimSuffix(filepath.Base(path), fileExt))
		// A file holds records written that day; their event times are at
		// most a little earlier.
		if err == nil && (!q.Start.IsZero() && day.Add(48*time.Hour).Before(q.Start) || !q.End.IsZero() && day.After(q.End)) {
			continue
		}
		err = eachLine(path, func(_ int, b []byte) error {
			if needle != nil && !bytes.Contains(b, needle) {
				return nil
			}
			var l line
			if json.Unmarshal(b, &l) != nil || l.Event == nil || before >= 0 && l.Seq >= before {
				return nil
			}
			var e Event
			if json.Unmarshal(l.Event, &e) != nil || !q.match(&e, attr) {
				return nil
			}
			i := n % len(ring)
			ring[i] = LookupEvent{Event: e, Username: username(&e.UserIdentity), Raw: l.Event}
			seqs[i] = l.Seq
			n++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	p := &Page{}
	for k := 0; k < min(n, max); k++ {
		p.Events = append(p.Events, ring[(n-1-k)%len(ring)])
	}
	if n > max {
		p.NextToken = q.token(seqs[(n-max)%len(ring)])
	}
	return p, nil
}

func (q *Query) validate() error {
	if len(q.Attributes) > 1 {
		return fault.Wrap(fault.Invalid, ErrLookupAttributes, "You cannot specify more than one lookup attribute.")
	}
	for _, a := range q.Attributes {
		switch a.Key {
		case AttrEventID, AttrEventName, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID:
		case AttrReadOnly:
			if a.Value != "true" && a.Value != "false" {
				return fault.Wrap(fault.Invalid, ErrLookupAttributes, "The value of the ReadOnly lookup attribute must be true or false.")
			}
		default:
			return fault.Wrap(fault.Invalid, ErrLookupAttributes, fmt.Sprintf("Invalid lookup attribute key %q.", a.Key))
		}
		if a.Value == "" || len(a.Value) > 2000 {
			return fault.Wrap(fault.Invalid, ErrLookupAttributes, "The lookup attribute value must be 1 to 2000 characters long.")
		}
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return fault.Wrap(fault.Invalid, ErrTimeRange, "Start time must be before or equal to end time.")
	}
	if q.Max < 0 || q.Max > MaxLookupResults {
		return fault.Wrap(fault.Invalid, ErrMaxResults, fmt.Sprintf("MaxResults must be between 1 and %d.", MaxLookupResults))
	}
	return nil
}

// match reports whether e is in the query's time range and has attr.
func (q *Query) match(e *Event, attr Attribute) bool {
	if !q.Start.IsZero() || !q.End.IsZero() {
		t := e.Time()
		if !q.Start.IsZero() && t.Before(q.Start.Truncate(time.Second)) || !q.End.IsZero() && t.After(q.End) {
			return false
		}
	}
	v := attr.Value
	switch attr.Key {
	case "":
		return true
	case AttrEventID:
		return e.EventID == v
	case AttrEventName:
		return e.EventName == v
	case AttrReadOnly:
		return strconv.FormatBool(e.ReadOnly) == v
	case AttrUsername:
		return username(&e.UserIdentity) == v
	case AttrEventSource:
		return e.EventSource == v
	case AttrAccessKeyID:
		return e.UserIdentity.AccessKeyID == v
	case AttrResourceType:
		for _, r := range e.Resources {
			if r.Type == v {
				return true
			}
		}
	case AttrResourceName:
		for _, r := range e.Resources {
			if r.ARN == v || strings.HasSuffix(r.ARN, "/"+v) {
				return true
			}
		}
	}
	return false
}

// username is the caller's name as LookupEvents reports it: the IAM
// user's name, "root" for the account root, the role session for an
// assumed role.
func username(u *UserIdentity) string {
	switch {
	case u.UserName != "":
		return u.UserName
	case u.Type == "Root":
		return "root"
	case u.Type == "AssumedRole":
		return u.ARN[strings.LastIndexByte(u.ARN, '/')+1:]
	}
	return ""
}

// A next token is "1." followed by the base64url of the record sequence
// number the next page starts below and a fingerprint of the query's
// attributes and time range, so that a token is refused with other
// parameters, as CloudTrail refuses it.
type cursorToken struct {
	Before int64  `json:"b"`
	Query  string `json:"q"`
}

func (q *Query) fingerprint() string {
	h := sha256.New()
	for _, a := range q.Attributes {
		fmt.Fprintf(h, "%s\x00%s\x00", a.Key, a.Value)
	}
	fmt.Fprintf(h, "%d\x00%d", unixOrZero(q.Start), unixOrZero(q.End))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (q *Query) token(before int64) string {
	b, _ := json.Marshal(cursorToken{Before: before, Query: q.fingerprint()})
	return "1." + base64.RawURLEncoding.EncodeToString(b)
}

func (q *Query) cursor() (int64, error) {
	bad := fault.Wrap(fault.Invalid, ErrNextToken, "Invalid NextToken.")
	raw, ok := strings.CutPrefix(q.NextToken, "1.")
	if !ok {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return 0, bad
	}
	var c cursorToken
	if json.Unmarshal(b, &c) != nil || c.Before < 1 {
		return 0, bad
	}
	if c.Query != q.fingerprint() {
		return 0, fault.Wrap(fault.Invalid, ErrNextToken, "The NextToken was issued for different lookup attributes or a different time range.")
	}
	return c.Before, nil
}
