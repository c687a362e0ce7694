// Package agentruntimeapi serves bedrock-agent-runtime over HTTP: Retrieve,
// RetrieveAndGenerate and RetrieveAndGenerateStream (stream.go) on
// knowledge bases, and Rerank (rerank.go).
package agentruntimeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorizer decides whether a principal may perform an action.
type Authorizer interface {
	AuthorizeRequest(ctx context.Context, p *reqctx.Principal, action, resource string, extra map[string][]string) error
}

// Options configures the handler.
type Options struct {
	Auth Authorizer
	KB   *kb.Service
	// ModelARN returns the foundation-model ARN a model identifier names
	// (for authorizing bedrock:InvokeModel); "" if unknown.
	ModelARN func(id string) string
}

// Handler serves bedrock-agent-runtime operations.
type Handler struct{ opts Options }

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// Routes maps operation names to handlers.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"Retrieve":                  h.retrieve,
		"RetrieveAndGenerate":       h.retrieveAndGenerate,
		"RetrieveAndGenerateStream": h.retrieveAndGenerateStream,
		"Rerank":                    h.rerank,
	}
}

func validationf(format string, args ...any) error {
	return fault.Newf(fault.Invalid, "1 validation error detected: "+format, args...)
}

var kbIdentifier = regexp.MustCompile(`^[0-9a-zA-Z]{10}$|^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}$`)

func kbID(s string) (string, error) {
	if !kbIdentifier.MatchString(s) {
		return "", validationf("Value '%s' at 'knowledgeBaseId' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", s, kbIdentifier.String())
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return s, nil
}

// wireFilter is RetrievalFilter: one operator per object.
type wireFilter map[string]json.RawMessage

func (w wireFilter) toFilter() (*vector.Filter, error) {
	if len(w) != 1 {
		return nil, validationf("A retrieval filter must set exactly one operator; it sets %d.", len(w))
	}
	for op, raw := range w {
		switch op {
		case "andAll", "orAll":
			var subs []wireFilter
			if err := json.Unmarshal(raw, &subs); err != nil {
				return nil, validationf("filter %s: %v", op, err)
			}
			f := &vector.Filter{Op: op}
			for _, s := range subs {
				c, err := s.toFilter()
				if err != nil {
					return nil, err
				}
				f.All = append(f.All, c)
			}
			return f, nil
		}
		var a struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, validationf("filter %s: %v", op, err)
		}
		f := &vector.Filter{Op: op, Key: a.Key, Value: a.Value}
		if err := f.Validate(); err != nil {
			return nil, fault.Newf(fault.Invalid, "The retrieval filter is not valid: %v.", err)
		}
		return f, nil
	}
	return nil, nil
}

type retrievalConfig struct {
	Vector *struct {
		Filter             wireFilter       `json:"filter"`
		NumberOfResults    *int             `json:"numberOfResults"`
		OverrideSearchType string           `json:"overrideSearchType"`
		Rerank             *rerankingConfig `json:"rerankingConfiguration"`
	} `json:"vectorSearchConfiguration"`
}

func (c *retrievalConfig) query(id, text string) (kb.Query, error) {
	q := kb.Query{KBID: id, Text: text, N: 5, SearchType: kb.SearchHybrid}
	if c == nil || c.Vector == nil {
		return q, nil
	}
	v := c.Vector
	if v.NumberOfResults != nil {
		if *v.NumberOfResults < 1 || *v.NumberOfResults > 100 {
			return q, validationf("Value '%d' at 'retrievalConfiguration.vectorSearchConfiguration.numberOfResults' failed to satisfy constraint: Member must have value between 1 and 100", *v.NumberOfResults)
		}
		q.N = *v.NumberOfResults
	}
	switch v.OverrideSearchType {
	case "":
	case kb.SearchHybrid, kb.SearchSemantic:
		q.SearchType = v.OverrideSearchType
	default:
		return q, validationf("Value '%s' at 'retrievalConfiguration.vectorSearchConfiguration.overrideSearchType' failed to satisfy constraint: Member must satisfy enum value set: [HYBRID, SEMANTIC]", v.OverrideSearchType)
	}
	if v.Filter != nil {
		f, err := v.Filter.toFilter()
		if err != nil {
			return q, err
		}
		q.Filter = f
	}
	if v.Rerank != nil {
		rk, err := v.Rerank.reranking()
		if err != nil {
			return q, err
		}
		q.Rerank = rk
	}
	return q, nil
}

type content struct {
	Text string `json:"text"`
	Type string `json:"type"`
}

type location struct {
	Type           string  `json:"type"`
	S3Location     *uri    `json:"s3Location,omitempty"`
	WebLocation    *webURL `json:"webLocation,omitempty"`
	CustomLocation *id     `json:"customDocumentLocation,omitempty"`
}

type webURL struct {
	URL string `json:"url"`
}

type uri struct {
	URI string `json:"uri"`
}
type id struct {
	ID string `json:"id"`
}

type reference struct {
	Content  content        `json:"content"`
	Location location       `json:"location"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

type result struct {
	reference
	Score float64 `json:"score"`
}

func toReference(r kb.Result) reference {
	ref := reference{Content: content{Text: r.Text, Type: "TEXT"}, Metadata: r.Meta}
	switch {
	case strings.HasPrefix(r.DocID, "s3://"):
		ref.Location = location{Type: "S3", S3Location: &uri{r.DocID}}
	case strings.HasPrefix(r.DocID, "http://") || strings.HasPrefix(r.DocID, "https://"):
		ref.Location = location{Type: "WEB", WebLocation: &webURL{r.DocID}}
	default:
		ref.Location = location{Type: "CUSTOM", CustomLocation: &id{r.DocID}}
	}
	return ref
}

func (h *Handler) authorize(r *http.Request, action, kb string) error {
	return h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), action, h.opts.KB.KnowledgeBaseARN(kb), nil)
}

func (h *Handler) retrieve(w http.ResponseWriter, r *http.Request) error {
	id, err := kbID(r.PathValue("knowledgeBaseId"))
	if err != nil {
		return err
	}
	if err := h.authorize(r, "bedrock:Retrieve", id); err != nil {
		return err
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return err
	}
	var in struct {
		RetrievalQuery *struct {
			Text *string `json:"text"`
			Type string  `json:"type"`
		} `json:"retrievalQuery"`
		RetrievalConfiguration *retrievalConfig `json:"retrievalConfiguration"`
		NextToken              string           `json:"nextToken"`
	}
	if err := restjson.Decode(body, &in); err != nil {
		return err
	}
	if in.RetrievalQuery == nil || in.RetrievalQuery.Text == nil {
		return validationf("Value null at 'retrievalQuery.text' failed to satisfy constraint: Member must not be null")
	}
	if in.RetrievalQuery.Type != "" && in.RetrievalQuery.Type != "TEXT" {
		return fault.Newf(fault.Invalid, "Outcrop retrieves with text queries only, not %s.", in.RetrievalQuery.Type)
	}
	q, err := in.RetrievalConfiguration.query(id, *in.RetrievalQuery.Text)
	if err != nil {
		return err
	}
	if q.Rerank != nil {
		if err := h.authorizeRerank(r, q.Rerank.ModelARN); err != nil {
			return err
		}
	}
	res, err := h.opts.KB.Retrieve(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]result, 0, len(res))
	for _, x := range res {
		out = append(out, result{toReference(x), x.Score})
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"retrievalResults": out})
}

var sessionRE = regexp.MustCompile(`^[0-9a-zA-Z._:-]+$`)

// decodeGenerate decodes and authorizes a RetrieveAndGenerate or
// RetrieveAndGenerateStream request (both are authorized as
// bedrock:RetrieveAndGenerate, plus Retrieve on the knowledge base and
// InvokeModel on the model).
func (h *Handler) decodeGenerate(r *http.Request) (kb.GenerateRequest, error) {
	var req kb.GenerateRequest
	body, err := restjson.ReadBody(r)
	if err != nil {
		return req, err
	}
	type inference struct {
		Text *struct {
			MaxTokens     *int     `json:"maxTokens"`
			StopSequences []string `json:"stopSequences"`
			Temperature   *float64 `json:"temperature"`
			TopP          *float64 `json:"topP"`
		} `json:"textInferenceConfig"`
	}
	var in struct {
		Input *struct {
			Text *string `json:"text"`
		} `json:"input"`
		Config *struct {
			Type string `json:"type"`
			KB   *struct {
				KnowledgeBaseID string           `json:"knowledgeBaseId"`
				ModelArn        string           `json:"modelArn"`
				Retrieval       *retrievalConfig `json:"retrievalConfiguration"`
				Generation      *struct {
					PromptTemplate *struct {
						Text string `json:"textPromptTemplate"`
					} `json:"promptTemplate"`
					InferenceConfig *inference `json:"inferenceConfig"`
				} `json:"generationConfiguration"`
			} `json:"knowledgeBaseConfiguration"`
		} `json:"retrieveAndGenerateConfiguration"`
		SessionID string `json:"sessionId"`
	}
	if err := restjson.Decode(body, &in); err != nil {
		return req, err
	}
	if in.Input == nil || in.Input.Text == nil {
		return req, validationf("Value null at 'input.text' failed to satisfy constraint: Member must not be null")
	}
	if len(*in.Input.Text) > 1000 {
		return req, validationf("Value at 'input.text' failed to satisfy constraint: Member must have length less than or equal to 1000")
	}
	if in.SessionID != "" && (len(in.SessionID) < 2 || len(in.SessionID) > 100 || !sessionRE.MatchString(in.SessionID)) {
		return req, validationf("Value '%s' at 'sessionId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z._:-]+$", in.SessionID)
	}
	if in.Config == nil {
		return req, validationf("Value null at 'retrieveAndGenerateConfiguration' failed to satisfy constraint: Member must not be null")
	}
	if in.Config.Type != "KNOWLEDGE_BASE" || in.Config.KB == nil {
		return req, fault.Newf(fault.Invalid, "Outcrop supports retrieveAndGenerateConfiguration of type KNOWLEDGE_BASE with knowledgeBaseConfiguration, not %q.", in.Config.Type)
	}
	c := in.Config.KB
	id, err := kbID(c.KnowledgeBaseID)
	if err != nil {
		return req, err
	}
	if c.ModelArn == "" {
		return req, validationf("Value null at 'knowledgeBaseConfiguration.modelArn' failed to satisfy constraint: Member must not be null")
	}
	if err := h.authorize(r, "bedrock:RetrieveAndGenerate", id); err != nil {
		return req, err
	}
	if err := h.authorize(r, "bedrock:Retrieve", id); err != nil {
		return req, err
	}
	if h.opts.ModelARN != nil {
		m := h.opts.ModelARN(c.ModelArn)
		if m == "" {
			return req, fault.Newf(fault.Invalid, "The model %s is not in the catalog.", c.ModelArn)
		}
		if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:InvokeModel", m, nil); err != nil {
			return req, err
		}
	}
	q, err := c.Retrieval.query(id, *in.Input.Text)
	if err != nil {
		return req, err
	}
	if q.Rerank != nil {
		if err := h.authorizeRerank(r, q.Rerank.ModelARN); err != nil {
			return req, err
		}
	}
	req = kb.GenerateRequest{Query: q, ModelARN: c.ModelArn, SessionID: in.SessionID}
	if g := c.Generation; g != nil {
		if g.PromptTemplate != nil {
			req.Prompt = g.PromptTemplate.Text
			if !strings.Contains(req.Prompt, "$search_results$") {
				return req, fault.New(fault.Invalid, "The prompt template must contain the $search_results$ placeholder.")
			}
		}
		if ic := g.InferenceConfig; ic != nil && ic.Text != nil {
			if ic.Text.MaxTokens != nil {
				req.MaxTokens = *ic.Text.MaxTokens
			}
			req.Temp, req.TopP, req.Stop = ic.Text.Temperature, ic.Text.TopP, ic.Text.StopSequences
		}
	}
	return req, nil
}

func (h *Handler) retrieveAndGenerate(w http.ResponseWriter, r *http.Request) error {
	req, err := h.decodeGenerate(r)
	if err != nil {
		return err
	}
	g, err := h.opts.KB.RetrieveAndGenerate(r.Context(), req)
	if err != nil {
		return err
	}
	cites := make([]citation, 0, len(g.Citations))
	for _, x := range g.Citations {
		cites = append(cites, toCitation(x))
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{
		"output":    map[string]string{"text": g.Text},
		"citations": cites,
		"sessionId": g.SessionID,
	})
}

type span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

type textPart struct {
	Text string `json:"text"`
	Span span   `json:"span"`
}

// citation is Citation: a span of the answer and the references that
// support it.
type citation struct {
	GeneratedResponsePart struct {
		TextResponsePart textPart `json:"textResponsePart"`
	} `json:"generatedResponsePart"`
	RetrievedReferences []reference `json:"retrievedReferences"`
}

func toCitation(x kb.Citation) citation {
	var ct citation
	ct.GeneratedResponsePart.TextResponsePart = textPart{x.Text, span{x.Start, x.End}}
	ct.RetrievedReferences = make([]reference, 0, len(x.Refs))
	for _, ref := range x.Refs {
		ct.RetrievedReferences = append(ct.RetrievedReferences, toReference(ref))
	}
	return ct
}
