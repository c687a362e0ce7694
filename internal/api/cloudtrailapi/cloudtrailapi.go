// Package cloudtrailapi serves CloudTrail's LookupEvents over the audit
// trail, in CloudTrail's awsJson1_1 protocol: POST / with the operation in
// X-Amz-Target, JSON bodies of Content-Type application/x-amz-json-1.1,
// timestamps as epoch seconds, and errors as {"__type", "message"}.
package cloudtrailapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorizer decides whether a principal may perform an action on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error
}

// Flusher writes the audit records still queued, so that a lookup sees
// every call made before it.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Options configures the handler.
type Options struct {
	Auth  Authorizer
	Trail Flusher // may be nil
	Dir   string  // the audit trail's directory
}

// Handler serves the CloudTrail operations.
type Handler struct{ opts Options }

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// targetPrefix is CloudTrail's X-Amz-Target prefix as its Smithy model
// names the service; the SDKs send the short form without the namespace.
const (
	targetPrefix      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	shortTargetPrefix = "CloudTrail_20131101."
)

// Targets maps every X-Amz-Target value Outcrop serves to its operation
// name and handler.
func (h *Handler) Targets() map[string]Operation {
	ops := map[string]Operation{
		"LookupEvents": {Name: "LookupEvents", Handle: h.lookupEvents},
	}
	out := make(map[string]Operation, 2*len(ops))
	for name, op := range ops {
		out[targetPrefix+name] = op
		out[shortTargetPrefix+name] = op
	}
	return out
}

// Operation is one operation served by X-Amz-Target.
type Operation struct {
	Name   string
	Handle func(http.ResponseWriter, *http.Request) error
}

// The exception names LookupEvents documents for its validation errors.
var lookupErrors = []struct {
	err  error
	name string
}{
	{audit.ErrLookupAttributes, "InvalidLookupAttributesException"},
	{audit.ErrTimeRange, "InvalidTimeRangeException"},
	{audit.ErrMaxResults, "InvalidMaxResultsException"},
	{audit.ErrNextToken, "InvalidNextTokenException"},
}

type lookupInput struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue *string
	}
	StartTime     *epochSeconds
	EndTime       *epochSeconds
	EventCategory string
	MaxResults    *int
	NextToken     *string
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type event struct {
	EventID         string       `json:"EventId"`
	EventName       string       `json:"EventName"`
	ReadOnly        string       `json:"ReadOnly"`
	AccessKeyID     string       `json:"AccessKeyId,omitempty"`
	EventTime       epochSeconds `json:"EventTime"`
	EventSource     string       `json:"EventSource"`
	Username        string       `json:"Username,omitempty"`
	Resources       []resource   `json:"Resources,omitempty"`
	CloudTrailEvent string       `json:"CloudTrailEvent"`
}

type lookupOutput struct {
	Events    []event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

// lookupEvents is LookupEvents, authorized as cloudtrail:LookupEvents on
// "*" (the action has no resource type).
func (h *Handler) lookupEvents(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := h.opts.Auth.Authorize(ctx, reqctx.PrincipalFrom(ctx), "cloudtrail:LookupEvents", "*"); err != nil {
		return err
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return err
	}
	var in lookupInput
	if err := restjson.Decode(body, &in); err != nil {
		return awsapi.Named("SerializationException", err)
	}
	q := audit.Query{}
	for _, a := range in.LookupAttributes {
		v := ""
		if a.AttributeValue != nil {
			v = *a.AttributeValue
		}
		q.Attributes = append(q.Attributes, audit.Attribute{Key: a.AttributeKey, Value: v})
	}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 {
			return awsapi.Named("InvalidMaxResultsException", fault.Newf(fault.Invalid, "MaxResults must be between 1 and %d.", audit.MaxLookupResults))
		}
		q.Max = *in.MaxResults
	}
	if in.NextToken != nil {
		q.NextToken = *in.NextToken
	}
	if in.EventCategory != "" && in.EventCategory != "insight" {
		return awsapi.Named("InvalidEventCategoryException", fault.New(fault.Invalid, "EventCategory must be insight."))
	}
	out := lookupOutput{Events: []event{}}
	if in.EventCategory == "insight" {
		// The trail holds API calls only; there are no Insights events.
		return writeJSON(w, out)
	}
	if h.opts.Trail != nil {
		if err := h.opts.Trail.Flush(ctx); err != nil {
			return err
		}
	}
	page, err := audit.LookupEvents(h.opts.Dir, q)
	if err != nil {
		for _, le := range lookupErrors {
			if errors.Is(err, le.err) {
				return awsapi.Named(le.name, err)
			}
		}
		return err
	}
	for _, e := range page.Events {
		ev := event{
			EventID: e.EventID, EventName: e.EventName, ReadOnly: boolString(e.ReadOnly),
			AccessKeyID: e.UserIdentity.AccessKeyID, EventTime: epochSeconds{e.Time()}, EventSource: e.EventSource,
			Username: e.Username, CloudTrailEvent: string(e.Raw),
		}
		for _, r := range e.Resources {
			ev.Resources = append(ev.Resources, resource{ResourceType: r.Type, ResourceName: r.ARN})
		}
		out.Events = append(out.Events, ev)
	}
	out.NextToken = page.NextToken
	return writeJSON(w, out)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// contentType is the awsJson1_1 media type.
const contentType = "application/x-amz-json-1.1"

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// WriteError renders err in awsJson1_1's error shape: the exception name
// in X-Amzn-ErrorType and in the body's __type, beside its message.
func WriteError(w http.ResponseWriter, err error) {
	name, status := awsapi.ErrorOf(awsapi.CloudTrail, err)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{name, fault.Message(err)})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Errortype", name)
	w.WriteHeader(status)
	w.Write(b)
}

// epochSeconds is a timestamp in awsJson's default format: seconds since
// the epoch as a JSON number, with a fraction for sub-second precision.
type epochSeconds struct{ time.Time }

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(t.UnixMilli()) / 1000)
}

func (t *epochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fault.New(fault.Invalid, "Timestamps must be numbers of seconds since the epoch.")
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
