package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam"
)

var _ iam.Directory = (*Store)(nil)

// PutEntity inserts or replaces a user or role.
func (s *Store) PutEntity(ctx context.Context, e iam.Entity) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO principals (ref, kind, name, id, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(ref) DO UPDATE SET id=excluded.id`,
		e.Ref(), string(e.Kind), e.Name, e.ID, fmtTime(e.Created))
	if err != nil {
		return fmt.Errorf("put principal: %w", err)
	}
	return nil
}

// DeleteEntity deletes a user or role with its inline policies and
// attachments, in one transaction.
func (s *Store) DeleteEntity(ctx context.Context, ref string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete principal: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE ref = ?`, ref)
	if err != nil {
		return fmt.Errorf("delete principal: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.Newf(fault.NotFound, "NoSuchEntity: %s cannot be found.", ref)
	}
	for _, q := range []string{`DELETE FROM policies WHERE owner = ?`, `DELETE FROM policy_attachments WHERE owner = ?`} {
		if _, err := tx.ExecContext(ctx, q, ref); err != nil {
			return fmt.Errorf("delete principal: %w", err)
		}
	}
	return tx.Commit()
}

// Entities lists users and roles by kind and name.
func (s *Store) Entities(ctx context.Context) ([]iam.Entity, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, name, id, created_at FROM principals ORDER BY kind DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("list principals: %w", err)
	}
	defer rows.Close()
	var out []iam.Entity
	for rows.Next() {
		var e iam.Entity
		var kind, created string
		if err := rows.Scan(&kind, &e.Name, &e.ID, &created); err != nil {
			return nil, fmt.Errorf("list principals: %w", err)
		}
		e.Kind = iam.Kind(kind)
		if e.Created, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PutPolicy inserts or replaces a policy document.
func (s *Store) PutPolicy(ctx context.Context, p iam.PolicyDoc) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO policies (owner, name, document, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(owner, name) DO UPDATE SET document=excluded.document`,
		p.Owner, p.Name, p.Document, fmtTime(p.Created))
	if err != nil {
		return fmt.Errorf("put policy: %w", err)
	}
	return nil
}

// DeletePolicy deletes a policy document.
func (s *Store) DeletePolicy(ctx context.Context, owner, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM policies WHERE owner = ? AND name = ?`, owner, name)
	if err != nil {
		return fmt.Errorf("delete policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.Newf(fault.NotFound, "NoSuchEntity: The policy with name %s cannot be found.", name)
	}
	return nil
}

// Policies lists policy documents by owner and name.
func (s *Store) Policies(ctx context.Context) ([]iam.PolicyDoc, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT owner, name, document, created_at FROM policies ORDER BY owner, name`)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	var out []iam.PolicyDoc
	for rows.Next() {
		var p iam.PolicyDoc
		var created string
		if err := rows.Scan(&p.Owner, &p.Name, &p.Document, &created); err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		if p.Created, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetAttached attaches or detaches a managed policy.
func (s *Store) SetAttached(ctx context.Context, a iam.Attachment, attached bool) error {
	q := `DELETE FROM policy_attachments WHERE owner = ? AND policy = ?`
	if attached {
		q = `INSERT INTO policy_attachments (owner, policy) VALUES (?, ?) ON CONFLICT DO NOTHING`
	}
	if _, err := s.db.ExecContext(ctx, q, a.Owner, a.Policy); err != nil {
		return fmt.Errorf("attach policy: %w", err)
	}
	return nil
}

// Attachments lists managed-policy attachments.
func (s *Store) Attachments(ctx context.Context) ([]iam.Attachment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT owner, policy FROM policy_attachments ORDER BY owner, policy`)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	var out []iam.Attachment
	for rows.Next() {
		var a iam.Attachment
		if err := rows.Scan(&a.Owner, &a.Policy); err != nil {
			return nil, fmt.Errorf("list attachments: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// PutTags replaces the tag set of arn.
func (s *Store) PutTags(ctx context.Context, arn string, tags map[string]string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put tags: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE arn = ?`, arn); err != nil {
		return fmt.Errorf("put tags: %w", err)
	}
	for k, v := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (arn, key, value) VALUES (?, ?, ?)`, arn, k, v); err != nil {
			return fmt.Errorf("put tags: %w", err)
		}
	}
	return tx.Commit()
}

// AllTags returns every tag set by ARN.
func (s *Store) AllTags(ctx context.Context) (map[string]map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT arn, key, value FROM tags`)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var arn, k, v string
		if err := rows.Scan(&arn, &k, &v); err != nil {
			return nil, fmt.Errorf("list tags: %w", err)
		}
		if out[arn] == nil {
			out[arn] = map[string]string{}
		}
		out[arn][k] = v
	}
	return out, rows.Err()
}

// PutModelAccess records a model's access state.
func (s *Store) PutModelAccess(ctx context.Context, a iam.ModelAccess) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO model_access (model_id, enabled, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(model_id) DO UPDATE SET enabled=excluded.enabled, updated_at=excluded.updated_at`,
		a.ModelID, a.Enabled, fmtTime(a.Updated))
	if err != nil {
		return fmt.Errorf("put model access: %w", err)
	}
	return nil
}

// ModelAccessList lists explicit model access states.
func (s *Store) ModelAccessList(ctx context.Context) ([]iam.ModelAccess, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT model_id, enabled, updated_at FROM model_access ORDER BY model_id`)
	if err != nil {
		return nil, fmt.Errorf("list model access: %w", err)
	}
	defer rows.Close()
	var out []iam.ModelAccess
	for rows.Next() {
		var a iam.ModelAccess
		var updated string
		if err := rows.Scan(&a.ModelID, &a.Enabled, &updated); err != nil {
			return nil, fmt.Errorf("list model access: %w", err)
		}
		if a.Updated, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// PutSetting stores a named value.
func (s *Store) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET value=excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}

// Setting returns a named value.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.Newf(fault.NotFound, "setting %s not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}
