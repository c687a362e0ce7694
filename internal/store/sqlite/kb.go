package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
)

var _ kb.Store = (*Store)(nil)

func getJSON[T any](ctx context.Context, db *sql.DB, what string, v *T, q string, args ...any) error {
	var data string
	err := db.QueryRowContext(ctx, q, args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return fault.Newf(fault.NotFound, "%s not found", what)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", what, err)
	}
	return json.Unmarshal([]byte(data), v)
}

func listJSON[T any](ctx context.Context, db *sql.DB, q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// PutKnowledgeBase inserts or replaces a knowledge base.
func (s *Store) PutKnowledgeBase(ctx context.Context, k kb.KnowledgeBase) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO knowledge_bases (id, created_at, data) VALUES (?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET data = excluded.data`, k.ID, fmtTime(k.Created), mustJSON(k))
	return err
}

// KnowledgeBase returns one knowledge base.
func (s *Store) KnowledgeBase(ctx context.Context, id string) (kb.KnowledgeBase, error) {
	var k kb.KnowledgeBase
	err := getJSON(ctx, s.db, "Knowledge base "+id, &k, `SELECT data FROM knowledge_bases WHERE id = ?`, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "Knowledge base with id %s does not exist", id)
	}
	return k, err
}

// KnowledgeBases lists knowledge bases by creation.
func (s *Store) KnowledgeBases(ctx context.Context) ([]kb.KnowledgeBase, error) {
	return listJSON[kb.KnowledgeBase](ctx, s.db, `SELECT data FROM knowledge_bases ORDER BY created_at, id`)
}

// DeleteKnowledgeBase deletes a knowledge base and all that is in it.
func (s *Store) DeleteKnowledgeBase(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM knowledge_bases WHERE id = ?`, id)
	return err
}

// PutDataSource inserts or replaces a data source.
func (s *Store) PutDataSource(ctx context.Context, ds kb.DataSource) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO kb_data_sources (kb_id, id, created_at, data) VALUES (?, ?, ?, ?)
		ON CONFLICT(kb_id, id) DO UPDATE SET data = excluded.data`, ds.KBID, ds.ID, fmtTime(ds.Created), mustJSON(ds))
	return err
}

// DataSource returns one data source.
func (s *Store) DataSource(ctx context.Context, kbID, id string) (kb.DataSource, error) {
	var ds kb.DataSource
	err := getJSON(ctx, s.db, "data source", &ds, `SELECT data FROM kb_data_sources WHERE kb_id = ? AND id = ?`, kbID, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "DataSource with id %s does not exist in knowledge base %s", id, kbID)
	}
	return ds, err
}

// DataSources lists a knowledge base's data sources by creation.
func (s *Store) DataSources(ctx context.Context, kbID string) ([]kb.DataSource, error) {
	return listJSON[kb.DataSource](ctx, s.db, `SELECT data FROM kb_data_sources WHERE kb_id = ? ORDER BY created_at, id`, kbID)
}

// DeleteDataSource deletes a data source with its jobs, documents and chunks.
func (s *Store) DeleteDataSource(ctx context.Context, kbID, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM kb_data_sources WHERE kb_id = ? AND id = ?`, kbID, id)
	return err
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func putJob(ctx context.Context, db execer, j kb.IngestionJob) error {
	_, err := db.ExecContext(ctx, `INSERT INTO kb_ingestion_jobs (id, kb_id, ds_id, status, started_at, data) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET status = excluded.status, data = excluded.data`,
		j.ID, j.KBID, j.DSID, j.Status, j.Started.UTC().Format("2006-01-02T15:04:05.000000000Z"), mustJSON(j))
	return err
}

// PutIngestionJob inserts or replaces an ingestion job. A job that was
// asked to stop stays STOPPING until it reports STOPPED itself.
func (s *Store) PutIngestionJob(ctx context.Context, j kb.IngestionJob) error {
	return putJob(ctx, s.db, j)
}

// IngestionJob returns one ingestion job.
func (s *Store) IngestionJob(ctx context.Context, kbID, dsID, id string) (kb.IngestionJob, error) {
	var j kb.IngestionJob
	err := getJSON(ctx, s.db, "ingestion job", &j, `SELECT data FROM kb_ingestion_jobs WHERE kb_id = ? AND ds_id = ? AND id = ?`, kbID, dsID, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "IngestionJob with id %s does not exist", id)
	}
	return j, err
}

// IngestionJobs lists a data source's jobs by start time.
func (s *Store) IngestionJobs(ctx context.Context, kbID, dsID string) ([]kb.IngestionJob, error) {
	return listJSON[kb.IngestionJob](ctx, s.db, `SELECT data FROM kb_ingestion_jobs WHERE kb_id = ? AND ds_id = ? ORDER BY started_at, id`, kbID, dsID)
}

// UnfinishedIngestionJobs lists jobs that have not ended.
func (s *Store) UnfinishedIngestionJobs(ctx context.Context) ([]kb.IngestionJob, error) {
	return listJSON[kb.IngestionJob](ctx, s.db, `SELECT data FROM kb_ingestion_jobs WHERE status IN ('STARTING', 'IN_PROGRESS', 'STOPPING') ORDER BY started_at, id`)
}

// Documents lists a data source's documents by ID.
func (s *Store) Documents(ctx context.Context, kbID, dsID string) ([]kb.Document, error) {
	return listJSON[kb.Document](ctx, s.db, `SELECT data FROM kb_documents WHERE kb_id = ? AND ds_id = ? ORDER BY id`, kbID, dsID)
}

// Document returns one document.
func (s *Store) Document(ctx context.Context, kbID, dsID, id string) (kb.Document, error) {
	var d kb.Document
	err := getJSON(ctx, s.db, "document "+id, &d, `SELECT data FROM kb_documents WHERE kb_id = ? AND ds_id = ? AND id = ?`, kbID, dsID, id)
	return d, err
}

func scanChunks(rows *sql.Rows) ([]kb.Chunk, error) {
	defer rows.Close()
	var out []kb.Chunk
	for rows.Next() {
		var c kb.Chunk
		var vec, meta []byte
		if err := rows.Scan(&c.ID, &c.KBID, &c.DSID, &c.DocID, &c.Seq, &c.Text, &vec, &meta); err != nil {
			return nil, err
		}
		c.Vector = vector.Decode(vec)
		c.Meta = kb.UnmarshalMeta(meta)
		out = append(out, c)
	}
	return out, rows.Err()
}

const chunkCols = `id, kb_id, ds_id, doc_id, seq, text, vector, metadata`

// DocumentChunks returns a document's chunks in order.
func (s *Store) DocumentChunks(ctx context.Context, kbID, dsID, docID string) ([]kb.Chunk, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+chunkCols+` FROM kb_chunks WHERE kb_id = ? AND ds_id = ? AND doc_id = ? ORDER BY seq`, kbID, dsID, docID)
	if err != nil {
		return nil, err
	}
	return scanChunks(rows)
}

// KBChunks returns every chunk of a knowledge base.
func (s *Store) KBChunks(ctx context.Context, kbID string) ([]kb.Chunk, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+chunkCols+` FROM kb_chunks WHERE kb_id = ? ORDER BY id`, kbID)
	if err != nil {
		return nil, err
	}
	return scanChunks(rows)
}

// ReplaceDocument writes a document, replaces its chunks when replace is
// set, and writes the job, all in one transaction.
func (s *Store) ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, replace bool, j *kb.IngestionJob) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO kb_documents (kb_id, ds_id, id, data) VALUES (?, ?, ?, ?)
		ON CONFLICT(kb_id, ds_id, id) DO UPDATE SET data = excluded.data`, d.KBID, d.DSID, d.ID, mustJSON(d)); err != nil {
		return fmt.Errorf("put document: %w", err)
	}
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM kb_chunks WHERE kb_id = ? AND ds_id = ? AND doc_id = ?`, d.KBID, d.DSID, d.ID); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO kb_chunks (kb_id, ds_id, doc_id, seq, text, vector, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range chunks {
			if _, err := st.ExecContext(ctx, d.KBID, d.DSID, d.ID, c.Seq, c.Text, vector.Encode(c.Vector), string(kb.MarshalMeta(c.Meta))); err != nil {
				return fmt.Errorf("insert chunk: %w", err)
			}
		}
	}
	if j != nil {
		if err := putJob(ctx, tx, *j); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DeleteDocument removes a document and its chunks, and writes the job.
func (s *Store) DeleteDocument(ctx context.Context, kbID, dsID, id string, j *kb.IngestionJob) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM kb_chunks WHERE kb_id = ? AND ds_id = ? AND doc_id = ?`, kbID, dsID, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kb_documents WHERE kb_id = ? AND ds_id = ? AND id = ?`, kbID, dsID, id); err != nil {
		return err
	}
	if j != nil {
		if err := putJob(ctx, tx, *j); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ftsQuery turns free text into an FTS5 query matching any of its words.
func ftsQuery(q string) string {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	seen := map[string]bool{}
	var terms []string
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, `"`+w+`"`)
		}
	}
	return strings.Join(terms, " OR ")
}

// SearchText ranks chunks by BM25. Scores are -bm25(), so higher is better.
func (s *Store) SearchText(ctx context.Context, kbID, query string, limit int) ([]vector.Scored, error) {
	fq := ftsQuery(query)
	if fq == "" {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, -bm25(kb_chunks_fts) AS score FROM kb_chunks_fts
		JOIN kb_chunks c ON c.id = kb_chunks_fts.rowid
		WHERE kb_chunks_fts MATCH ? AND c.kb_id = ? ORDER BY score DESC, c.id LIMIT ?`, fq, kbID, limit)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var out []vector.Scored
	for rows.Next() {
		var h vector.Scored
		if err := rows.Scan(&h.ID, &h.Score); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
