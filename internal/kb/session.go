package kb

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
)

// Session is a RetrieveAndGenerate conversation as it is persisted: its
// last turns (at most 10) and when it was last used. It expires 24 hours
// after that, as Bedrock's sessions do.
type Session struct {
	ID    string
	Turns []Turn
	Used  time.Time
}

// Turn is one question and the answer given to it.
type Turn struct {
	Question string `json:"q"`
	Answer   string `json:"a"`
}

// SessionStore keeps RetrieveAndGenerate sessions, so that they survive a
// restart (store/sqlite implements it). Without one, sessions live in
// memory only.
type SessionStore interface {
	PutSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error) // fault.NotFound
	// DeleteSessions deletes the sessions last used before t.
	DeleteSessions(ctx context.Context, before time.Time) error
}

const (
	maxSessions = 10000 // kept in memory; the store keeps any number until they expire
	sessionTTL  = 24 * time.Hour
	maxTurns    = 10
	// sweepEvery is how often expired sessions are deleted from the store
	// (when a new session starts).
	sweepEvery = time.Hour
)

// sessions keeps RetrieveAndGenerate conversations for 24 hours after
// their last use (Bedrock's session lifetime): live ones in memory, at
// most maxSessions of them, and every one in the store when there is
// one, written after each turn. A session not in memory (after a restart,
// or evicted) is read back from the store.
type sessions struct {
	mu    sync.Mutex
	now   func() time.Time
	store SessionStore // nil: memory only
	log   *slog.Logger
	m     map[string]*session
	swept time.Time
}

type session struct {
	id    string
	owner *sessions
	mu    sync.Mutex
	t     []Turn
	used  time.Time
}

func newSessions(now func() time.Time, store SessionStore, log *slog.Logger) *sessions {
	return &sessions{now: now, store: store, log: log, m: map[string]*session{}}
}

func errNoSession(id string) error {
	return fault.Newf(fault.NotFound, "Session with Id %s is not valid. Please check and try again.", id)
}

// get returns the session id, or a new one when id is "". An unknown or
// expired id is an error, as in Bedrock. The store is read and written
// without holding ss.mu, so that sessions do not wait for each other's
// database calls.
func (ss *sessions) get(ctx context.Context, id string) (*session, error) {
	now := ss.now()
	if id == "" {
		return ss.start(ctx, now)
	}
	ss.mu.Lock()
	s, ok := ss.m[id]
	ss.mu.Unlock()
	if !ok && ss.store != nil {
		st, err := ss.store.Session(ctx, id)
		switch {
		case fault.KindOf(err) == fault.NotFound:
		case err != nil:
			return nil, err
		default:
			ss.mu.Lock()
			if s, ok = ss.m[id]; !ok { // unless another request got there first
				s, ok = &session{id: st.ID, owner: ss, t: st.Turns, used: st.Used}, true
				ss.keep(s)
			}
			ss.mu.Unlock()
		}
	}
	if !ok {
		return nil, errNoSession(id)
	}
	if now.Sub(s.lastUsed()) > sessionTTL {
		ss.mu.Lock()
		delete(ss.m, id)
		ss.mu.Unlock()
		return nil, errNoSession(id)
	}
	s.touch(now)
	return s, nil
}

// start begins a session and, with a store, writes it at once, so that
// its ID is valid from the first response on even if that turn fails.
// It also deletes expired sessions from the store, once an hour.
func (ss *sessions) start(ctx context.Context, now time.Time) (*session, error) {
	s := &session{id: newUUID(), owner: ss, used: now}
	if ss.store != nil {
		if err := ss.store.PutSession(ctx, Session{ID: s.id, Used: now}); err != nil {
			return nil, err
		}
	}
	ss.mu.Lock()
	sweep := ss.store != nil && now.Sub(ss.swept) >= sweepEvery
	if sweep {
		ss.swept = now
	}
	ss.keep(s)
	ss.mu.Unlock()
	if sweep {
		if err := ss.store.DeleteSessions(ctx, now.Add(-sessionTTL)); err != nil {
			ss.log.WarnContext(ctx, "deleting expired sessions failed", "err", err)
		}
	}
	return s, nil
}

// keep adds s to memory, evicting the least recently used session when
// memory is full. Called with ss.mu held.
func (ss *sessions) keep(s *session) {
	if len(ss.m) >= maxSessions {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.lastUsed().Before(oldest.lastUsed()) {
				oldest = o
			}
		}
		delete(ss.m, oldest.id)
	}
	ss.m[s.id] = s
}

func (s *session) lastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func (s *session) touch(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = now
}

func (s *session) turns() []Turn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Turn(nil), s.t...)
}

func (s *session) lastQuestion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.t) == 0 {
		return ""
	}
	return s.t[len(s.t)-1].Question
}

// add records a turn and writes the session to the store. The answer has
// already gone to the caller, so a failed write is logged, not returned;
// the write outlives the request's cancellation.
func (s *session) add(ctx context.Context, q, a string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = append(s.t, Turn{q, a})
	if len(s.t) > maxTurns {
		s.t = s.t[len(s.t)-maxTurns:]
	}
	ss := s.owner
	if ss == nil || ss.store == nil {
		return
	}
	s.used = ss.now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := ss.store.PutSession(wctx, Session{ID: s.id, Turns: append([]Turn(nil), s.t...), Used: s.used}); err != nil {
		ss.log.WarnContext(ctx, "saving the session failed", "session_id", s.id, "err", err)
	}
}
