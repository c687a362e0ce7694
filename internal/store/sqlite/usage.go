package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/usage"
)

var _ usage.Store = (*Store)(nil)

// AddUsage adds the rows' counters in one transaction.
func (s *Store) AddUsage(ctx context.Context, rows []usage.Row) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO usage_daily
		(day, model, principal, key_id, requests, input_tokens, output_tokens, images, cost_micros)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(day, model, principal, key_id) DO UPDATE SET
		requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens,
		output_tokens = output_tokens + excluded.output_tokens, images = images + excluded.images,
		cost_micros = cost_micros + excluded.cost_micros`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.Day, r.Model, r.Principal, r.Key, r.Requests, r.InputTokens, r.OutputTokens, r.Images, r.CostMicros); err != nil {
			return fmt.Errorf("add usage: %w", err)
		}
	}
	return tx.Commit()
}

// Usage returns the rows matching f, ordered by day, model, principal, key.
func (s *Store) Usage(ctx context.Context, f usage.Filter) ([]usage.Row, error) {
	var where []string
	var args []any
	for _, c := range []struct{ cond, v string }{
		{"day >= ?", f.From}, {"day <= ?", f.To}, {"model = ?", f.Model}, {"principal = ?", f.Principal}, {"key_id = ?", f.Key},
	} {
		if c.v != "" {
			where = append(where, c.cond)
			args = append(args, c.v)
		}
	}
	q := `SELECT day, model, principal, key_id, requests, input_tokens, output_tokens, images, cost_micros FROM usage_daily`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY day, model, principal, key_id"
	rs, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []usage.Row
	for rs.Next() {
		var r usage.Row
		if err := rs.Scan(&r.Day, &r.Model, &r.Principal, &r.Key, &r.Requests, &r.InputTokens, &r.OutputTokens, &r.Images, &r.CostMicros); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
