// Package reqctx carries per-request values (request ID, principal) in a
// context.Context through typed keys, and a slog handler that adds them to
// every log record made with that context.
package reqctx

import (
	"context"
	"log/slog"
)

// Principal identifies who made a request: the account root, an IAM user or
// an IAM role of the single account. Identity-based policies attach to users
// and roles. A Principal may be shared between requests (identities cache
// it with the key), so it must not be modified.
type Principal struct {
	AccountID string // 12 digits
	// ARN is the caller as AWS names it in error messages:
	// arn:aws:iam::<account>:root, ...:user/<name>, or for a role
	// arn:aws:sts::<account>:assumed-role/<role>/<session>.
	ARN string
	// Name is the key owner's reference: "root" for the account root, the
	// user name for a user, "role/<name>" for a role.
	Name      string
	KeyID     string // access key ID or API key ID used for this request
	Anonymous bool   // true when auth is disabled (the local-testing opt-in)
	APIKey    bool   // true when authenticated with a Bedrock API key
}

// Origin describes where a request came from, for IAM condition keys
// (aws:SourceIp, aws:SecureTransport, aws:RequestedRegion).
type Origin struct {
	SourceIP string // the client's address, without port; "" if unknown
	Secure   bool   // true over TLS
	Region   string // the region the request was signed for or sent to
}

// WithOrigin returns a context carrying the request's origin.
func WithOrigin(ctx context.Context, o *Origin) context.Context {
	return context.WithValue(ctx, key[*Origin]{}, o)
}

// OriginFrom returns the origin in ctx, or nil.
func OriginFrom(ctx context.Context) *Origin {
	o, _ := ctx.Value(key[*Origin]{}).(*Origin)
	return o
}

type key[T any] struct{}

// WithRequestID returns a context carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key[requestID]{}, requestID(id))
}

type requestID string

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(key[requestID]{}).(requestID)
	return string(v)
}

// WithPrincipal returns a context carrying the authenticated principal.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, key[*Principal]{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(key[*Principal]{}).(*Principal)
	return p
}

// LogHandler wraps h so that records logged with a context carry request_id
// and principal attributes.
func LogHandler(h slog.Handler) slog.Handler { return &logHandler{h} }

type logHandler struct{ slog.Handler }

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if p := PrincipalFrom(ctx); p != nil && p.ARN != "" {
		r.AddAttrs(slog.String("principal", p.ARN))
	}
	return l.Handler.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l.Handler.WithAttrs(as)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{l.Handler.WithGroup(name)}
}
