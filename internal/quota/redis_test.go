package quota_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/testredis"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testredis.Stop()
	os.Exit(code)
}

// redisStore returns a store in the test Redis whose keys are private to
// the test.
func redisStore(t *testing.T) quota.Store {
	t.Helper()
	st, err := quota.NewRedisStore(testredis.URL(t), t.Name()+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { quota.Close(st) })
	return st
}

// eachStore runs test against the in-process store and against Redis.
func eachStore(t *testing.T, test func(*testing.T, quota.Store)) {
	t.Run("memory", func(t *testing.T) { test(t, quota.NewMemoryStore()) })
	t.Run("redis", func(t *testing.T) { test(t, redisStore(t)) })
}

// TestReplicasShareRedis checks that two limiters (two replicas) on one
// Redis enforce one limit between them, and that concurrent admissions
// never exceed it.
func TestReplicasShareRedis(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := redisStore(t)
	opts := quota.Options{Models: map[string]quota.Limit{"m": {RequestsPerMinute: 40}}, Now: clk.Now, Store: st}
	a, b := quota.New(opts), quota.New(opts)
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			l := a
			if i%2 == 1 {
				l = b
			}
			if _, err := l.Admit(context.Background(), quota.Subject{Model: "m"}, 1); err == nil {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted != 40 {
		t.Fatalf("two replicas admitted %d of 100 concurrent requests, want the limit 40", admitted)
	}
	clk.t = clk.t.Add(3 * time.Second) // two requests refilled
	for i, want := range []bool{true, true, false} {
		l := []*quota.Limiter{a, b, a}[i]
		_, err := l.Admit(context.Background(), quota.Subject{Model: "m"}, 1)
		if (err == nil) != want {
			t.Fatalf("after 3 s, request %d: admitted=%v, want %v", i+1, err == nil, want)
		}
	}
}

// TestRedisDownFailsOpen checks that an unreachable store admits requests
// and warns, rather than refusing every call.
func TestRedisDownFailsOpen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	st, err := quota.NewRedisStore("redis://"+addr+"/0", "x:")
	if err != nil {
		t.Fatal(err)
	}
	defer quota.Close(st)
	var logged strings.Builder
	lim := quota.New(quota.Options{Models: map[string]quota.Limit{"m": {RequestsPerMinute: 1}}, Store: st, Logger: newTextLogger(&logged)})
	for range 3 {
		if _, err := lim.Admit(context.Background(), quota.Subject{Model: "m"}, 1); err != nil {
			t.Fatalf("store down: %v, want admitted", err)
		}
	}
	if !strings.Contains(logged.String(), "quota store failed") {
		t.Errorf("no warning logged; log: %q", logged.String())
	}
	if _, err := quota.NewRedisStore("http://nope", ""); err == nil {
		t.Error("NewRedisStore accepted a URL that is not redis://")
	}
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// BenchmarkAdmit measures one admission and its settlement with a model,
// a principal and a key limit (six buckets), in process and in Redis.
func BenchmarkAdmit(b *testing.B) {
	lim := map[string]quota.Limit{"*": {RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := quota.NewMemoryStore()
			if name == "redis" {
				s, err := quota.NewRedisStore(testredis.URL(b), b.Name()+":")
				if err != nil {
					b.Fatal(err)
				}
				defer quota.Close(s)
				st = s
			}
			l := quota.New(quota.Options{Models: lim, Principals: lim, Keys: lim, Store: st})
			ctx := context.Background()
			sub := quota.Subject{Model: "m", Principal: "alice", Key: "AKIA1"}
			for b.Loop() {
				t, err := l.Admit(ctx, sub, 100)
				if err != nil {
					b.Fatal(err)
				}
				t.Settle(ctx, 120)
			}
		})
	}
}
