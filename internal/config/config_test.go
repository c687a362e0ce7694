package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDefaultValid(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.Listen != "127.0.0.1:4280" {
		t.Errorf("Listen = %q, want 127.0.0.1:4280", c.Listen)
	}
	if len(c.Models) < 20 {
		t.Errorf("default catalog has %d models, want >= 20", len(c.Models))
	}
	if time.Duration(c.InvocationTimeout) != 10*time.Minute {
		t.Errorf("InvocationTimeout = %v", time.Duration(c.InvocationTimeout))
	}
}

func TestPrecedence(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:9\nregion: eu-west-1\nmodels:\n  - {id: outcrop.smollm2-135m-instruct, family: converse, backend: local, output: [TEXT], note: replaced}\n"), 0o644)
	if err := c.MergeFile(p); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OUTCROP_REGION": "ap-south-1"}
	if err := c.MergeEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9" || c.Region != "ap-south-1" {
		t.Errorf("got listen %q region %q, want file listen and env region", c.Listen, c.Region)
	}
	n := 0
	for _, m := range c.Models {
		if m.ID == "outcrop.smollm2-135m-instruct" {
			n++
			if m.Note != "replaced" {
				t.Errorf("model not replaced: %+v", m)
			}
		}
	}
	if n != 1 {
		t.Errorf("model appears %d times, want 1", n)
	}
}

func TestUnknownKey(t *testing.T) {
	c, _ := Default()
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("lisen: 127.0.0.1:9\n"), 0o644)
	if err := c.MergeFile(p); err == nil {
		t.Fatal("MergeFile accepted an unknown key")
	}
}

func TestKnowledgeBaseStore(t *testing.T) {
	t.Setenv("OUTCROP_TEST_KB_DSN", "postgres://outcrop@db/outcrop")
	t.Setenv("OUTCROP_TEST_EMPTY", "")
	for _, tc := range []struct {
		name string
		s    KBStore
		err  string
	}{
		{"default", KBStore{}, ""},
		{"sqlite", KBStore{Kind: "sqlite"}, ""},
		{"postgres url", KBStore{Kind: "postgres", DSN: "postgres://outcrop:pw@db:5432/outcrop?sslmode=disable"}, ""},
		{"postgres key=value", KBStore{Kind: "postgres", DSN: "host=db user=outcrop dbname=outcrop"}, ""},
		{"postgres env", KBStore{Kind: "postgres", DSNEnv: "OUTCROP_TEST_KB_DSN"}, ""},
		{"postgres without dsn", KBStore{Kind: "postgres"}, "knowledgeBases.store: kind postgres needs a dsn (postgres://user:password@host:5432/db) or dsnEnv"},
		{"postgres both", KBStore{Kind: "postgres", DSN: "postgres://db", DSNEnv: "OUTCROP_TEST_KB_DSN"}, "knowledgeBases.store: give dsn or dsnEnv, not both"},
		{"postgres empty env", KBStore{Kind: "postgres", DSNEnv: "OUTCROP_TEST_EMPTY"}, "knowledgeBases.store.dsnEnv: the environment variable OUTCROP_TEST_EMPTY is empty"},
		{"postgres bad dsn", KBStore{Kind: "postgres", DSN: "db.example.com"}, "knowledgeBases.store: the dsn is neither a postgres:// URL nor key=value settings"},
		{"sqlite with dsn", KBStore{DSN: "postgres://db"}, `knowledgeBases.store: a dsn is for kind postgres, not "sqlite"`},
		{"unknown kind", KBStore{Kind: "mysql"}, `knowledgeBases.store.kind "mysql": want sqlite or postgres`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			c.KnowledgeBases.Store = tc.s
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("Validate() = %q, want %q", got, tc.err)
			}
		})
	}
}

// TestDefaultCatalogExampleIDs checks that the model IDs AWS's published
// Bedrock example programs use are in the default catalog, each reading
// the native body its Bedrock model reads.
func TestDefaultCatalogExampleIDs(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]string{}
	for _, m := range c.Models {
		families[m.ID] = m.Family
	}
	for _, tt := range []struct{ id, family string }{
		{"anthropic.claude-3-haiku-20240307-v1:0", "anthropic-messages"},
		{"anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic-messages"}, // as global.anthropic…
		{"amazon.nova-lite-v1:0", "nova"},
		{"amazon.titan-text-premier-v1:0", "titan-text"},
		{"amazon.titan-embed-text-v2:0", "titan-embed-v2"},
		{"cohere.command-r-v1:0", "cohere-command-r"},
		{"cohere.command-r-plus-v1:0", "cohere-command-r"},
		{"meta.llama3-8b-instruct-v1:0", "meta-llama"},
		{"meta.llama3-1-8b-instruct-v1:0", "meta-llama"}, // as us.meta…
		{"mistral.mistral-large-2402-v1:0", "mistral-text"},
		{"amazon.titan-image-generator-v2:0", "titan-image-v2"},
		{"amazon.nova-canvas-v1:0", "titan-image-v2"},
		{"stability.stable-image-core-v1:1", "stability-image"},
		{"deepseek.r1-v1:0", "deepseek"}, // as us.deepseek…
	} {
		got, ok := families[tt.id]
		if !ok {
			t.Errorf("default catalog lacks %s", tt.id)
			continue
		}
		if got != tt.family {
			t.Errorf("%s: family = %q, want %q", tt.id, got, tt.family)
		}
	}
}
