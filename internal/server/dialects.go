package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/api/anthropicapi"
	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/api/openaiapi"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// The second front door: the OpenAI and Anthropic API dialects on the same
// listener as the Bedrock APIs, over the same catalog, backends,
// identities, authorization and metrics (STYLE.md §2: one canonical
// request underneath). Their paths all start with /v1/, which no Bedrock
// operation uses.

// dialectKind names a front door for metrics and error rendering.
type dialectKind int

const (
	openAIDialect dialectKind = iota
	anthropicDialect
)

func (d dialectKind) service() string {
	if d == anthropicDialect {
		return "anthropic"
	}
	return "openai"
}

// dialectRoutes registers both dialects on mux.
func (s *Server) dialectRoutes(mux *http.ServeMux, m *apiMetrics) error {
	models := dialect.New(dialect.Options{
		Catalog: s.catalog, Backends: s.backends, Auth: s.iam, Metrics: s.invocations,
		Now: s.opts.Now, InvocationTimeout: time.Duration(s.opts.Config.InvocationTimeout),
	})
	oa := openaiapi.New(openaiapi.Options{Models: models})
	an := anthropicapi.New(anthropicapi.Options{Models: models})
	oaRoutes := oa.Routes()
	for pattern, h := range oaRoutes {
		if strings.HasPrefix(pattern, "GET /v1/models") {
			continue // shared with Anthropic's models list, below
		}
		if err := register(mux, pattern, s.wrapDialect(openAIDialect, pattern, h, m)); err != nil {
			return err
		}
	}
	for pattern, h := range an.Routes() {
		if err := register(mux, pattern, s.wrapDialect(anthropicDialect, pattern, h, m)); err != nil {
			return err
		}
	}
	// GET /v1/models is both vendors' path; Anthropic's SDKs always send
	// anthropic-version, OpenAI's never do.
	for pattern, anth := range map[string]handlerFunc{"GET /v1/models": an.ListModels, "GET /v1/models/{id...}": an.GetModel} {
		oaH := s.wrapDialect(openAIDialect, pattern, oaRoutes[pattern], m)
		anH := s.wrapDialect(anthropicDialect, pattern, anth, m)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("anthropic-version") != "" {
				anH.ServeHTTP(w, r)
				return
			}
			oaH.ServeHTTP(w, r)
		})
		if err := register(mux, pattern, h); err != nil {
			return err
		}
	}
	// Unknown /v1/ paths answer in OpenAI's form rather than as an AWS
	// UnknownOperation.
	return register(mux, "/v1/", s.wrapDialect(openAIDialect, "", func(_ http.ResponseWriter, r *http.Request) error {
		return fault.Newf(fault.NotFound, "Invalid URL (%s %s)", r.Method, r.URL.Path)
	}, m))
}

// wrapDialect is the request pipeline of a dialect operation: request ID,
// authentication with a Bedrock API key, the handler, error rendering in
// the dialect's shape and request metrics.
func (s *Server) wrapDialect(d dialectKind, pattern string, h handlerFunc, m *apiMetrics) http.Handler {
	svc := d.service()
	op := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		op = path
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		id := newRequestID()
		if d == anthropicDialect {
			w.Header().Set("request-id", id)
		} else {
			w.Header().Set("x-request-id", id)
		}
		ctx := reqctx.WithRequestID(r.Context(), id)
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(ctx)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fault.Wrap(fault.Internal, fmt.Errorf("panic: %v", p), "")
				}
			}()
			if op == "" {
				return h(rec, r)
			}
			ctx, err := s.authenticateDialect(ctx, d, r)
			if err != nil {
				return err
			}
			return h(rec, r.WithContext(ctx))
		}()
		if err != nil {
			k := fault.KindOf(err)
			if k == fault.Internal {
				s.log.ErrorContext(ctx, "request failed", "service", svc, "operation", op, "err", err)
			} else {
				s.log.DebugContext(ctx, "request rejected", "service", svc, "operation", op, "kind", k.String(), "err", err)
			}
			if rec.status == 0 {
				if d == anthropicDialect {
					anthropicapi.WriteError(rec, r, err)
				} else {
					openaiapi.WriteError(rec, err)
				}
			}
		}
		if op != "" {
			m.requests.WithLabelValues(svc, op, strconv.Itoa(rec.status)).Inc()
			m.duration.WithLabelValues(svc, op).Observe(s.opts.Now().Sub(start).Seconds())
		}
	})
}

// authenticateDialect accepts a Bedrock API key as a bearer token (both
// dialects) or in x-api-key (Anthropic's header; accepted on both, since
// some OpenAI-compatible tools send it too). Using the key is authorized as
// bedrock:CallWithBearerToken, as on the Bedrock APIs.
func (s *Server) authenticateDialect(ctx context.Context, d dialectKind, r *http.Request) (context.Context, error) {
	ctx = reqctx.WithOrigin(ctx, s.origin(r))
	if s.opts.Config.Auth.Mode == "any" {
		p := s.iam.Principal("root", "")
		p.Anonymous = true
		return reqctx.WithPrincipal(ctx, p), nil
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		token = r.Header.Get("x-api-key")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		if d == anthropicDialect {
			return ctx, fault.New(fault.Unauthenticated, "x-api-key header is required")
		}
		return ctx, fault.New(fault.Unauthenticated, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Create one with `outcrop keys create-api-key`.")
	}
	p, err := s.iam.AuthenticateBearer(ctx, token)
	if err != nil {
		return ctx, err
	}
	if err := s.iam.Authorize(ctx, p, "bedrock:CallWithBearerToken", "*"); err != nil {
		return ctx, err
	}
	return reqctx.WithPrincipal(ctx, p), nil
}
