// Package kb implements knowledge bases: data sources whose documents are
// parsed, chunked and embedded by durable ingestion jobs, direct ingestion
// of documents, retrieval (semantic, lexical and hybrid, with metadata
// filters) and retrieval-augmented generation with citations.
//
// The store (kb.Store, implemented by store/sqlite) is the source of truth
// for everything, including chunk vectors; the Service keeps only caches.
package kb

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/provider"
)

// Knowledge base statuses (KnowledgeBaseStatus).
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusDeleting = "DELETING"
	StatusFailed   = "FAILED"
)

// Data source statuses (DataSourceStatus).
const (
	DSAvailable = "AVAILABLE"
	DSDeleting  = "DELETING"
)

// Ingestion job statuses (IngestionJobStatus).
const (
	JobStarting   = "STARTING"
	JobInProgress = "IN_PROGRESS"
	JobComplete   = "COMPLETE"
	JobFailed     = "FAILED"
	JobStopping   = "STOPPING"
	JobStopped    = "STOPPED"
)

// Document statuses (DocumentStatus).
const (
	DocIndexed  = "INDEXED"
	DocFailed   = "FAILED"
	DocNotFound = "NOT_FOUND"
	DocDeleting = "DELETING"
	DocIgnored  = "IGNORED"
)

// Data source types handled here.
const (
	TypeS3     = "S3"
	TypeCustom = "CUSTOM"
)

// KnowledgeBase is a vector knowledge base. Config and Storage keep the
// caller's knowledgeBaseConfiguration and storageConfiguration as given, so
// Get returns what Create was sent.
type KnowledgeBase struct {
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	Description       string          `json:"description,omitempty"`
	RoleARN           string          `json:"roleArn"`
	EmbeddingModelARN string          `json:"embeddingModelArn"`
	Dimensions        int             `json:"dimensions"`
	Config            json.RawMessage `json:"config"`
	Storage           json.RawMessage `json:"storage,omitempty"`
	Status            string          `json:"status"`
	FailureReasons    []string        `json:"failureReasons,omitempty"`
	Created           time.Time       `json:"createdAt"`
	Updated           time.Time       `json:"updatedAt"`
}

// Chunking is a chunking strategy and its settings, named as in
// Bedrock's ChunkingConfiguration. Tokens are counted as words.
//
//   - FIXED_SIZE: windows of MaxTokens, overlapping by Overlap percent.
//   - NONE: one chunk per document.
//   - HIERARCHICAL: parents of ParentMaxTokens cut into children of
//     ChildMaxTokens, both layers overlapping by OverlapTokens; children
//     are searched, parents returned.
//   - SEMANTIC: sentences grouped by meaning (embedded with BufferSize
//     neighbours each side, cut at the pairs more distant than
//     BreakpointPercentile percent of pairs), groups cut to MaxTokens.
type Chunking struct {
	Strategy             string `json:"strategy"`
	MaxTokens            int    `json:"maxTokens,omitempty"`
	Overlap              int    `json:"overlapPercentage,omitempty"`
	ParentMaxTokens      int    `json:"parentMaxTokens,omitempty"`
	ChildMaxTokens       int    `json:"childMaxTokens,omitempty"`
	OverlapTokens        int    `json:"overlapTokens,omitempty"`
	BufferSize           int    `json:"bufferSize,omitempty"`
	BreakpointPercentile int    `json:"breakpointPercentileThreshold,omitempty"`
}

// DefaultChunking is Bedrock's default: fixed size, 300 tokens, 20% overlap.
var DefaultChunking = Chunking{Strategy: "FIXED_SIZE", MaxTokens: 300, Overlap: 20}

// DataSource is where a knowledge base's documents come from: an S3-style
// bucket (served by gocloud.dev/blob) under some prefixes, or CUSTOM for
// documents ingested directly.
type DataSource struct {
	KBID            string          `json:"knowledgeBaseId"`
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Description     string          `json:"description,omitempty"`
	Type            string          `json:"type"`
	Bucket          string          `json:"bucket,omitempty"`
	Prefixes        []string        `json:"prefixes,omitempty"`
	Chunking        Chunking        `json:"chunking"`
	DeletionPolicy  string          `json:"dataDeletionPolicy"`
	Config          json.RawMessage `json:"config"`
	VectorIngestion json.RawMessage `json:"vectorIngestion,omitempty"`
	Encryption      json.RawMessage `json:"encryption,omitempty"`
	Status          string          `json:"status"`
	FailureReasons  []string        `json:"failureReasons,omitempty"`
	Created         time.Time       `json:"createdAt"`
	Updated         time.Time       `json:"updatedAt"`
}

// Stats are an ingestion job's statistics, named as Bedrock reports them.
type Stats struct {
	Scanned          int64 `json:"numberOfDocumentsScanned"`
	MetadataScanned  int64 `json:"numberOfMetadataDocumentsScanned"`
	NewIndexed       int64 `json:"numberOfNewDocumentsIndexed"`
	ModifiedIndexed  int64 `json:"numberOfModifiedDocumentsIndexed"`
	MetadataModified int64 `json:"numberOfMetadataDocumentsModified"`
	Deleted          int64 `json:"numberOfDocumentsDeleted"`
	Failed           int64 `json:"numberOfDocumentsFailed"`
	Skipped          int64 `json:"numberOfDocumentsSkipped"`
}

// IngestionJob is one sync of a data source. It is durable: its status and
// statistics are written with every document it indexes, so a job cut
// short by a restart resumes where it stopped.
type IngestionJob struct {
	KBID           string    `json:"knowledgeBaseId"`
	DSID           string    `json:"dataSourceId"`
	ID             string    `json:"id"`
	Description    string    `json:"description,omitempty"`
	Status         string    `json:"status"`
	Stats          Stats     `json:"statistics"`
	FailureReasons []string  `json:"failureReasons,omitempty"`
	Started        time.Time `json:"startedAt"`
	Updated        time.Time `json:"updatedAt"`
}

// Finished reports whether the job has ended.
func (j *IngestionJob) Finished() bool {
	return j.Status == JobComplete || j.Status == JobFailed || j.Status == JobStopped
}

// Document is the index's record of one source document. ID is the S3 URI
// for bucket documents and the caller's identifier for custom ones.
type Document struct {
	KBID     string    `json:"knowledgeBaseId"`
	DSID     string    `json:"dataSourceId"`
	ID       string    `json:"id"`
	Type     string    `json:"type"` // S3 or CUSTOM
	Hash     string    `json:"hash"` // of the content
	MetaHash string    `json:"metaHash"`
	Status   string    `json:"status"`
	Reason   string    `json:"statusReason,omitempty"`
	SeenJob  string    `json:"seenJob,omitempty"` // last ingestion job that visited it
	Updated  time.Time `json:"updatedAt"`
}

// Chunk is one indexed passage. ID is assigned by the store.
type Chunk struct {
	ID     int64
	KBID   string
	DSID   string
	DocID  string
	Seq    int
	Text   string
	Vector []float32
	Meta   map[string]any // string, float64, bool or []string values
}

// Store is what the kb package needs from persistence. Every write that
// changes a document also writes the job's statistics (when job is not
// nil) in the same transaction, which is what makes jobs resumable.
type Store interface {
	PutKnowledgeBase(ctx context.Context, kb KnowledgeBase) error
	KnowledgeBase(ctx context.Context, id string) (KnowledgeBase, error) // fault.NotFound
	KnowledgeBases(ctx context.Context) ([]KnowledgeBase, error)
	DeleteKnowledgeBase(ctx context.Context, id string) error // with its data sources, jobs, documents and chunks

	PutDataSource(ctx context.Context, ds DataSource) error
	DataSource(ctx context.Context, kbID, id string) (DataSource, error) // fault.NotFound
	DataSources(ctx context.Context, kbID string) ([]DataSource, error)
	DeleteDataSource(ctx context.Context, kbID, id string) error // with its jobs, documents and chunks

	PutIngestionJob(ctx context.Context, j IngestionJob) error
	IngestionJob(ctx context.Context, kbID, dsID, id string) (IngestionJob, error) // fault.NotFound
	IngestionJobs(ctx context.Context, kbID, dsID string) ([]IngestionJob, error)  // by start time
	UnfinishedIngestionJobs(ctx context.Context) ([]IngestionJob, error)

	Documents(ctx context.Context, kbID, dsID string) ([]Document, error)  // by ID
	Document(ctx context.Context, kbID, dsID, id string) (Document, error) // fault.NotFound
	DocumentChunks(ctx context.Context, kbID, dsID, docID string) ([]Chunk, error)
	// ReplaceDocument writes doc and replaces its chunks with chunks (nil
	// chunks keeps the old ones: a visit or a failure).
	ReplaceDocument(ctx context.Context, doc Document, chunks []Chunk, replace bool, job *IngestionJob) error
	DeleteDocument(ctx context.Context, kbID, dsID, id string, job *IngestionJob) error

	// KBChunks returns every chunk of a knowledge base with its vector.
	KBChunks(ctx context.Context, kbID string) ([]Chunk, error)
	// SearchText ranks a knowledge base's chunks by BM25 on the words of
	// query (any word may match), best first.
	SearchText(ctx context.Context, kbID, query string, limit int) ([]vector.Scored, error)
}

// Models resolves model ARNs of the catalog to backends.
type Models interface {
	// Embedder returns the embedder serving an embedding model, the
	// backend's model name and the model's native dimensions.
	Embedder(modelARN string) (e provider.Embedder, model string, dims int, err error)
	// Chat returns the adapter serving a text model and its backend name.
	Chat(modelARN string) (a provider.Adapter, model string, err error)
}

// Options configures a Service.
type Options struct {
	Store  Store
	Models Models
	// OpenBucket opens the bucket named in an S3 data source.
	OpenBucket func(ctx context.Context, bucket string) (*blob.Bucket, error)
	// Crawler fetches the pages of WEB data sources (package webcrawl);
	// without one their syncs fail.
	Crawler   Crawler
	Region    string
	AccountID string
	Logger    *slog.Logger
	Now       func() time.Time
	// EmbedBatch is how many chunks go to the embedder at once (default 32).
	EmbedBatch int
	// ANNMinChunks is the number of chunks from which a knowledge base is
	// searched through an ANN index (DefaultANNMinChunks when 0); negative
	// turns the index off, so every search is exact.
	ANNMinChunks int
	// Sessions keeps RetrieveAndGenerate sessions across restarts
	// (session.go); nil keeps them in memory only.
	Sessions SessionStore
}

// Service runs knowledge bases.
type Service struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]*runningJob // data source key → the job running on it
	cache   map[string]*slab       // knowledge base ID → chunks in memory
	ann     annSettings
	sess    *sessions
}

// New returns a Service. Call Start to resume interrupted jobs and Close
// to stop running ones.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.EmbedBatch <= 0 {
		opts.EmbedBatch = 32
	}
	ann := annSettings{minChunks: opts.ANNMinChunks}
	if ann.minChunks == 0 {
		ann.minChunks = DefaultANNMinChunks
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: opts, ctx: ctx, cancel: cancel, running: map[string]*runningJob{},
		cache: map[string]*slab{}, ann: ann, sess: newSessions(opts.Now, opts.Sessions, opts.Logger)}
}

// Start resumes ingestion jobs that a previous process left unfinished.
func (s *Service) Start(ctx context.Context) error {
	jobs, err := s.opts.Store.UnfinishedIngestionJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		s.opts.Logger.Info("resuming ingestion job", "knowledgeBase", j.KBID, "dataSource", j.DSID, "job", j.ID, "status", j.Status)
		s.launch(j)
	}
	return nil
}

// Close stops running jobs (they stay IN_PROGRESS and resume on the next
// Start) and waits for them.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// KnowledgeBaseARN returns the ARN of a knowledge base.
func (s *Service) KnowledgeBaseARN(id string) string {
	return fmt.Sprintf("arn:aws:bedrock:%s:%s:knowledge-base/%s", s.opts.Region, s.opts.AccountID, id)
}

const idChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// NewID returns a random 10-character identifier as Bedrock uses.
func NewID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b[:])
}

var nameRE = regexp.MustCompile(`^([0-9a-zA-Z][_-]?){1,100}$`)

func invalidf(format string, args ...any) error { return fault.Newf(fault.Invalid, format, args...) }

// CreateKnowledgeBase creates a vector knowledge base embedding with the
// catalog model embeddingModelARN. dims 0 means the model's own size.
func (s *Service) CreateKnowledgeBase(ctx context.Context, kb KnowledgeBase) (KnowledgeBase, error) {
	if err := s.checkKB(ctx, &kb, ""); err != nil {
		return kb, err
	}
	kb.ID = NewID()
	kb.Status = StatusActive
	kb.Created = s.opts.Now().UTC()
	kb.Updated = kb.Created
	if err := s.opts.Store.PutKnowledgeBase(ctx, kb); err != nil {
		return kb, err
	}
	return kb, nil
}

func (s *Service) checkKB(ctx context.Context, kb *KnowledgeBase, self string) error {
	if !nameRE.MatchString(kb.Name) {
		return invalidf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}", kb.Name)
	}
	_, _, dims, err := s.opts.Models.Embedder(kb.EmbeddingModelARN)
	if err != nil {
		return invalidf("The knowledge base embedding model %s is not an embedding model served by Outcrop.", kb.EmbeddingModelARN)
	}
	if kb.Dimensions == 0 {
		kb.Dimensions = dims
	} else if dims != 0 && kb.Dimensions != dims {
		return invalidf("The embedding model %s produces %d dimensions, not %d.", kb.EmbeddingModelARN, dims, kb.Dimensions)
	}
	all, err := s.opts.Store.KnowledgeBases(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == kb.Name && o.ID != self {
			return fault.Newf(fault.Conflict, "A knowledge base with the name %s already exists.", kb.Name)
		}
	}
	return nil
}

// KnowledgeBase returns one knowledge base.
func (s *Service) KnowledgeBase(ctx context.Context, id string) (KnowledgeBase, error) {
	return s.opts.Store.KnowledgeBase(ctx, id)
}

// KnowledgeBases lists knowledge bases by creation time.
func (s *Service) KnowledgeBases(ctx context.Context) ([]KnowledgeBase, error) {
	return s.opts.Store.KnowledgeBases(ctx)
}

// UpdateKnowledgeBase changes name, description, role and configuration.
// The embedding model cannot change once chunks are embedded with it.
func (s *Service) UpdateKnowledgeBase(ctx context.Context, kb KnowledgeBase) (KnowledgeBase, error) {
	old, err := s.opts.Store.KnowledgeBase(ctx, kb.ID)
	if err != nil {
		return kb, err
	}
	if err := s.checkKB(ctx, &kb, kb.ID); err != nil {
		return kb, err
	}
	if kb.EmbeddingModelARN != old.EmbeddingModelARN || kb.Dimensions != old.Dimensions {
		return kb, invalidf("The embedding model of a knowledge base cannot be changed.")
	}
	kb.Status, kb.Created, kb.Updated = StatusActive, old.Created, s.opts.Now().UTC()
	return kb, s.opts.Store.PutKnowledgeBase(ctx, kb)
}

// DeleteKnowledgeBase deletes a knowledge base with everything in it.
func (s *Service) DeleteKnowledgeBase(ctx context.Context, id string) (KnowledgeBase, error) {
	kb, err := s.opts.Store.KnowledgeBase(ctx, id)
	if err != nil {
		return kb, err
	}
	dss, err := s.opts.Store.DataSources(ctx, id)
	if err != nil {
		return kb, err
	}
	for _, ds := range dss {
		s.stopRunning(ds.KBID, ds.ID)
	}
	if err := s.opts.Store.DeleteKnowledgeBase(ctx, id); err != nil {
		return kb, err
	}
	s.invalidate(id)
	kb.Status = StatusDeleting
	return kb, nil
}

// CreateDataSource adds a data source to a knowledge base.
func (s *Service) CreateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	if _, err := s.opts.Store.KnowledgeBase(ctx, ds.KBID); err != nil {
		return ds, err
	}
	if err := s.checkDS(ctx, &ds, ""); err != nil {
		return ds, err
	}
	ds.ID = NewID()
	ds.Status = DSAvailable
	ds.Created = s.opts.Now().UTC()
	ds.Updated = ds.Created
	return ds, s.opts.Store.PutDataSource(ctx, ds)
}

func (s *Service) checkDS(ctx context.Context, ds *DataSource, self string) error {
	if !nameRE.MatchString(ds.Name) {
		return invalidf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}", ds.Name)
	}
	switch ds.Type {
	case TypeS3:
		if ds.Bucket == "" {
			return invalidf("An S3 data source needs s3Configuration.bucketArn.")
		}
	case TypeWeb:
		if _, err := ParseWebConfig(ds.Config); err != nil {
			return err
		}
	case TypeCustom:
	default:
		return invalidf("Outcrop does not support data sources of type %s yet; use S3, WEB or CUSTOM.", ds.Type)
	}
	if err := checkChunking(&ds.Chunking); err != nil {
		return err
	}
	if ds.DeletionPolicy == "" {
		ds.DeletionPolicy = "DELETE"
	}
	all, err := s.opts.Store.DataSources(ctx, ds.KBID)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == ds.Name && o.ID != self {
			return fault.Newf(fault.Conflict, "A data source with the name %s already exists in knowledge base %s.", ds.Name, ds.KBID)
		}
	}
	return nil
}

// checkChunking fills in the default strategy and checks the settings
// against Bedrock's limits.
func checkChunking(c *Chunking) error {
	switch c.Strategy {
	case "":
		*c = DefaultChunking
	case ChunkFixedSize:
		if c.MaxTokens < 1 || c.MaxTokens > maxChunkTokens || c.Overlap < 1 || c.Overlap > 99 {
			return invalidf("fixedSizeChunkingConfiguration needs maxTokens in [1, 8192] and overlapPercentage in [1, 99].")
		}
	case ChunkNone:
	case ChunkHierarchical:
		switch {
		case c.ParentMaxTokens < 1 || c.ParentMaxTokens > maxChunkTokens || c.ChildMaxTokens < 1 || c.ChildMaxTokens > maxChunkTokens:
			return invalidf("hierarchicalChunkingConfiguration.levelConfigurations needs maxTokens in [1, 8192] for both levels.")
		case c.ChildMaxTokens > c.ParentMaxTokens:
			return invalidf("In hierarchicalChunkingConfiguration the child level's maxTokens (%d) must not exceed the parent level's (%d).", c.ChildMaxTokens, c.ParentMaxTokens)
		case c.OverlapTokens < 1 || c.OverlapTokens >= c.ChildMaxTokens:
			return invalidf("hierarchicalChunkingConfiguration.overlapTokens must be at least 1 and less than the child level's maxTokens (%d).", c.ChildMaxTokens)
		}
	case ChunkSemantic:
		switch {
		case c.MaxTokens < 1 || c.MaxTokens > maxChunkTokens:
			return invalidf("semanticChunkingConfiguration.maxTokens must be in [1, 8192].")
		case c.BufferSize < 0 || c.BufferSize > 1:
			return invalidf("semanticChunkingConfiguration.bufferSize must be 0 or 1.")
		case c.BreakpointPercentile < 50 || c.BreakpointPercentile > 99:
			return invalidf("semanticChunkingConfiguration.breakpointPercentileThreshold must be in [50, 99].")
		}
	default:
		return invalidf("Value '%s' at 'chunkingStrategy' failed to satisfy constraint: Member must satisfy enum value set: [FIXED_SIZE, NONE, HIERARCHICAL, SEMANTIC]", c.Strategy)
	}
	return nil
}

// DataSource returns one data source.
func (s *Service) DataSource(ctx context.Context, kbID, id string) (DataSource, error) {
	if _, err := s.opts.Store.KnowledgeBase(ctx, kbID); err != nil {
		return DataSource{}, err
	}
	return s.opts.Store.DataSource(ctx, kbID, id)
}

// DataSources lists a knowledge base's data sources.
func (s *Service) DataSources(ctx context.Context, kbID string) ([]DataSource, error) {
	if _, err := s.opts.Store.KnowledgeBase(ctx, kbID); err != nil {
		return nil, err
	}
	return s.opts.Store.DataSources(ctx, kbID)
}

// UpdateDataSource changes a data source. Its type cannot change.
func (s *Service) UpdateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	old, err := s.DataSource(ctx, ds.KBID, ds.ID)
	if err != nil {
		return ds, err
	}
	if ds.Type != old.Type {
		return ds, invalidf("The type of a data source cannot be changed.")
	}
	if err := s.checkDS(ctx, &ds, ds.ID); err != nil {
		return ds, err
	}
	ds.Status, ds.Created, ds.Updated = DSAvailable, old.Created, s.opts.Now().UTC()
	return ds, s.opts.Store.PutDataSource(ctx, ds)
}

// DeleteDataSource deletes a data source and (with the DELETE policy, and
// in Outcrop always, since its vectors live nowhere else) its chunks.
func (s *Service) DeleteDataSource(ctx context.Context, kbID, id string) (DataSource, error) {
	ds, err := s.DataSource(ctx, kbID, id)
	if err != nil {
		return ds, err
	}
	s.stopRunning(kbID, id)
	if err := s.opts.Store.DeleteDataSource(ctx, kbID, id); err != nil {
		return ds, err
	}
	s.invalidate(kbID)
	ds.Status = DSDeleting
	return ds, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
