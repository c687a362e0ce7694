package server_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/server"
	"github.com/outcrop/outcrop/internal/testpg"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

// TestKnowledgeBasePostgres is TestKnowledgeBaseLocal (without
// RetrieveAndGenerate) on a server whose knowledge bases are kept and
// searched in PostgreSQL (knowledgeBases.store kind postgres): retrieval
// recall, every filter operator in both search types, editing and
// deleting files then syncing, and direct ingestion and deletion.
func TestKnowledgeBasePostgres(t *testing.T) {
	dsn := testpg.DSN(t)
	dir := realModelsDir(t)
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	o := localServerOptions(dir, def)
	mutate := o.Mutate
	o.Mutate = func(c *config.Config) {
		mutate(c)
		c.KnowledgeBases.Store = config.KBStore{Kind: "postgres", DSN: dsn}
	}
	testKnowledgeBase(t, outcroptest.NewServer(t, o), false)
}

// TestKnowledgeBasePostgresUnreachable checks that a server configured
// with a PostgreSQL it cannot reach refuses to start, saying why.
func TestKnowledgeBasePostgresUnreachable(t *testing.T) {
	c, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.Backends = map[string]config.Backend{"echo": {Kind: "echo"}}
	c.Models = outcroptest.EchoModels
	c.KnowledgeBases.Store = config.KBStore{Kind: "postgres", DSN: "postgres://outcrop@127.0.0.1:1/outcrop?connect_timeout=2"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Options{Config: c, Logger: slog.New(slog.DiscardHandler),
		Providers: []provider.Spec{providertest.EchoSpec}, Families: outcroptest.DefaultFamilies()})
	if err == nil {
		srv.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "knowledgeBases.store (postgres): connect to postgres") {
		t.Errorf("server.New with an unreachable PostgreSQL: %v", err)
	}
}
