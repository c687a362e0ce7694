package testpg_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/outcrop/outcrop/internal/testpg"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

// TestDSN connects to two fresh databases and checks that pgvector is
// there and that they are separate.
func TestDSN(t *testing.T) {
	ctx := context.Background()
	a, b := testpg.DSN(t), testpg.DSN(t)
	if a == b {
		t.Fatalf("DSN returned %q twice", a)
	}
	c, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE EXTENSION vector"); err != nil {
		t.Fatal(err)
	}
	var d float64
	if err := c.QueryRow(ctx, "SELECT '[1,0]'::vector <=> '[0,1]'::vector").Scan(&d); err != nil {
		t.Fatal(err)
	}
	if d != 1 {
		t.Errorf("cosine distance of orthogonal vectors = %v, want 1", d)
	}
	var v string
	if err := c.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("pgvector %s", v)
}
