package kb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// scribe is a chat model that answers "answer N" to its Nth request and
// keeps the requests.
type scribe struct {
	mu   sync.Mutex
	reqs []*provider.Request
}

func (s *scribe) Converse(_ context.Context, req *provider.Request) (*provider.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	text := fmt.Sprintf("answer %d", len(s.reqs))
	return &provider.Response{Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}}}, nil
}

func (s *scribe) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	resp, _ := s.Converse(ctx, req)
	return emit(provider.Event{Type: provider.TextDeltaEvent, Text: provider.TextOf(resp.Message.Content)})
}

func (s *scribe) last() *provider.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1]
}

type chatModels struct {
	models
	chat provider.Adapter
}

func (m chatModels) Chat(string) (provider.Adapter, string, error) { return m.chat, "scribe", nil }

// TestSessionsSurviveRestart runs a RetrieveAndGenerate conversation,
// closes the service and its SQLite store, opens both again on the same
// database and continues the conversation: the model is given the turns
// from before the restart. Expired and unknown sessions fail as before.
func TestSessionsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outcrop.db")
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	chat := &scribe{}
	var (
		st  *sqlite.Store
		svc *kb.Service
	)
	open := func() {
		var err error
		if st, err = sqlite.Open(ctx, path); err != nil {
			t.Fatal(err)
		}
		svc = kb.New(kb.Options{Store: st, Sessions: st, Models: chatModels{models{&bowEmbedder{}}, chat}, Region: "us-east-1", AccountID: "000000000000", Now: clock})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	shut := func() {
		svc.Close()
		st.Close()
	}
	open()
	defer func() { shut() }()

	k, err := svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "kb", RoleARN: "arn:aws:iam::000000000000:role/x", EmbeddingModelARN: "arn:aws:bedrock:us-east-1::foundation-model/test.embed"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "direct", Type: kb.TypeCustom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.IngestDocuments(ctx, k.ID, ds.ID, []kb.DocumentInput{
		{ID: "lamp", Type: kb.TypeCustom, Text: "The lighthouse lamp burned whale oil, then paraffin from 1904."},
		{ID: "keeper", Type: kb.TypeCustom, Text: "The last keeper left the lighthouse in 1962."},
	}); err != nil {
		t.Fatal(err)
	}
	ask := func(session, q string) (kb.Generated, error) {
		return svc.RetrieveAndGenerate(ctx, kb.GenerateRequest{Query: kb.Query{KBID: k.ID, Text: q, N: 2}, ModelARN: "scribe", SessionID: session,
			Prompt: "History:\n$conversation_history$\nResults:\n$search_results$\nQuestion: $query$"})
	}
	history := func() string {
		p := provider.TextOf(chat.last().Messages[len(chat.last().Messages)-1].Content)
		h, _, _ := strings.Cut(strings.TrimPrefix(p, "History:\n"), "Results:")
		return h
	}

	g, err := ask("", "What did the lamp burn?")
	if err != nil {
		t.Fatal(err)
	}
	sid := g.SessionID
	if _, err := ask(sid, "And after 1904?"); err != nil {
		t.Fatal(err)
	}

	shut()
	now = now.Add(3 * time.Hour)
	open()

	if _, err := ask(sid, "When did the keeper leave?"); err != nil {
		t.Fatalf("continuing the session after a restart: %v", err)
	}
	want := "User: What did the lamp burn?\nAssistant: answer 1\nUser: And after 1904?\nAssistant: answer 2\n\n" // the template adds the last newline
	if d := cmp.Diff(want, history()); d != "" {
		t.Errorf("$conversation_history$ after the restart (-want +got):\n%s", d)
	}

	// The stream continues the session too, and the turn it adds is kept.
	p, err := svc.PrepareGenerate(ctx, kb.GenerateRequest{Query: kb.Query{KBID: k.ID, Text: "Who kept it?", N: 2}, ModelARN: "scribe", SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stream(ctx, func(kb.StreamEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// Without $conversation_history$ the turns are messages.
	if got := len(chat.last().Messages); got != 7 {
		t.Errorf("streamed turn after 3 stored turns sent %d messages, want 7", got)
	}
	shut()
	open()
	stored, err := st.Session(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	wantTurns := []kb.Turn{{"What did the lamp burn?", "answer 1"}, {"And after 1904?", "answer 2"}, {"When did the keeper leave?", "answer 3"}, {"Who kept it?", "answer 4"}}
	if d := cmp.Diff(wantTurns, stored.Turns); d != "" {
		t.Errorf("stored turns (-want +got):\n%s", d)
	}

	// Ten turns at most are kept, the latest.
	for i := range 8 {
		if _, err := ask(sid, fmt.Sprintf("question %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if stored, _ = st.Session(ctx, sid); len(stored.Turns) != 10 || stored.Turns[0].Question != "When did the keeper leave?" {
		t.Errorf("after 12 turns the store keeps %d, first %q", len(stored.Turns), stored.Turns[0].Question)
	}

	// 24 hours after its last use, a session has expired, restart or not;
	// an unknown ID fails the same way.
	now = now.Add(24*time.Hour + time.Second)
	shut()
	open()
	for _, id := range []string{sid, "no-such-session"} {
		_, err := ask(id, "Anything?")
		if fault.KindOf(err) != fault.NotFound || fault.Message(err) != "Session with Id "+id+" is not valid. Please check and try again." {
			t.Errorf("session %s: err = %v, want NotFound \"Session with Id %s is not valid...\"", id, err, id)
		}
	}
	// Starting a session deletes expired ones from the store.
	fresh, err := ask("", "New?")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, sid); fault.KindOf(err) != fault.NotFound {
		t.Errorf("expired session still stored: %v", err)
	}

	// After a restart, concurrent turns on one session (the first ones
	// reading it back from the store at the same time) are all kept.
	shut()
	open()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := ask(fresh.SessionID, fmt.Sprintf("c%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	stored, err = st.Session(ctx, fresh.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Turns) != 9 || stored.Turns[0].Question != "New?" {
		t.Errorf("after 8 concurrent turns the session has %d turns: %+v", len(stored.Turns), stored.Turns)
	}
}
