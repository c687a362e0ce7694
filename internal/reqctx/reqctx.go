// Package reqctx carries per-request values (request ID, principal) in a
// context.Context through typed keys, and a slog handler that adds them to
// every log record made with that context.
package reqctx

import (
	"context"
	"log/slog"
)

// Principal identifies who made a request. IAM policies (later) attach to
// principals; for now every authenticated principal is an account root or a
// user of the single account.
type Principal struct {
	AccountID string // 12 digits
	ARN       string // arn:aws:iam::<account>:root or ...:user/<name>
	Name      string // user name, "root" for the account root
	KeyID     string // access key ID or API key ID used for this request
	Anonymous bool   // true when auth is disabled (the local-testing opt-in)
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
