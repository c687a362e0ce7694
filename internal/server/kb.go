package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// buckets (config buckets)

	"github.com/outcrop/outcrop/internal/api/agentruntimeapi"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/store/postgres"
	"github.com/outcrop/outcrop/internal/webcrawl"
)

// kbModels resolves the catalog's models for knowledge bases, through the
// route table so that models with several backends are routed and fall
// back as they are on the runtime.
type kbModels struct{ s *Server }

func (m kbModels) Embedder(modelARN string) (provider.Embedder, string, int, error) {
	md, err := m.s.catalog.Lookup(modelARN)
	if err != nil {
		return nil, "", 0, err
	}
	if !md.Embedding() {
		return nil, "", 0, fault.Newf(fault.Invalid, "%s is not an embedding model.", md.ID)
	}
	a, ok := m.s.router.Model(md.ID)
	e, ok2 := a.(provider.Embedder)
	if !ok || !ok2 {
		return nil, "", 0, fault.Newf(fault.Invalid, "The backend of %s does not embed.", md.ID)
	}
	return tracedEmbedder{e, md, m.s}, md.BackendModel, md.Caps.Dimensions, nil
}

func (m kbModels) Chat(modelARN string) (provider.Adapter, string, error) {
	md, err := m.s.catalog.Lookup(modelARN)
	if err != nil {
		return nil, "", err
	}
	if md.Embedding() {
		return nil, "", fault.Newf(fault.Invalid, "%s is an embedding model; RetrieveAndGenerate needs a text model.", md.ID)
	}
	if md.Reranker() {
		return nil, "", fault.Newf(fault.Invalid, "%s is a reranker model; RetrieveAndGenerate needs a text model.", md.ID)
	}
	a, ok := m.s.router.Model(md.ID)
	if !ok {
		return nil, "", fault.Newf(fault.Invalid, "The backend of %s is not configured.", md.ID)
	}
	return tracedChat{a, md, m.s}, md.BackendModel, nil
}

// Reranker implements kb.Rerankers. A reranker model whose backend does
// not rerank (the default configuration serves none) fails as a model the
// account may not use does on Bedrock.
func (m kbModels) Reranker(modelARN string) (provider.Reranker, string, error) {
	md, err := m.s.catalog.Lookup(modelARN)
	if err != nil {
		return nil, "", fault.Newf(fault.NotFound, "The reranking model %s was not found.", modelARN)
	}
	if !md.Reranker() {
		return nil, "", fault.Newf(fault.Invalid, "%s is not a reranker model.", md.ID)
	}
	a, ok := m.s.router.Model(md.ID)
	rr, ok2 := a.(provider.Reranker)
	if !ok || !ok2 {
		return nil, "", fault.New(fault.Denied, kb.MsgNoReranker)
	}
	return rr, md.BackendModel, nil
}

var _ kb.Rerankers = kbModels{}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// openBucket serves the S3 bucket name from <data-dir>/buckets/<name>, a
// directory or a symbolic link to one (the local-directory form: link any
// folder there to index it in place).
func (s *Server) openBucket(ctx context.Context, name string) (*blob.Bucket, error) {
	if !bucketName.MatchString(name) {
		return nil, fault.Newf(fault.Invalid, "%q is not a valid bucket name.", name)
	}
	if u, ok := s.opts.Config.Buckets[name]; ok {
		// A configured bucket: an S3-compatible store (s3blob) or a
		// directory (fileblob) anywhere.
		b, err := blob.OpenBucket(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		return b, nil
	}
	dir := filepath.Join(s.opts.Config.DataDir, "buckets", name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return b, nil
}

// buildKB starts the knowledge-base service, resuming interrupted
// ingestion jobs, and returns the bedrock-agent-runtime handler.
func (s *Server) buildKB(ctx context.Context) (*agentruntimeapi.Handler, error) {
	c := s.opts.Config
	var store kb.Store = s.store
	if c.KnowledgeBases.Store.Kind == "postgres" {
		pg, err := postgres.Open(ctx, postgres.Options{DSN: c.KnowledgeBases.Store.PostgresDSN(), Logger: s.log.With("component", "kb")})
		if err != nil {
			return nil, fmt.Errorf("knowledgeBases.store (postgres): %w", err)
		}
		s.kbStore, store = pg, pg
	}
	s.kb = kb.New(kb.Options{Store: store, Models: kbModels{s}, OpenBucket: s.openBucket, Crawler: webcrawl.New(nil),
		Region: c.Region, AccountID: c.AccountID, Logger: s.log.With("component", "kb"), Now: s.opts.Now,
		Sessions: s.store}) // sessions stay in SQLite whichever store holds the knowledge bases
	if err := s.kb.Start(ctx); err != nil {
		return nil, fmt.Errorf("knowledge bases: %w", err)
	}
	return agentruntimeapi.New(agentruntimeapi.Options{Auth: s.iam, KB: s.kb, ModelARN: func(id string) string {
		m, err := s.catalog.Lookup(id)
		if err != nil {
			return ""
		}
		return s.catalog.ARN(m)
	}}), nil
}
