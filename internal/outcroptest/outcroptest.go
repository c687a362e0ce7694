// Package outcroptest runs a real Outcrop server for tests: the real mux,
// wire codecs, identities and SQLite store (in t.TempDir()), with the
// deterministic echo backend serving test models.
package outcroptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaiimages"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/server"
)

// Server is a running test server.
type Server struct {
	URL    string
	Srv    *server.Server
	Config *config.Config
	Key    iam.AccessKey // the root access key
	HTTP   *httptest.Server
}

// Options adjusts the test server.
type Options struct {
	Families []family.Codec  // default: the converse family only
	Models   []catalog.Model // default: EchoModels
	Extra    []provider.Spec // backend kinds besides echo and openai-images
	Mutate   func(*config.Config)
	Now      func() time.Time
	// Echo, if set, is the echo backend to serve (to watch its channels).
	Echo *providertest.Echo
	// KeyCacheTTL is the identity cache lifetime; zero disables the cache
	// so that key changes are seen at once.
	KeyCacheTTL time.Duration
}

// EchoModels are the default test models, served by the echo backend.
var EchoModels = []catalog.Model{
	{ID: "outcrop.echo-v1:0", Name: "Echo", Provider: "Outcrop", Family: "converse", Backend: "echo", BackendModel: "echo",
		Input: []string{"TEXT"}, Output: []string{"TEXT"},
		Caps: catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Vision: true, Documents: true, Tools: true, Streaming: true, Prefill: true}},
}

// NewServer starts a server and stops it when the test ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	c, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	// The built-in images backend stays (without a baseURL until a test
	// sets one), so that the default catalog's image models resolve.
	c.Backends = map[string]config.Backend{"echo": {Kind: "echo"}, "images": c.Backends["images"]}
	c.Models = o.Models
	if c.Models == nil {
		c.Models = EchoModels
	}
	if o.Mutate != nil {
		o.Mutate(c)
	}
	fams := o.Families
	if fams == nil {
		fams = DefaultFamilies()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	echo := providertest.EchoSpec
	if o.Echo != nil {
		echo = providertest.EchoSpecWith(*o.Echo)
	}
	srv, err := server.New(context.Background(), server.Options{
		Config: c, Logger: log, Providers: append([]provider.Spec{echo, openaiimages.Spec}, o.Extra...),
		Families: fams, Now: o.Now, KeyCacheTTL: cacheTTL(o.KeyCacheTTL),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &Server{URL: hs.URL, Srv: srv, Config: c, Key: srv.RootKey(), HTTP: hs}
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// BodyCopyTransport gives each request its own copy of the body, working
// around an aws-sdk-go-v2 race with net/http on fast local servers (the SDK
// closes the request body while the transport may still read it). Nothing
// changes on the wire.
type BodyCopyTransport struct{ Base http.RoundTripper }

// RoundTrip copies the body and forwards the request.
func (t BodyCopyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body.Close()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

func cacheTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
