package kb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/store/postgres"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/testpg"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

// testStore is a kb.Store the tests can close (and reopen: see stores).
type testStore interface {
	kb.Store
	Close() error
}

// stores are the stores the kb tests run on. newDB makes an empty
// database for the test and returns a function that opens a store on it,
// as often as the test likes (a reopened store sees what the last one
// committed, as after a restart). The PostgreSQL store searches itself
// (kb.Searcher), so tests on it go through that path; without the
// pgserver binaries they are skipped (see testpg).
var stores = []struct {
	name  string
	newDB func(t *testing.T) func() (testStore, error)
}{
	{"sqlite", func(t *testing.T) func() (testStore, error) {
		path := filepath.Join(t.TempDir(), "db")
		return func() (testStore, error) { return sqlite.Open(context.Background(), path) }
	}},
	{"postgres", func(t *testing.T) func() (testStore, error) {
		dsn := testpg.DSN(t)
		return func() (testStore, error) { return postgres.Open(context.Background(), postgres.Options{DSN: dsn}) }
	}},
}

// opener opens a store on one database.
type opener = func() (testStore, error)

// forEachStore runs f as a subtest on each store; newDB makes a database
// of that store for the subtest.
func forEachStore(t *testing.T, f func(t *testing.T, newDB func() opener)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) { f(t, func() opener { return s.newDB(t) }) })
	}
}

// mustOpen opens a store or fails the test.
func mustOpen(t testing.TB, open func() (testStore, error)) testStore {
	t.Helper()
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
