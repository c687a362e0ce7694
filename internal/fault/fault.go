// Package fault defines the kinds of error that domain code returns. A Kind
// says what went wrong in terms a caller can act on; the wire layers map each
// kind to a protocol-specific name and status (for AWS, see awsapi). Domain
// packages never mention AWS exception names.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The zero value, Internal, means "our fault", so an
// unclassified error is never reported to a caller as their mistake.
type Kind int

// The kinds of error. Keep in step with the tables in awsapi.
const (
	Internal        Kind = iota // a bug or an unexpected failure on our side
	Invalid                     // the request is malformed or out of range
	NotFound                    // the named resource does not exist
	Conflict                    // the resource exists or is in the wrong state
	Denied                      // the principal may not do this
	Throttled                   // too many requests; retry later
	QuotaExceeded               // a configured limit on resources was reached
	ModelNotReady               // the model is loading or its weights are missing
	ModelTimeout                // the model took too long
	ModelFailed                 // the model or its backend returned an error
	Unavailable                 // a backend or dependency cannot be reached
	Unauthenticated             // missing or unknown credentials
	BadSignature                // credentials known, signature wrong
	Expired                     // credentials or signature expired
	Unsigned                    // no credentials at all
)

var kindNames = [...]string{
	Internal:        "Internal",
	Invalid:         "Invalid",
	NotFound:        "NotFound",
	Conflict:        "Conflict",
	Denied:          "Denied",
	Throttled:       "Throttled",
	QuotaExceeded:   "QuotaExceeded",
	ModelNotReady:   "ModelNotReady",
	ModelTimeout:    "ModelTimeout",
	ModelFailed:     "ModelFailed",
	Unavailable:     "Unavailable",
	Unauthenticated: "Unauthenticated",
	BadSignature:    "BadSignature",
	Expired:         "Expired",
	Unsigned:        "Unsigned",
}

// String returns the kind's name.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error pairs a Kind with a message that is safe to return to callers.
type Error struct {
	Kind Kind
	Msg  string // sent to the client: no secrets, no upstream bodies
	Err  error  // logged, never sent
}

// Error returns the client message followed by the cause, for logs.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	if e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, msg string) error { return &Error{Kind: k, Msg: msg} }

// Newf is New with formatting.
func Newf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k that carries err as its (logged, never sent)
// cause and msg as its client message.
func Wrap(k Kind, err error, msg string) error { return &Error{Kind: k, Msg: msg, Err: err} }

// KindOf returns the kind of the outermost *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}

// Message returns the client-safe message of err. Errors that carry no Kind
// are internal, and their text is not shown to callers.
func Message(err error) string {
	var fe *Error
	if errors.As(err, &fe) && fe.Msg != "" {
		return fe.Msg
	}
	return "An internal error occurred. Try your request again."
}
