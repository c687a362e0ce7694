// Package testredis starts a real redis-server for tests: one per test
// binary, from PATH, on a free loopback port, with persistence off. Without
// the binary, tests that ask for it are skipped, unless
// OUTCROP_TEST_REDIS=require (make test sets it after installing Redis),
// when its absence fails them.
package testredis

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	once sync.Once
	url  string
	err  error
	cmd  *exec.Cmd
	dir  string
)

// URL returns the redis:// URL of the test binary's Redis, starting it on
// first use. Tests share the server: they should use keys of their own.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { url, err = start() })
	if err != nil {
		if os.Getenv("OUTCROP_TEST_REDIS") == "require" {
			t.Fatalf("Redis required (OUTCROP_TEST_REDIS=require): %v", err)
		}
		t.Skipf("no Redis: %v", err)
	}
	return url
}

// Stop kills the server, if one was started; call it from TestMain after
// the tests have run.
func Stop() {
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

func start() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if dir, err = os.MkdirTemp("", "outcrop-redis"); err != nil {
		return "", err
	}
	cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port),
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "log"))
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		cmd = nil
		return "", err
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if ping(addr) == nil {
			return "redis://" + addr + "/0", nil
		}
		if time.Since(start) > 10*time.Second {
			return "", fmt.Errorf("redis-server on %s did not answer PING", addr)
		}
	}
}

// ping sends PING in the Redis protocol and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
