// Package testpg starts a real PostgreSQL with pgvector for tests: one
// server per test binary on a free loopback port, in a temporary
// directory, and a fresh database for each test that asks. The binaries
// are those of the pgserver Python package (pip install pgserver==0.1.4,
// PostgreSQL 16.2 with pgvector 0.6.2): the directory named by
// OUTCROP_TEST_PG_BIN (holding initdb and postgres), else pgserver's
// pginstall/bin as python3 finds it. Without them, tests that ask are
// skipped, unless OUTCROP_TEST_POSTGRES=require (scripts/test.sh sets it
// after installing pgserver), when their absence fails them.
//
// PostgreSQL refuses to run as root, so when the tests run as root the
// installation is copied where the user nobody can read it and the server
// runs as nobody, in a data directory nobody owns.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	once sync.Once
	base string // DSN of the server, without a database
	err  error
	cmd  *exec.Cmd
	dir  string
)

// DSN returns the connection string of a new, empty database on the test
// binary's PostgreSQL, starting the server on first use. The database is
// dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { base, err = start() })
	if err != nil {
		if os.Getenv("OUTCROP_TEST_POSTGRES") == "require" {
			t.Fatalf("PostgreSQL required (OUTCROP_TEST_POSTGRES=require): %v", err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	c, err := pgx.Connect(ctx, base+" dbname=postgres")
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base+" dbname=postgres")
		if err != nil {
			t.Errorf("connect to the test PostgreSQL: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return base + " dbname=" + name
}

// Stop stops the server, if one was started, and removes its directory;
// call it from TestMain after the tests have run.
func Stop() {
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd = nil
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv("OUTCROP_TEST_PG_BIN"); d != "" {
		return d, nil
	}
	out, err := exec.Command("python3", "-c",
		"import importlib.util as u; s = u.find_spec('pgserver'); print(s.submodule_search_locations[0] if s else '')").Output()
	if err != nil {
		return "", fmt.Errorf("ask python3 for the pgserver package: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if p == "" {
		return "", errors.New("the pgserver Python package is not installed (pip install pgserver==0.1.4)")
	}
	return filepath.Join(p, "pginstall", "bin"), nil
}

func start() (string, error) {
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return "", err
		}
	}
	if dir, err = os.MkdirTemp("", "outcrop-pg"); err != nil {
		return "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// Run as nobody, from a copy of the installation nobody can read
		// (site-packages may be under /root, which is private).
		u, err := user.Lookup("nobody")
		if err != nil {
			return "", fmt.Errorf("PostgreSQL cannot run as root and there is no user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", err
		}
		// The wheel's binaries find their shared libraries through the
		// RPATH $ORIGIN/../../../pgserver.libs: keep that layout.
		inst := filepath.Join(dir, "pkg", "pgserver", "pginstall")
		if err := copyTree(filepath.Dir(bin), inst); err != nil {
			return "", fmt.Errorf("copy the PostgreSQL installation: %w", err)
		}
		if libs := filepath.Join(bin, "..", "..", "..", "pgserver.libs"); exists(libs) {
			if err := copyTree(libs, filepath.Join(dir, "pkg", "pgserver.libs")); err != nil {
				return "", fmt.Errorf("copy the PostgreSQL installation: %w", err)
			}
		}
		bin = filepath.Join(inst, "bin")
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-k", "", // no Unix socket
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=512MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	dieWithParent(cmd.SysProcAttr)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cmd = nil
		return "", err
	}
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres sslmode=disable", port)
	ctx := context.Background()
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		c, err := pgx.Connect(ctx, dsn+" dbname=postgres connect_timeout=2")
		if err == nil {
			c.Close(ctx)
			return dsn, nil
		}
		if time.Since(start) > 30*time.Second {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return "", fmt.Errorf("postgres on port %d did not accept connections: %v; log:\n%s", port, err, log)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// copyTree copies the directory src to dst, keeping modes and symbolic
// links, and leaves everything readable by all.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o444)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
