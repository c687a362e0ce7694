package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
)

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getJSON[T any](ctx context.Context, q querier, what string, v *T, sql string, args ...any) error {
	var data string
	err := q.QueryRow(ctx, sql, args...).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.Newf(fault.NotFound, "%s not found", what)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", what, err)
	}
	return json.Unmarshal([]byte(data), v)
}

func listJSON[T any](ctx context.Context, q querier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
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

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// hnswID is what a knowledge-base ID must look like to get an HNSW index
// (kb.NewID makes 10 characters of [0-9A-Z]); it is spliced into SQL.
var hnswID = regexp.MustCompile(`^[0-9A-Za-z]{1,40}$`)

// maxHNSWDims is pgvector's limit for an HNSW index on vector.
const maxHNSWDims = 2000

// PutKnowledgeBase inserts or replaces a knowledge base.
func (s *Store) PutKnowledgeBase(ctx context.Context, k kb.KnowledgeBase) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO knowledge_bases (id, created_at, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`, k.ID, fmtTime(k.Created), mustJSON(k))
	return err
}

// KnowledgeBase returns one knowledge base.
func (s *Store) KnowledgeBase(ctx context.Context, id string) (kb.KnowledgeBase, error) {
	var k kb.KnowledgeBase
	err := getJSON(ctx, s.pool, "Knowledge base "+id, &k, `SELECT data FROM knowledge_bases WHERE id = $1`, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "Knowledge base with id %s does not exist", id)
	}
	return k, err
}

// KnowledgeBases lists knowledge bases by creation.
func (s *Store) KnowledgeBases(ctx context.Context) ([]kb.KnowledgeBase, error) {
	return listJSON[kb.KnowledgeBase](ctx, s.pool, `SELECT data FROM knowledge_bases ORDER BY created_at, id COLLATE "C"`)
}

// DeleteKnowledgeBase deletes a knowledge base and all that is in it,
// then its HNSW index.
func (s *Store) DeleteKnowledgeBase(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM knowledge_bases WHERE id = $1`, id); err != nil {
		return err
	}
	s.releaseAll(ctx, leaseKey(id, ""))
	if hnswID.MatchString(id) {
		s.stopBuild(id)
		if _, err := s.pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+hnswIndex(id)); err != nil {
			return fmt.Errorf("drop the HNSW index of knowledge base %s: %w", id, err)
		}
	}
	return nil
}

// PutDataSource inserts or replaces a data source.
func (s *Store) PutDataSource(ctx context.Context, ds kb.DataSource) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO kb_data_sources (kb_id, id, created_at, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kb_id, id) DO UPDATE SET data = excluded.data`, ds.KBID, ds.ID, fmtTime(ds.Created), mustJSON(ds))
	return err
}

// DataSource returns one data source.
func (s *Store) DataSource(ctx context.Context, kbID, id string) (kb.DataSource, error) {
	var ds kb.DataSource
	err := getJSON(ctx, s.pool, "data source", &ds, `SELECT data FROM kb_data_sources WHERE kb_id = $1 AND id = $2`, kbID, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "DataSource with id %s does not exist in knowledge base %s", id, kbID)
	}
	return ds, err
}

// DataSources lists a knowledge base's data sources by creation.
func (s *Store) DataSources(ctx context.Context, kbID string) ([]kb.DataSource, error) {
	return listJSON[kb.DataSource](ctx, s.pool, `SELECT data FROM kb_data_sources WHERE kb_id = $1 ORDER BY created_at, id COLLATE "C"`, kbID)
}

// DeleteDataSource deletes a data source with its jobs, documents and chunks.
func (s *Store) DeleteDataSource(ctx context.Context, kbID, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM kb_data_sources WHERE kb_id = $1 AND id = $2`, kbID, id); err != nil {
		return err
	}
	return s.release(ctx, kbID, id)
}

func putJob(ctx context.Context, q querier, j kb.IngestionJob) error {
	_, err := q.Exec(ctx, `INSERT INTO kb_ingestion_jobs (id, kb_id, ds_id, status, started_at, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data`,
		j.ID, j.KBID, j.DSID, j.Status, j.Started.UTC().Format("2006-01-02T15:04:05.000000000Z"), mustJSON(j))
	if err != nil {
		return fmt.Errorf("put ingestion job: %w", err)
	}
	return nil
}

// IngestionJob returns one ingestion job.
func (s *Store) IngestionJob(ctx context.Context, kbID, dsID, id string) (kb.IngestionJob, error) {
	var j kb.IngestionJob
	err := getJSON(ctx, s.pool, "ingestion job", &j, `SELECT data FROM kb_ingestion_jobs WHERE kb_id = $1 AND ds_id = $2 AND id = $3`, kbID, dsID, id)
	if fault.KindOf(err) == fault.NotFound {
		err = fault.Newf(fault.NotFound, "IngestionJob with id %s does not exist", id)
	}
	return j, err
}

// IngestionJobs lists a data source's jobs by start time.
func (s *Store) IngestionJobs(ctx context.Context, kbID, dsID string) ([]kb.IngestionJob, error) {
	return listJSON[kb.IngestionJob](ctx, s.pool, `SELECT data FROM kb_ingestion_jobs WHERE kb_id = $1 AND ds_id = $2 ORDER BY started_at, id COLLATE "C"`, kbID, dsID)
}

// Documents lists a data source's documents by ID.
func (s *Store) Documents(ctx context.Context, kbID, dsID string) ([]kb.Document, error) {
	return listJSON[kb.Document](ctx, s.pool, `SELECT data FROM kb_documents WHERE kb_id = $1 AND ds_id = $2 ORDER BY id COLLATE "C"`, kbID, dsID)
}

// Document returns one document.
func (s *Store) Document(ctx context.Context, kbID, dsID, id string) (kb.Document, error) {
	var d kb.Document
	err := getJSON(ctx, s.pool, "document "+id, &d, `SELECT data FROM kb_documents WHERE kb_id = $1 AND ds_id = $2 AND id = $3`, kbID, dsID, id)
	return d, err
}

const chunkCols = `id, kb_id, ds_id, doc_id, seq, text, vector_send(embedding), metadata::text`

func scanChunks(rows pgx.Rows) ([]kb.Chunk, error) {
	defer rows.Close()
	var out []kb.Chunk
	for rows.Next() {
		var c kb.Chunk
		var vec []byte
		var meta string
		if err := rows.Scan(&c.ID, &c.KBID, &c.DSID, &c.DocID, &c.Seq, &c.Text, &vec, &meta); err != nil {
			return nil, err
		}
		var err error
		if c.Vector, err = decodeVector(vec); err != nil {
			return nil, err
		}
		c.Meta = kb.UnmarshalMeta([]byte(meta))
		out = append(out, c)
	}
	return out, rows.Err()
}

// DocumentChunks returns a document's chunks in order.
func (s *Store) DocumentChunks(ctx context.Context, kbID, dsID, docID string) ([]kb.Chunk, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+chunkCols+` FROM kb_chunks WHERE kb_id = $1 AND ds_id = $2 AND doc_id = $3 ORDER BY seq`, kbID, dsID, docID)
	if err != nil {
		return nil, err
	}
	return scanChunks(rows)
}

// KBChunks returns every chunk of a knowledge base.
func (s *Store) KBChunks(ctx context.Context, kbID string) ([]kb.Chunk, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+chunkCols+` FROM kb_chunks WHERE kb_id = $1 ORDER BY id`, kbID)
	if err != nil {
		return nil, err
	}
	return scanChunks(rows)
}

// vectorText writes v as pgvector's text form, [x,y,...], with each value
// in the shortest form that reads back as the same float32.
func vectorText(v []float32) string {
	b := make([]byte, 0, 10*len(v)+2)
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

// clean removes NUL characters, which PostgreSQL text and jsonb cannot
// hold (SQLite keeps them; no parser produces them in practice).
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func cleanMeta(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			v = clean(x)
		case []string:
			l := make([]string, len(x))
			for i, s := range x {
				l[i] = clean(s)
			}
			v = l
		}
		out[clean(k)] = v
	}
	return out
}

// ReplaceDocument writes a document, replaces its chunks when replace is
// set, and writes the job, all in one transaction. The chunks go in one
// statement, in order, so their IDs ascend with seq.
func (s *Store) ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, replace bool, j *kb.IngestionJob) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `INSERT INTO kb_documents (kb_id, ds_id, id, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kb_id, ds_id, id) DO UPDATE SET data = excluded.data`, d.KBID, d.DSID, d.ID, mustJSON(d)); err != nil {
		return fmt.Errorf("put document: %w", err)
	}
	if replace {
		if _, err := tx.Exec(ctx, `DELETE FROM kb_chunks WHERE kb_id = $1 AND ds_id = $2 AND doc_id = $3`, d.KBID, d.DSID, d.ID); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		if len(chunks) > 0 {
			seqs := make([]int32, len(chunks))
			texts := make([]string, len(chunks))
			vecs := make([]string, len(chunks))
			metas := make([]string, len(chunks))
			for i, c := range chunks {
				seqs[i], texts[i], vecs[i], metas[i] = int32(c.Seq), clean(c.Text), vectorText(c.Vector), string(kb.MarshalMeta(cleanMeta(c.Meta)))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO kb_chunks (kb_id, ds_id, doc_id, seq, text, embedding, metadata)
				SELECT $1, $2, $3, u.seq, u.text, u.vec::vector, u.meta::jsonb
				FROM unnest($4::integer[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(seq, text, vec, meta, ord)
				ORDER BY u.ord`, d.KBID, d.DSID, d.ID, seqs, texts, vecs, metas); err != nil {
				return fmt.Errorf("insert chunks: %w", err)
			}
		}
	}
	if j != nil {
		if err := putJob(ctx, tx, *j); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// DeleteDocument removes a document and its chunks, and writes the job.
func (s *Store) DeleteDocument(ctx context.Context, kbID, dsID, id string, j *kb.IngestionJob) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `DELETE FROM kb_chunks WHERE kb_id = $1 AND ds_id = $2 AND doc_id = $3`, kbID, dsID, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM kb_documents WHERE kb_id = $1 AND ds_id = $2 AND id = $3`, kbID, dsID, id); err != nil {
		return err
	}
	if j != nil {
		if err := putJob(ctx, tx, *j); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
