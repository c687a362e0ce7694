// Package postgres is the knowledge-base store for scale-out: PostgreSQL
// with pgvector, shared by every replica, migrated with goose from the SQL
// files in migrations/ (under a session lock, so replicas starting
// together migrate once). It implements kb.Store with the same semantics
// as store/sqlite, and kb.Searcher: vector search (exact, or through a
// per-knowledge-base HNSW index on cosine distance) and full-text search
// (tsvector, ts_rank_cd) with Bedrock's metadata filters translated to SQL
// over a jsonb column, so that replicas need no index in memory.
//
// Format: see migrations/*.sql; times are text as in store/sqlite.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/outcrop/outcrop/internal/kb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures a Store.
type Options struct {
	// DSN is a libpq connection string or postgres:// URL.
	DSN string
	// Logger receives the index builds (default: discarded).
	Logger *slog.Logger
	// ANNMinChunks is the number of chunks passing a query's filter from
	// which vector search goes through the HNSW index (kb.DefaultANNMinChunks
	// when 0); below it the passing chunks are scanned exactly, as the
	// in-memory search does. Negative: always exact.
	ANNMinChunks int
	// TextCandidates bounds how many chunks a text search scores when its
	// words are common (DefaultTextCandidates when 0): the rarest words
	// bring candidates in only while their chunk counts add up to no more
	// than this, and the others only add to the candidates' scores (see
	// MatchingChunks). Negative: every chunk holding any query word is
	// scored, which gives the exact BM25 ranking.
	TextCandidates int
}

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
	ann  int
	text int // Options.TextCandidates
	log  *slog.Logger

	ctx    context.Context // cancelled by Close, ending index builds
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	valid    map[string]bool  // knowledge base ID → its HNSW index is valid
	building map[string]build // knowledge base ID → this Store's running build

	connConfig *pgx.ConnConfig
	leaseMu    sync.Mutex
	leaseConn  *pgx.Conn       // holds the ingestion job leases (jobs.go); nil until the first
	leases     map[string]bool // leaseKey → held
}

var (
	_ kb.Store    = (*Store)(nil)
	_ kb.Searcher = (*Store)(nil)
)

// Open connects to the database and migrates it. The database user must
// be able to CREATE EXTENSION vector, or the extension must exist.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: %w", err)
	}
	if err := migrate(ctx, cfg); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	ann := opts.ANNMinChunks
	if ann == 0 {
		ann = kb.DefaultANNMinChunks
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	text := opts.TextCandidates
	if text == 0 {
		text = DefaultTextCandidates
	}
	bctx, cancel := context.WithCancel(context.Background())
	return &Store{pool: pool, ann: ann, text: text, log: opts.Logger, ctx: bctx, cancel: cancel,
		valid: map[string]bool{}, building: map[string]build{}, connConfig: cfg.ConnConfig.Copy()}, nil
}

func migrate(ctx context.Context, cfg *pgxpool.Config) error {
	db := stdlib.OpenDB(*cfg.ConnConfig.Copy())
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	return migrateDB(ctx, db)
}

func migrateDB(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	// Its own version table, so the database may hold other schemas.
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker),
		goose.WithTableName("outcrop_kb_migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Close stops index builds (an interrupted one is redone when next
// needed), gives up the ingestion job leases (another replica may resume
// the jobs) and closes the connections.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	s.closeLeases()
	s.pool.Close()
	return nil
}
