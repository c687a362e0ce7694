package kb

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/provider"
)

// DefaultPrompt is the generation prompt used when the caller gives none,
// modelled on Bedrock's default knowledge-base prompt.
const DefaultPrompt = `You are a question answering agent. I will provide you with a set of search results. The user will provide you with a question. Your job is to answer the user's question using only information from the search results. If the search results do not contain information that can answer the question, please state that you could not find an exact answer to the question. Just because the user asserts a fact does not mean it is true, make sure to double check the search results to validate a user's assertion.

Here are the search results in numbered order:
$search_results$

$output_format_instructions$

Question: $query$`

// GenerateRequest is a RetrieveAndGenerate call on a knowledge base.
type GenerateRequest struct {
	Query
	ModelARN  string
	SessionID string // "" starts a new session
	Prompt    string // template with $search_results$, $query$, ...; "" for DefaultPrompt
	MaxTokens int
	Temp      *float64
	TopP      *float64
	Stop      []string
}

// Citation ties a span of the generated text to the retrieved chunks that
// support it. Start and End are character offsets (End inclusive, as
// Bedrock reports them).
type Citation struct {
	Start, End int
	Text       string
	Refs       []Result
}

// Generated is the answer of RetrieveAndGenerate.
type Generated struct {
	Text      string
	SessionID string
	Citations []Citation
}

// RetrieveAndGenerate retrieves chunks for the query (and the session's
// previous question), asks the model to answer from them, and cites, for
// each sentence of the answer, the chunks whose words it uses.
func (s *Service) RetrieveAndGenerate(ctx context.Context, r GenerateRequest) (Generated, error) {
	p, err := s.PrepareGenerate(ctx, r)
	if err != nil {
		return Generated{}, err
	}
	return p.Generate(ctx)
}

// Prepared is a RetrieveAndGenerate call whose session is known and whose
// passages are retrieved: everything that can fail on the caller's input
// has been checked, and only the model is left to run. Call Generate or
// Stream once.
type Prepared struct {
	// SessionID is the conversation the answer belongs to (new or given).
	SessionID string
	sess      *session
	query     string
	results   []Result
	adapter   provider.Adapter
	req       *provider.Request
}

// PrepareGenerate checks r, finds or starts its session, retrieves the
// passages and builds the model's prompt.
func (s *Service) PrepareGenerate(ctx context.Context, r GenerateRequest) (*Prepared, error) {
	a, model, err := s.opts.Models.Chat(r.ModelARN)
	if err != nil {
		return nil, err
	}
	sess, err := s.sess.get(ctx, r.SessionID)
	if err != nil {
		return nil, err
	}
	q := r.Query
	if last := sess.lastQuestion(); last != "" {
		q.Text = r.Text + " " + last
	}
	results, err := s.Retrieve(ctx, q)
	if err != nil {
		return nil, err
	}
	prompt := r.Prompt
	if prompt == "" {
		prompt = DefaultPrompt
	}
	var sr strings.Builder
	for i, res := range results {
		fmt.Fprintf(&sr, "[%d] %s\n", i+1, res.Text)
	}
	var hist strings.Builder
	for _, t := range sess.turns() {
		fmt.Fprintf(&hist, "User: %s\nAssistant: %s\n", t.Question, t.Answer)
	}
	text := strings.NewReplacer(
		"$search_results$", sr.String(),
		"$query$", r.Text,
		"$output_format_instructions$", "Answer in a few sentences.",
		"$conversation_history$", hist.String(),
		"$current_time$", s.opts.Now().UTC().Format(time.RFC3339),
	).Replace(prompt)
	var msgs []provider.Message
	if !strings.Contains(r.Prompt, "$conversation_history$") {
		for _, t := range sess.turns() {
			msgs = append(msgs,
				provider.Message{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: t.Question}}},
				provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: t.Answer}}})
		}
	}
	msgs = append(msgs, provider.Message{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}})
	maxTok := r.MaxTokens
	if maxTok == 0 {
		maxTok = 512
	}
	return &Prepared{SessionID: sess.id, sess: sess, query: r.Text, results: results, adapter: a,
		req: &provider.Request{Model: model, Messages: msgs, MaxTokens: maxTok, Temperature: r.Temp, TopP: r.TopP, StopSequences: r.Stop}}, nil
}

// Generate runs the model and cites its answer.
func (p *Prepared) Generate(ctx context.Context) (Generated, error) {
	resp, err := p.adapter.Converse(ctx, p.req)
	if err != nil {
		return Generated{}, err
	}
	answer := strings.TrimSpace(provider.TextOf(resp.Message.Content))
	p.sess.add(ctx, p.query, answer)
	return Generated{Text: answer, SessionID: p.SessionID, Citations: Cite(answer, p.results)}, nil
}

// StreamEvent is one event of a streamed answer: a piece of its text, or
// a citation of a sentence whose text has already been sent. Citation
// offsets count from the start of the streamed text.
type StreamEvent struct {
	Text     string
	Citation *Citation
}

// Stream runs the model, calling emit with each piece of text as it comes
// and with the citation of each sentence as soon as the sentence is
// complete (its end is seen), so a citation always follows the text it
// cites. It returns the whole answer. If emit fails, the model is stopped
// and that error returned.
func (p *Prepared) Stream(ctx context.Context, emit func(StreamEvent) error) (Generated, error) {
	c := newCiter(p.results)
	var text strings.Builder
	var cites []Citation
	done := 0 // text[:done] has been cited
	flush := func(upto int) error {
		s := text.String()[:upto]
		for _, sp := range sentences(s[done:]) {
			ct, ok := c.cite(s, [2]int{done + sp[0], done + sp[1]})
			if !ok {
				continue
			}
			cites = append(cites, ct)
			if err := emit(StreamEvent{Citation: &ct}); err != nil {
				return err
			}
		}
		done = upto
		return nil
	}
	err := p.adapter.ConverseStream(ctx, p.req, func(ev provider.Event) error {
		if ev.Type != provider.TextDeltaEvent || ev.Text == "" {
			return nil
		}
		text.WriteString(ev.Text)
		if err := emit(StreamEvent{Text: ev.Text}); err != nil {
			return err
		}
		if b := lastBoundary(text.String()); b > done {
			return flush(b)
		}
		return nil
	})
	if err != nil {
		return Generated{}, err
	}
	if err := flush(text.Len()); err != nil {
		return Generated{}, err
	}
	answer := text.String()
	p.sess.add(ctx, p.query, strings.TrimSpace(answer))
	return Generated{Text: answer, SessionID: p.SessionID, Citations: cites}, nil
}

// lastBoundary returns the offset just past the last sentence end in s
// that sentences would split at and that no further text can change: a
// newline, or a terminator followed by a space or newline.
func lastBoundary(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '\n':
			return i + 1
		case '.', '!', '?':
			if i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\n') {
				return i + 1
			}
		}
	}
	return 0
}

// Cite splits answer into sentences and cites for each the results that
// share the most content words with it (at least two, or one for a short
// sentence). Sentences without support get no citation.
func Cite(answer string, results []Result) []Citation {
	var out []Citation
	c := newCiter(results)
	for _, sp := range sentences(answer) {
		if ct, ok := c.cite(answer, sp); ok {
			out = append(out, ct)
		}
	}
	return out
}

// citer cites sentences from a fixed set of results.
type citer struct {
	results []Result
	words   []map[string]bool
}

func newCiter(results []Result) *citer {
	c := &citer{results: results, words: make([]map[string]bool, len(results))}
	for i, r := range results {
		c.words[i] = contentWords(r.Text)
	}
	return c
}

// cite returns the citation of answer[sp[0]:sp[1]], if any result supports it.
func (c *citer) cite(answer string, sp [2]int) (Citation, bool) {
	words := contentWords(answer[sp[0]:sp[1]])
	if len(words) == 0 {
		return Citation{}, false
	}
	type sc struct{ i, n int }
	var scores []sc
	for i, rw := range c.words {
		n := 0
		for w := range words {
			if rw[w] {
				n++
			}
		}
		if n > 0 {
			scores = append(scores, sc{i, n})
		}
	}
	sort.SliceStable(scores, func(a, b int) bool { return scores[a].n > scores[b].n })
	need := min(2, len(words))
	if len(scores) == 0 || scores[0].n < need {
		return Citation{}, false
	}
	ct := Citation{Start: sp[0], End: sp[1] - 1, Text: answer[sp[0]:sp[1]]}
	for _, x := range scores {
		if x.n*10 < scores[0].n*7 || len(ct.Refs) == 3 {
			break
		}
		ct.Refs = append(ct.Refs, c.results[x.i])
	}
	return ct, true
}

// sentences returns [start, end) byte offsets of the sentences of s,
// trimmed of surrounding space.
func sentences(s string) [][2]int {
	var out [][2]int
	start := 0
	emit := func(end int) {
		a, b := start, end
		for a < b && unicode.IsSpace(rune(s[a])) {
			a++
		}
		for b > a && unicode.IsSpace(rune(s[b-1])) {
			b--
		}
		if b > a {
			out = append(out, [2]int{a, b})
		}
		start = end
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			emit(i + 1)
		case '.', '!', '?':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				emit(i + 1)
			}
		}
	}
	emit(len(s))
	return out
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the a an and or of to in on at by for with from is are was were be been
		it its this that these those as into than then there their they he she his her we you your our i
		not no but if so do does did has have had can could would should will may might which who whom what
		when where why how all any each also about over under after before more most such only own same very`) {
		stopWords[w] = true
	}
}

// contentWords returns the lower-cased words of s that carry meaning.
func contentWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) > 1 && !stopWords[w] {
			out[w] = true
		}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var _ = vector.Match
