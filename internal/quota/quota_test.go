package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/quota"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func admit(t *testing.T, l *quota.Limiter, s quota.Subject, est int) (*quota.Ticket, string) {
	t.Helper()
	tk, err := l.Admit(context.Background(), s, est)
	if err == nil {
		return tk, ""
	}
	if fault.KindOf(err) != fault.Throttled {
		t.Fatalf("Admit error kind = %v, want Throttled", fault.KindOf(err))
	}
	return nil, fault.Message(err)
}

func TestRequestsPerMinute(t *testing.T) { eachStore(t, testRequestsPerMinute) }

func testRequestsPerMinute(t *testing.T, store quota.Store) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := quota.New(quota.Options{Models: map[string]quota.Limit{"m": {RequestsPerMinute: 3}}, Now: clk.Now, Store: store})
	s := quota.Subject{Model: "m", Principal: "alice", Key: "AKIA1"}
	for i := range 3 {
		if _, msg := admit(t, l, s, 10); msg != "" {
			t.Fatalf("request %d throttled: %s", i+1, msg)
		}
	}
	if _, msg := admit(t, l, s, 10); msg != quota.MsgRequests {
		t.Fatalf("4th request: message %q, want %q", msg, quota.MsgRequests)
	}
	// Other models have no limit.
	if _, msg := admit(t, l, quota.Subject{Model: "other"}, 10); msg != "" {
		t.Fatalf("other model throttled: %s", msg)
	}
	clk.t = clk.t.Add(19 * time.Second) // 0.95 of a request refilled
	if _, msg := admit(t, l, s, 10); msg == "" {
		t.Fatal("admitted before a request's worth refilled")
	}
	clk.t = clk.t.Add(time.Second)
	if _, msg := admit(t, l, s, 10); msg != "" {
		t.Fatalf("after 20 s: throttled: %s", msg)
	}
	clk.t = clk.t.Add(time.Hour) // refills to the minute's allowance, no more
	for i := range 3 {
		if _, msg := admit(t, l, s, 10); msg != "" {
			t.Fatalf("after an hour, request %d throttled: %s", i+1, msg)
		}
	}
	if _, msg := admit(t, l, s, 10); msg == "" {
		t.Fatal("bucket held more than a minute's allowance")
	}
}

func TestTokensPerMinuteReconciled(t *testing.T) { eachStore(t, testTokensPerMinuteReconciled) }

func testTokensPerMinuteReconciled(t *testing.T, store quota.Store) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := quota.New(quota.Options{Principals: map[string]quota.Limit{"*": {TokensPerMinute: 600}}, Now: clk.Now, Store: store})
	alice := quota.Subject{Model: "m", Principal: "alice"}
	// Charged 100 up front, really 400: 200 left.
	tk, msg := admit(t, l, alice, 100)
	if msg != "" {
		t.Fatal(msg)
	}
	tk.Settle(context.Background(), 400)
	if _, msg := admit(t, l, alice, 300); msg != quota.MsgTokens {
		t.Fatalf("300 of 200 left: message %q, want %q", msg, quota.MsgTokens)
	}
	// Each principal has its own bucket.
	if _, msg := admit(t, l, quota.Subject{Model: "m", Principal: "bob"}, 300); msg != "" {
		t.Fatalf("bob throttled: %s", msg)
	}
	// Charged 200 up front, really 50: refund 150, 150 left.
	tk, msg = admit(t, l, alice, 200)
	if msg != "" {
		t.Fatal(msg)
	}
	tk.Settle(context.Background(), 50)
	if _, msg := admit(t, l, alice, 151); msg == "" {
		t.Fatal("151 admitted with 150 left")
	}
	tk, msg = admit(t, l, alice, 150)
	if msg != "" {
		t.Fatalf("150 with 150 left: %s", msg)
	}
	// Into debt: 0 left, then 600 more used: 600 in debt, repaid at 10
	// tokens a second.
	tk.Settle(context.Background(), 750)
	clk.t = clk.t.Add(59 * time.Second)
	if _, msg := admit(t, l, alice, 1); msg == "" {
		t.Fatal("admitted while in debt")
	}
	clk.t = clk.t.Add(2 * time.Second)
	if _, msg := admit(t, l, alice, 1); msg != "" {
		t.Fatalf("after the debt is repaid: %s", msg)
	}
}

func TestAllOrNothing(t *testing.T) { eachStore(t, testAllOrNothing) }

func testAllOrNothing(t *testing.T, store quota.Store) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := quota.New(quota.Options{
		Models: map[string]quota.Limit{"m": {RequestsPerMinute: 10}},
		Keys:   map[string]quota.Limit{"AKIA1": {RequestsPerMinute: 1}},
		Now:    clk.Now,
		Store:  store,
	})
	s := quota.Subject{Model: "m", Key: "AKIA1"}
	admit(t, l, s, 0)
	for range 5 {
		if _, msg := admit(t, l, s, 0); msg == "" {
			t.Fatal("key limit not applied")
		}
	}
	// The key's refusals charged nothing to the model: 9 left.
	for i := range 9 {
		if _, msg := admit(t, l, quota.Subject{Model: "m", Key: "AKIA2"}, 0); msg != "" {
			t.Fatalf("request %d on another key throttled: %s", i+1, msg)
		}
	}
	if quota.New(quota.Options{}) != nil {
		t.Error("New with no limits is not nil")
	}
}
