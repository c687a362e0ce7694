// Package sqlite is the embedded store: one SQLite database (pure Go,
// modernc.org/sqlite) in the data directory, migrated with goose from the
// SQL files in migrations/. It implements the store interfaces that domain
// packages declare (iam.Store, ...).
//
// Format: see migrations/*.sql; times are RFC 3339 UTC text, "" for none.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

var _ iam.Store = (*Store)(nil)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

// PutAccessKey inserts or replaces an access key.
func (s *Store) PutAccessKey(ctx context.Context, k iam.AccessKey) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO access_keys (id, secret, user_name, active, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET secret=excluded.secret, user_name=excluded.user_name,
			active=excluded.active, expires_at=excluded.expires_at`,
		k.ID, k.Secret, k.User, k.Active, fmtTime(k.Created), fmtTime(k.Expires))
	if err != nil {
		return fmt.Errorf("put access key: %w", err)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanAccessKey(r scanner) (iam.AccessKey, error) {
	var k iam.AccessKey
	var created, expires string
	if err := r.Scan(&k.ID, &k.Secret, &k.User, &k.Active, &created, &expires); err != nil {
		return k, err
	}
	var err error
	if k.Created, err = parseTime(created); err != nil {
		return k, err
	}
	k.Expires, err = parseTime(expires)
	return k, err
}

const accessKeyCols = `id, secret, user_name, active, created_at, expires_at`

// AccessKey returns one access key.
func (s *Store) AccessKey(ctx context.Context, id string) (iam.AccessKey, error) {
	k, err := scanAccessKey(s.db.QueryRowContext(ctx, `SELECT `+accessKeyCols+` FROM access_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fault.Newf(fault.NotFound, "access key %s not found", id)
	}
	if err != nil {
		return k, fmt.Errorf("get access key: %w", err)
	}
	return k, nil
}

// AccessKeys lists access keys by creation time.
func (s *Store) AccessKeys(ctx context.Context) ([]iam.AccessKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accessKeyCols+` FROM access_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list access keys: %w", err)
	}
	defer rows.Close()
	var out []iam.AccessKey
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list access keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// PutAPIKey inserts or replaces an API key.
func (s *Store) PutAPIKey(ctx context.Context, k iam.APIKey) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, hash, user_name, active, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET hash=excluded.hash, user_name=excluded.user_name,
			active=excluded.active, expires_at=excluded.expires_at`,
		k.ID, k.Hash, k.User, k.Active, fmtTime(k.Created), fmtTime(k.Expires))
	if err != nil {
		return fmt.Errorf("put api key: %w", err)
	}
	return nil
}

func scanAPIKey(r scanner) (iam.APIKey, error) {
	var k iam.APIKey
	var created, expires string
	if err := r.Scan(&k.ID, &k.Hash, &k.User, &k.Active, &created, &expires); err != nil {
		return k, err
	}
	var err error
	if k.Created, err = parseTime(created); err != nil {
		return k, err
	}
	k.Expires, err = parseTime(expires)
	return k, err
}

const apiKeyCols = `id, hash, user_name, active, created_at, expires_at`

// APIKey returns one API key.
func (s *Store) APIKey(ctx context.Context, id string) (iam.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fault.Newf(fault.NotFound, "api key %s not found", id)
	}
	if err != nil {
		return k, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKeys lists API keys by creation time.
func (s *Store) APIKeys(ctx context.Context) ([]iam.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []iam.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
