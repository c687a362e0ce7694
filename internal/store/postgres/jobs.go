package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
)

// Ingestion jobs across replicas. A replica runs a data source's job
// while it holds that data source's advisory lock, a session lock on one
// connection the Store keeps for its leases. PostgreSQL releases the lock
// when the session ends, so a replica that dies gives up its jobs with
// its connection. Starting a job (status STARTING) takes the lock, or
// fails with Conflict if another replica holds it; a finished job
// releases it; UnfinishedIngestionJobs returns only the jobs whose lock
// this Store could take, so a replica that starts resumes the jobs of
// dead replicas and not those of live ones.

const leasePrefix = "outcrop-kb-job:"

// leaseKey is the advisory lock key of a data source's jobs.
func leaseKey(kbID, dsID string) string { return leasePrefix + kbID + "/" + dsID }

// claim takes the data source's lease (again, if this Store holds it).
func (s *Store) claim(ctx context.Context, kbID, dsID string) (bool, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	key := leaseKey(kbID, dsID)
	if s.leases[key] {
		return true, nil
	}
	if s.leaseConn == nil || s.leaseConn.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
		if err != nil {
			return false, fmt.Errorf("connect for ingestion job leases: %w", err)
		}
		s.leaseConn, s.leases = c, map[string]bool{}
	}
	var got bool
	if err := s.leaseConn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&got); err != nil {
		return false, fmt.Errorf("take ingestion job lease: %w", err)
	}
	if got {
		s.leases[key] = true
	}
	return got, nil
}

// release gives up the data source's lease if this Store holds it.
func (s *Store) release(ctx context.Context, kbID, dsID string) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	key := leaseKey(kbID, dsID)
	if !s.leases[key] {
		return nil
	}
	delete(s.leases, key)
	if _, err := s.leaseConn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, key); err != nil {
		return fmt.Errorf("release ingestion job lease: %w", err)
	}
	return nil
}

// releaseAll gives up the leases of a deleted knowledge base or data
// source (prefix: leaseKey of the knowledge base and "", or of the data
// source), whose jobs were stopped without finishing.
func (s *Store) releaseAll(ctx context.Context, prefix string) {
	s.leaseMu.Lock()
	var keys []string
	for k := range s.leases {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.leaseMu.Unlock()
	for _, k := range keys {
		kbID, dsID, _ := strings.Cut(strings.TrimPrefix(k, leasePrefix), "/")
		if err := s.release(ctx, kbID, dsID); err != nil {
			s.log.Warn("releasing an ingestion job lease failed", "knowledge_base", kbID, "data_source", dsID, "err", err)
		}
	}
}

// closeLeases ends the lease session, releasing every lease.
func (s *Store) closeLeases() {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.leaseConn != nil {
		s.leaseConn.Close(context.Background())
		s.leaseConn, s.leases = nil, nil
	}
}

// PutIngestionJob inserts or replaces an ingestion job. A new job
// (STARTING) takes its data source's lease first and fails with Conflict
// when another replica runs a job of that data source; a finished job
// gives the lease up.
func (s *Store) PutIngestionJob(ctx context.Context, j kb.IngestionJob) error {
	if j.Status == kb.JobStarting {
		ok, err := s.claim(ctx, j.KBID, j.DSID)
		if err != nil {
			return err
		}
		if !ok {
			return fault.Newf(fault.Conflict, "An ingestion job is already running for data source %s of knowledge base %s.", j.DSID, j.KBID)
		}
	}
	if err := putJob(ctx, s.pool, j); err != nil {
		return err
	}
	if j.Finished() {
		return s.release(context.WithoutCancel(ctx), j.KBID, j.DSID)
	}
	return nil
}

// UnfinishedIngestionJobs lists the jobs that have not ended and that no
// other live replica runs, taking their leases.
func (s *Store) UnfinishedIngestionJobs(ctx context.Context) ([]kb.IngestionJob, error) {
	jobs, err := listJSON[kb.IngestionJob](ctx, s.pool, `SELECT data FROM kb_ingestion_jobs WHERE status IN ('STARTING', 'IN_PROGRESS', 'STOPPING') ORDER BY started_at, id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	out := jobs[:0]
	for _, j := range jobs {
		ok, err := s.claim(ctx, j.KBID, j.DSID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, j)
		}
	}
	return out, nil
}
