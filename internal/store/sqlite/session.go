package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
)

var _ kb.SessionStore = (*Store)(nil)

// PutSession inserts or replaces a RetrieveAndGenerate session.
func (s *Store) PutSession(ctx context.Context, ks kb.Session) error {
	turns := ks.Turns
	if turns == nil {
		turns = []kb.Turn{}
	}
	b, err := json.Marshal(turns)
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO kb_sessions (id, used_at, turns) VALUES (?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET used_at = excluded.used_at, turns = excluded.turns`, ks.ID, fmtTime(ks.Used), string(b))
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// Session returns one session.
func (s *Store) Session(ctx context.Context, id string) (kb.Session, error) {
	ks := kb.Session{ID: id}
	var used, turns string
	err := s.db.QueryRowContext(ctx, `SELECT used_at, turns FROM kb_sessions WHERE id = ?`, id).Scan(&used, &turns)
	if errors.Is(err, sql.ErrNoRows) {
		return ks, fault.Newf(fault.NotFound, "session %s not found", id)
	}
	if err != nil {
		return ks, fmt.Errorf("get session: %w", err)
	}
	if ks.Used, err = parseTime(used); err != nil {
		return ks, fmt.Errorf("get session: %w", err)
	}
	if err := json.Unmarshal([]byte(turns), &ks.Turns); err != nil {
		return ks, fmt.Errorf("get session: %w", err)
	}
	return ks, nil
}

// DeleteSessions deletes the sessions last used before t.
func (s *Store) DeleteSessions(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM kb_sessions WHERE used_at < ?`, fmtTime(before)); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
