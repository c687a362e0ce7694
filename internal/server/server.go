// Package server is the composition root: it builds every component from
// the configuration (store, identities, backends, catalog, API handlers),
// routes all four Bedrock services on one mux, wraps them in the request
// pipeline (request ID, authentication, metrics, logging), and runs the
// HTTP server (HTTP/1.1 and cleartext HTTP/2) until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outcrop/outcrop/internal/api/agentapi"
	"github.com/outcrop/outcrop/internal/api/bedrockapi"
	"github.com/outcrop/outcrop/internal/api/runtimeapi"
	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/route"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

// Options configures a Server.
type Options struct {
	Config    *config.Config
	Logger    *slog.Logger
	Providers []provider.Spec // compiled-in backend kinds (provider/all)
	Families  []family.Codec  // compiled-in model families (family/all)
	Now       func() time.Time
	// Stdout receives the one-time greeting with the root credentials.
	Stdout io.Writer
	// KeyCacheTTL bounds how long a revoked key keeps working (default 2s).
	KeyCacheTTL time.Duration
}

// Server is a built Outcrop server.
type Server struct {
	opts     Options
	log      *slog.Logger
	store    *sqlite.Store
	kb       *kb.Service
	kbStore  io.Closer // the PostgreSQL store of knowledge bases, when configured
	iam      *iam.Service
	catalog  *catalog.Catalog
	backends backendSet
	router   *route.Table // per-model adapters: routers over several backends
	handler  http.Handler
	reg      *prometheus.Registry
	rootKey  iam.AccessKey
	proxies  []netip.Prefix // trusted reverse proxies (auth.trustedProxies)
	audit    *audit.Trail   // every API call (docs/audit.md)
	quota    *quota.Limiter // nil without configured quotas
	invlog   *invlog.Logger // model invocation logging (docs/invocation-logging.md)
	meter    *usage.Meter   // usage, cost and budgets (docs/usage.md)
	tracing  *tracing       // OpenTelemetry, nil when off (tracing.go)

	dialectSigV4 dialectSigV4 // SigV4 on the OpenAI and Anthropic paths (dialects.go)

	// invocations are the per-model metrics, shared by every front door.
	invocations *runtimeapi.Metrics

	// settling is held by each dialect call from just before its
	// answer's last bytes are written until its bookkeeping (metrics,
	// audit record, usage, invocation log) is done; readers of that
	// bookkeeping wait for it first (settled), so that a client which has
	// its answer sees the call in the audit trail, the usage report and
	// the metrics.
	settling settleBarrier
}

// settled returns once every call whose answer has been sent has finished
// its bookkeeping.
func (s *Server) settled() { s.settling.wait() }

type backendSet map[string]provider.Adapter

func (b backendSet) Adapter(name string) (provider.Adapter, bool) {
	a, ok := b[name]
	return a, ok
}

// New builds a server. It creates the data directory and, on first start,
// the root access key and <data-dir>/credentials.
func New(ctx context.Context, opts Options) (*Server, error) {
	c := opts.Config
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.KeyCacheTTL == 0 {
		opts.KeyCacheTTL = 2 * time.Second
	}
	s := &Server{opts: opts, log: opts.Logger, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.DataDir, "outcrop.db"))
	if err != nil {
		return nil, err
	}
	s.store = st
	s.audit, err = audit.Open(audit.Options{
		Dir: s.AuditDir(), AccountID: c.AccountID, Now: opts.Now,
		Logger: opts.Logger.With("component", "audit"),
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	s.quota, err = newLimiter(c.Quotas, opts.Now, opts.Logger.With("component", "quota"))
	if err != nil {
		s.audit.Close()
		st.Close()
		return nil, err
	}
	if err := s.setupTracing(ctx); err != nil {
		s.audit.Close()
		st.Close()
		return nil, err
	}
	if err := s.build(ctx); err != nil {
		s.closeTracing()
		s.audit.Close()
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	c := s.opts.Config
	s.iam = iam.New(iam.Options{
		Store: s.store, Directory: s.store, AccountID: c.AccountID, Now: s.opts.Now, CacheTTL: s.opts.KeyCacheTTL,
		ModelAccessDefault: c.ModelAccess.Default == "enabled",
	})
	for _, p := range c.Auth.TrustedProxies {
		pfx, err := config.ParseAddrOrPrefix(p)
		if err != nil {
			return err
		}
		s.proxies = append(s.proxies, pfx)
	}
	root, created, err := s.iam.EnsureRoot(ctx)
	if err != nil {
		return fmt.Errorf("root key: %w", err)
	}
	s.rootKey = root
	if created {
		if err := s.greet(root); err != nil {
			return err
		}
	}

	reg, err := provider.NewRegistry(s.opts.Providers...)
	if err != nil {
		return err
	}
	env := provider.Env{
		HTTPClient: &http.Client{Timeout: time.Duration(c.InvocationTimeout), Transport: s.tracedTransport()},
		Logger:     s.log.With("component", "provider"),
		Now:        s.opts.Now,
		ModelsDir:  c.ModelsPath(),
	}
	s.backends = backendSet{}
	backendNames := map[string]bool{}
	for name, b := range c.Backends {
		raw, err := b.RawConfig()
		if err != nil {
			return fmt.Errorf("backend %q: %w", name, err)
		}
		a, err := reg.New(b.Kind, raw, env)
		if err != nil {
			return fmt.Errorf("backend %q: %w", name, err)
		}
		s.backends[name] = a
		backendNames[name] = true
		// Backends that measure themselves (the built-in engine) export
		// their metrics labelled with the backend's name.
		if col, ok := a.(prometheus.Collector); ok {
			if err := prometheus.WrapRegistererWith(prometheus.Labels{"backend": name}, s.reg).Register(col); err != nil {
				return fmt.Errorf("backend %q: metrics: %w", name, err)
			}
		}
	}
	fams, err := family.NewRegistry(s.opts.Families...)
	if err != nil {
		return err
	}
	famNames := map[string]bool{}
	for _, n := range fams.Names() {
		famNames[n] = true
	}
	s.catalog, err = catalog.New(c.Region, c.Models, catalog.Validator{Families: famNames, Backends: backendNames})
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}

	s.router = s.newRoutes()
	s.invocations = runtimeapi.NewMetrics(s.reg)
	rt := runtimeapi.New(runtimeapi.Options{
		Logger: s.log.With("component", "runtimeapi"), Catalog: s.catalog, Families: fams,
		Backends: s.router, Auth: s.iam, Now: s.opts.Now,
		InvocationTimeout: time.Duration(c.InvocationTimeout),
		Metrics:           s.invocations,
		StrictConverse:    c.Converse.Strict,
	})
	if s.invlog, err = s.openInvocationLog(ctx); err != nil {
		return err
	}
	s.meter = s.newMeter()
	br := bedrockapi.New(bedrockapi.Options{Catalog: s.catalog, Auth: s.iam, Access: s.iam, Tags: s.iam, AccountID: c.AccountID, Logging: s.invlog})
	ar, err := s.buildKB(ctx)
	if err != nil {
		return err
	}
	ag := agentapi.New(agentapi.Options{Auth: s.iam, Tags: s.iam, AccountID: c.AccountID, KB: s.kb})
	mux, err := s.routes(rt, br, ag, ar)
	if err != nil {
		return err
	}
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.settled()
		metrics.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	s.handler = mux
	return nil
}

// greet writes the credentials file and prints the new root key once.
func (s *Server) greet(k iam.AccessKey) error {
	c := s.opts.Config
	path := filepath.Join(c.DataDir, "credentials")
	content := fmt.Sprintf("[outcrop]\naws_access_key_id = %s\naws_secret_access_key = %s\n", k.ID, k.Secret)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(c.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	fmt.Fprintf(s.opts.Stdout, `Outcrop created the root access key of account %s (shown once; also in %s, profile "outcrop"):

  export AWS_ACCESS_KEY_ID=%s
  export AWS_SECRET_ACCESS_KEY=%s
  export AWS_REGION=%s AWS_DEFAULT_REGION=%s
  export AWS_ENDPOINT_URL=http://%s

or: export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=outcrop AWS_REGION=%s AWS_DEFAULT_REGION=%s AWS_ENDPOINT_URL=http://%s

`, c.AccountID, path, k.ID, k.Secret, c.Region, c.Region, net.JoinHostPort(host, port), path, c.Region, c.Region, net.JoinHostPort(host, port))
	return nil
}

// Handler returns the server's HTTP handler (for tests and benchmarks).
func (s *Server) Handler() http.Handler { return s.handler }

// RootKey returns the account root's access key.
func (s *Server) RootKey() iam.AccessKey { return s.rootKey }

// IAM returns the identity service.
func (s *Server) IAM() *iam.Service { return s.iam }

// Serve serves HTTP/1.1 and cleartext HTTP/2 on ln until ctx ends, then
// shuts down gracefully, letting in-flight requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           s.handler,
		Protocols:         &protos,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("outcrop ready", "addr", ln.Addr().String(), "models", len(s.catalog.List()), "data_dir", s.opts.Config.DataDir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Close stops the backends that hold resources (the built-in engine's
// loaded models and keep-alive loop) and releases the store.
func (s *Server) Close() error {
	var errs []error
	for name, a := range s.backends {
		if c, ok := a.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close backend %s: %w", name, err))
			}
		}
	}
	// The HTTP server has stopped, so no call is still being recorded:
	// the trail writes what is queued, a digest, and syncs.
	if s.kb != nil {
		errs = append(errs, s.kb.Close())
	}
	if s.kbStore != nil {
		errs = append(errs, s.kbStore.Close())
	}
	errs = append(errs, s.invlog.Close(), s.meter.Close(), s.quota.Close(), s.audit.Close(), s.store.Close())
	errs = append(errs, s.closeTracing()) // the spans of the last requests
	return errors.Join(errs...)
}
