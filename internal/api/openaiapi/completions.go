package openaiapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
)

type (
	// CompletionRequest is the body of POST /v1/completions (legacy).
	CompletionRequest struct {
		Model         string          `json:"model"`
		Prompt        json.RawMessage `json:"prompt"`
		MaxTokens     *int            `json:"max_tokens"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		Seed          *int64          `json:"seed"`
		Stop          Strings         `json:"stop"`
		N             *int            `json:"n"`
		BestOf        *int            `json:"best_of"`
		Echo          bool            `json:"echo"`
		Logprobs      *int            `json:"logprobs"`
		Suffix        *string         `json:"suffix"`
		Stream        bool            `json:"stream"`
		StreamOptions *StreamOptions  `json:"stream_options"`
	}
	// Completion is a /v1/completions response or chunk.
	Completion struct {
		ID                string             `json:"id"`
		Object            string             `json:"object"`
		Created           int64              `json:"created"`
		Model             string             `json:"model"`
		Choices           []CompletionChoice `json:"choices"`
		Usage             *Usage             `json:"usage,omitempty"`
		SystemFingerprint *string            `json:"system_fingerprint"`
	}
	// CompletionChoice is one choice of a completion.
	CompletionChoice struct {
		Index        int                 `json:"index"`
		Text         string              `json:"text"`
		Logprobs     *CompletionLogprobs `json:"logprobs"`
		FinishReason *FinishReason       `json:"finish_reason"`
	}
	// CompletionLogprobs are the legacy log probabilities of a choice's
	// tokens (or, in a chunk, of its text): each token, its log
	// probability, the most likely alternatives at its position (the
	// sampled token always among them) and its character offset in the
	// choice's text.
	CompletionLogprobs struct {
		Tokens        []string             `json:"tokens"`
		TokenLogprobs []float64            `json:"token_logprobs"`
		TopLogprobs   []map[string]float64 `json:"top_logprobs"`
		TextOffset    []int                `json:"text_offset"`
	}
)

// maxCompletionLogprobs is OpenAI's limit on the legacy logprobs count.
const maxCompletionLogprobs = 5

// defaultCompletionTokens is OpenAI's default max_tokens for completions.
const defaultCompletionTokens = 16

// Canonical maps a completions request: the prompt is continued verbatim
// (a raw prompt), as text-completion models do.
func (cr *CompletionRequest) Canonical() (*provider.Request, error) {
	if cr.Model == "" {
		return nil, dialect.Invalid("model", "you must provide a model parameter")
	}
	var prompt string
	if err := json.Unmarshal(cr.Prompt, &prompt); err != nil {
		var many []string
		if json.Unmarshal(cr.Prompt, &many) != nil || len(many) != 1 {
			return nil, dialect.Invalid("prompt", "prompt must be a string (or an array of one string); batches of prompts and token arrays are not supported.")
		}
		prompt = many[0]
	}
	if prompt == "" {
		return nil, dialect.Invalid("prompt", "prompt must not be empty.")
	}
	switch {
	case cr.N != nil && *cr.N != 1:
		return nil, dialect.Invalid("n", "n > 1 is not supported: the model's backend returns one choice per request.")
	case cr.BestOf != nil && *cr.BestOf != 1:
		return nil, dialect.Invalid("best_of", "best_of > 1 is not supported.")
	case cr.Logprobs != nil && (*cr.Logprobs < 0 || *cr.Logprobs > maxCompletionLogprobs):
		return nil, dialect.Invalid("logprobs", fmt.Sprintf("Invalid 'logprobs': %d. Expected a value between 0 and %d.", *cr.Logprobs, maxCompletionLogprobs))
	case cr.Logprobs != nil && cr.Echo:
		return nil, dialect.Invalid("echo", "echo with logprobs is not supported: the prompt's log probabilities are not computed.")
	case cr.Suffix != nil && *cr.Suffix != "":
		return nil, dialect.Invalid("suffix", "suffix (fill-in-the-middle) is not supported.")
	}
	if err := checkSampling(cr.Temperature, cr.TopP); err != nil {
		return nil, err
	}
	req := &provider.Request{Raw: true, Prompt: prompt, MaxTokens: defaultCompletionTokens,
		Temperature: cr.Temperature, TopP: cr.TopP, Seed: cr.Seed, StopSequences: cr.Stop}
	if cr.Logprobs != nil {
		req.Logprobs, req.TopLogprobs = true, *cr.Logprobs
	}
	if cr.MaxTokens != nil {
		if *cr.MaxTokens < 1 {
			return nil, dialect.Invalid("max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1.")
		}
		req.MaxTokens = *cr.MaxTokens
	}
	return req, nil
}

// completionLogprobs encodes log probabilities in the legacy shape, with
// text offsets counted in characters from offset; nil (JSON null) when the
// request did not ask for them.
func completionLogprobs(lps []provider.TokenLogprob, asked bool, offset int) *CompletionLogprobs {
	if !asked {
		return nil
	}
	out := &CompletionLogprobs{Tokens: make([]string, 0, len(lps)), TokenLogprobs: make([]float64, 0, len(lps)),
		TopLogprobs: make([]map[string]float64, 0, len(lps)), TextOffset: make([]int, 0, len(lps))}
	for _, lp := range lps {
		e := logprobEntry(lp.Token, lp.Logprob)
		top := make(map[string]float64, len(lp.Top)+1)
		for _, t := range lp.Top {
			a := logprobEntry(t.Token, t.Logprob)
			top[a.Token] = a.Logprob
		}
		top[e.Token] = e.Logprob
		out.Tokens = append(out.Tokens, e.Token)
		out.TokenLogprobs = append(out.TokenLogprobs, e.Logprob)
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, offset)
		offset += utf8.RuneCountInString(e.Token)
	}
	return out
}

func (h *Handler) completions(w http.ResponseWriter, r *http.Request) error {
	var cr CompletionRequest
	if err := dialect.ReadJSON(r, &cr); err != nil {
		return err
	}
	req, err := cr.Canonical()
	if err != nil {
		return err
	}
	t, err := h.m.ResolveChat(r.Context(), cr.Model, cr.Stream, req)
	if err != nil {
		return err
	}
	prefix := ""
	if cr.Echo {
		prefix = req.Prompt
	}
	base := Completion{ID: newID(r, "cmpl-"), Object: "text_completion", Created: h.m.Now().Unix(), Model: cr.Model}
	if !cr.Stream {
		resp, err := h.m.Converse(r.Context(), t, req)
		if err != nil {
			return err
		}
		u := resp.Usage
		base.Choices = []CompletionChoice{{Text: prefix + provider.TextOf(resp.Message.Content), FinishReason: finishReason(resp.StopReason),
			Logprobs: completionLogprobs(resp.Logprobs, req.Logprobs, 0)}}
		base.Usage = &Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
		return writeJSON(w, http.StatusOK, base)
	}
	sse := dialect.NewSSE(w)
	includeUsage := cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage
	send := func(ch []CompletionChoice, u *Usage) error {
		c := base
		c.Choices, c.Usage = ch, u
		return sse.Event("", c)
	}
	if prefix != "" {
		if err := send([]CompletionChoice{{Text: prefix}}, nil); err != nil {
			return err
		}
	}
	offset := 0 // characters of the choice's text sent so far
	err = h.m.Stream(r.Context(), t, req, func(ev provider.Event) error {
		sse.Batch(ev.More)
		switch ev.Type {
		case provider.TextDeltaEvent:
			lp := completionLogprobs(ev.Logprobs, req.Logprobs, offset)
			offset += utf8.RuneCountInString(ev.Text)
			return send([]CompletionChoice{{Text: ev.Text, Logprobs: lp}}, nil)
		case provider.MessageStopEvent:
			return send([]CompletionChoice{{FinishReason: finishReason(ev.StopReason)}}, nil)
		case provider.MetadataEvent:
			if includeUsage {
				u := ev.Usage
				return send([]CompletionChoice{}, &Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens})
			}
		}
		return nil
	})
	if err == nil {
		err = sse.Last("", "[DONE]")
	}
	return streamError(sse, err)
}
