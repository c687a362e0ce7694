package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// HNSW indexes. A knowledge base gets one when it reaches the ANN
// threshold: a partial index over its own chunks, on the embedding cast
// to its dimensions (an index needs fixed dimensions, and knowledge bases
// differ). It is built in the background, as the in-memory IVF index is,
// because building from the rows is far faster than growing the graph
// one insert at a time (3,000 rows of 384 dimensions: under a second
// against half a minute); searches scan exactly until it is valid, and
// once it exists PostgreSQL maintains it on every write. Replicas agree
// on who builds through an advisory lock; the others go on scanning
// exactly until the index is valid.

// hnswIndex names a knowledge base's index; kbID matches hnswID.
func hnswIndex(kbID string) string { return "kb_chunks_hnsw_" + strings.ToLower(kbID) }

// indexValid reports whether the knowledge base's HNSW index is built
// and valid. A valid index stays so until the knowledge base is deleted,
// so that answer is remembered.
func (s *Store) indexValid(ctx context.Context, q querier, kbID string) (valid, exists bool, err error) {
	s.mu.Lock()
	ok := s.valid[kbID]
	s.mu.Unlock()
	if ok {
		return true, true, nil
	}
	err = q.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`,
		hnswIndex(kbID)).Scan(&valid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if valid {
		s.mu.Lock()
		s.valid[kbID] = true
		s.mu.Unlock()
	}
	return valid, true, nil
}

// index reports whether the knowledge base's HNSW index is valid and,
// if so, how many chunks it indexes as PostgreSQL last counted them
// (pg_class.reltuples: at the build, and at each VACUUM or ANALYZE
// since), an estimate of the knowledge base's size that costs no scan.
func (s *Store) index(ctx context.Context, q querier, kbID string) (valid bool, size float64, err error) {
	err = q.QueryRow(ctx, `SELECT i.indisvalid, c.reltuples FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`,
		hnswIndex(kbID)).Scan(&valid, &size)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, nil
	}
	return valid, size, err
}

// startBuild builds the knowledge base's index in the background unless
// this Store is building it already, and returns a channel closed when
// that build ends. The goroutine belongs to the Store: Close cancels and
// waits for it.
func (s *Store) startBuild(kbID string, dims int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.building[kbID]; ok {
		return b.done
	}
	ctx, cancel := context.WithCancel(s.ctx)
	b := build{done: make(chan struct{}), cancel: cancel}
	s.building[kbID] = b
	s.wg.Go(func() {
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.building, kbID)
			s.mu.Unlock()
			close(b.done)
		}()
		if err := s.build(ctx, kbID, dims); err != nil && ctx.Err() == nil {
			s.log.Warn("building the HNSW index of a knowledge base failed", "knowledge_base", kbID, "err", err)
		}
	})
	return b.done
}

// build is a running index build.
type build struct {
	done   chan struct{}
	cancel context.CancelFunc
}

// stopBuild cancels this Store's build of the knowledge base's index, if
// one runs, and waits for it.
func (s *Store) stopBuild(kbID string) {
	s.mu.Lock()
	b, ok := s.building[kbID]
	delete(s.valid, kbID)
	s.mu.Unlock()
	if ok {
		b.cancel()
		<-b.done
	}
}

// build creates the index unless another replica holds the build lock.
// An index left invalid by an interrupted build is dropped first.
func (s *Store) build(ctx context.Context, kbID string, dims int) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	lock := "outcrop-kb-hnsw:" + kbID
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, lock).Scan(&got); err != nil {
		return err
	}
	if !got {
		return nil // another replica builds it
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, lock)
	valid, exists, err := s.indexValid(ctx, conn, kbID)
	if err != nil || valid {
		return err
	}
	if exists {
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+hnswIndex(kbID)); err != nil {
			return err
		}
	}
	// The build is fast while the graph fits in maintenance_work_mem:
	// give it what the vectors and their links need, within limits.
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM kb_chunks WHERE kb_id = $1`, kbID).Scan(&n); err != nil {
		return err
	}
	mem := min(max(n*int64(4*dims+600)*5/4>>20, 64), 1024)
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET maintenance_work_mem = '%dMB'", mem)); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "RESET maintenance_work_mem")
	start := time.Now()
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON kb_chunks
		USING hnsw ((embedding::vector(%d)) vector_cosine_ops) WHERE kb_id = '%s'`, hnswIndex(kbID), dims, kbID)); err != nil {
		return err
	}
	s.log.Info("built the HNSW index of a knowledge base", "knowledge_base", kbID, "chunks", n, "seconds", time.Since(start).Seconds())
	return nil
}

// WaitIndex builds the knowledge base's HNSW index now if it has reached
// the ANN threshold and has none, and returns once the index is valid
// (kb.Service.WaitIndex calls it). Searches never need to: they scan
// exactly until the index is ready.
func (s *Store) WaitIndex(ctx context.Context, kbID string) error {
	if s.ann < 0 || !hnswID.MatchString(kbID) {
		return nil
	}
	k, err := s.KnowledgeBase(ctx, kbID)
	if err != nil {
		return err
	}
	if k.Dimensions < 1 || k.Dimensions > maxHNSWDims {
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM kb_chunks WHERE kb_id = $1`, kbID).Scan(&n); err != nil {
		return err
	}
	if n < s.ann {
		return nil
	}
	for {
		valid, _, err := s.indexValid(ctx, s.pool, kbID)
		if err != nil || valid {
			return err
		}
		select {
		case <-s.startBuild(kbID, k.Dimensions):
		case <-ctx.Done():
			return ctx.Err()
		}
		if valid, _, err := s.indexValid(ctx, s.pool, kbID); err != nil || valid {
			return err
		}
		// Another replica is building it (or the build failed: it is
		// retried).
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
