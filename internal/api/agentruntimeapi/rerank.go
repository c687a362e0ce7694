package agentruntimeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// rerankARN is BedrockModelArn's pattern as Rerank checks it: Bedrock
// refuses plain model IDs here.
var rerankARN = regexp.MustCompile(`^arn:aws(-[^:]+)?:(bedrock|sagemaker):[a-z0-9-]{1,20}:([0-9]{12})?:([a-z-]+/)?([a-z0-9.-]{1,63}){0,2}(([:][a-z0-9-]{1,63}){0,2})?(/[a-z0-9]{1,12})?$`)

// vectorRerankARN is BedrockRerankingModelArn's pattern, for reranking in
// Retrieve and RetrieveAndGenerate.
var vectorRerankARN = regexp.MustCompile(`^(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/(.*))?$`)

const msgBadRerankARN = "The provided model ARN for reranking is invalid. Please, use a valid model ARN. Also check the model ARN follows this format: arn:<partition>:bedrock:<region>:<foundation-model/<model-id>"

// authorizeRerank checks that the caller may rerank with modelARN:
// bedrock:Rerank (which names no resource) and bedrock:InvokeModel on the
// model, which must be in the catalog.
func (h *Handler) authorizeRerank(r *http.Request, modelARN string) error {
	if err := h.authorizeRerankAction(r); err != nil {
		return err
	}
	return h.authorizeReranker(r, modelARN)
}

// authorizeRerankAction checks bedrock:Rerank, which names no resource.
func (h *Handler) authorizeRerankAction(r *http.Request) error {
	return h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:Rerank", "*", nil)
}

// authorizeReranker checks bedrock:InvokeModel on the reranker model,
// which must be in the catalog.
func (h *Handler) authorizeReranker(r *http.Request, modelARN string) error {
	ctx, p := r.Context(), reqctx.PrincipalFrom(r.Context())
	if h.opts.ModelARN == nil {
		return nil
	}
	m := h.opts.ModelARN(modelARN)
	if m == "" {
		return fault.Newf(fault.NotFound, "The reranking model %s was not found.", modelARN)
	}
	return h.opts.Auth.AuthorizeRequest(ctx, p, "bedrock:InvokeModel", m, nil)
}

type rerankText struct {
	Text *string `json:"text"`
}

// rerankDocument is RerankDocument: TEXT or JSON.
type rerankDocument struct {
	Type         string          `json:"type"`
	TextDocument *rerankText     `json:"textDocument,omitempty"`
	JSONDocument json.RawMessage `json:"jsonDocument,omitempty"`
}

// text is what the reranker reads of d: the text, or the JSON document as
// sent.
func (d *rerankDocument) text(i int) (string, error) {
	switch d.Type {
	case "TEXT":
		if d.TextDocument == nil || d.TextDocument.Text == nil {
			return "", validationf("Value null at 'sources.%d.member.inlineDocumentSource.textDocument.text' failed to satisfy constraint: Member must not be null", i+1)
		}
		return *d.TextDocument.Text, checkRerankText(*d.TextDocument.Text, "sources.%d.member.inlineDocumentSource.textDocument.text", i+1)
	case "JSON":
		if len(d.JSONDocument) == 0 || string(d.JSONDocument) == "null" {
			return "", validationf("Value null at 'sources.%d.member.inlineDocumentSource.jsonDocument' failed to satisfy constraint: Member must not be null", i+1)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, d.JSONDocument); err != nil {
			return "", validationf("Value at 'sources.%d.member.inlineDocumentSource.jsonDocument' failed to satisfy constraint: Member must be a JSON document", i+1)
		}
		return b.String(), nil
	}
	return "", validationf("Value '%s' at 'sources.%d.member.inlineDocumentSource.type' failed to satisfy constraint: Member must satisfy enum value set: [TEXT, JSON]", d.Type, i+1)
}

func checkRerankText(s, at string, i int) error {
	if n := utf8.RuneCountInString(s); n < 1 || n > 32000 {
		return validationf("Value at '"+at+"' failed to satisfy constraint: Member must have length between 1 and 32000", i)
	}
	return nil
}

type rerankResult struct {
	Index          int             `json:"index"`
	RelevanceScore float32         `json:"relevanceScore"`
	Document       *rerankDocument `json:"document,omitempty"`
}

// rerank serves Rerank: the sources scored against the query by the
// reranker model, best first. The response carries each result's document
// when additionalModelRequestFields sets return_documents (Cohere's name
// for it, which the upstream receives as well).
func (h *Handler) rerank(w http.ResponseWriter, r *http.Request) error {
	// As every operation, authorize the action before reading the body.
	if err := h.authorizeRerankAction(r); err != nil {
		return err
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Queries []struct {
			Type      string      `json:"type"`
			TextQuery *rerankText `json:"textQuery"`
		} `json:"queries"`
		Sources []struct {
			Type   string          `json:"type"`
			Inline *rerankDocument `json:"inlineDocumentSource"`
		} `json:"sources"`
		Config *struct {
			Type    string `json:"type"`
			Bedrock *struct {
				NumberOfResults *int `json:"numberOfResults"`
				Model           *struct {
					ModelArn string          `json:"modelArn"`
					Extra    json.RawMessage `json:"additionalModelRequestFields"`
				} `json:"modelConfiguration"`
			} `json:"bedrockRerankingConfiguration"`
		} `json:"rerankingConfiguration"`
		NextToken string `json:"nextToken"`
	}
	if err := restjson.Decode(body, &in); err != nil {
		return err
	}
	switch {
	case in.Queries == nil:
		return validationf("Value null at 'queries' failed to satisfy constraint: Member must not be null")
	case in.Sources == nil:
		return validationf("Value null at 'sources' failed to satisfy constraint: Member must not be null")
	case in.Config == nil:
		return validationf("Value null at 'rerankingConfiguration' failed to satisfy constraint: Member must not be null")
	case len(in.Queries) != 1:
		return validationf("Value at 'queries' failed to satisfy constraint: Member must have length less than or equal to 1 and greater than or equal to 1")
	case len(in.Sources) < 1 || len(in.Sources) > 1000:
		return validationf("Value at 'sources' failed to satisfy constraint: Member must have length less than or equal to 1000 and greater than or equal to 1")
	case in.Config.Type != "BEDROCK_RERANKING_MODEL":
		return validationf("Value '%s' at 'rerankingConfiguration.type' failed to satisfy constraint: Member must satisfy enum value set: [BEDROCK_RERANKING_MODEL]", in.Config.Type)
	case in.Config.Bedrock == nil:
		return validationf("Value null at 'rerankingConfiguration.bedrockRerankingConfiguration' failed to satisfy constraint: Member must not be null")
	case in.Config.Bedrock.Model == nil || in.Config.Bedrock.Model.ModelArn == "":
		return validationf("Value null at 'rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration.modelArn' failed to satisfy constraint: Member must not be null")
	}
	q := in.Queries[0]
	if q.Type != "TEXT" {
		return validationf("Value '%s' at 'queries.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [TEXT]", q.Type)
	}
	if q.TextQuery == nil || q.TextQuery.Text == nil {
		return validationf("Value null at 'queries.1.member.textQuery.text' failed to satisfy constraint: Member must not be null")
	}
	if err := checkRerankText(*q.TextQuery.Text, "queries.%d.member.textQuery.text", 1); err != nil {
		return err
	}
	docs := make([]string, len(in.Sources))
	for i, s := range in.Sources {
		if s.Type != "INLINE" {
			return validationf("Value '%s' at 'sources.%d.member.type' failed to satisfy constraint: Member must satisfy enum value set: [INLINE]", s.Type, i+1)
		}
		if s.Inline == nil {
			return validationf("Value null at 'sources.%d.member.inlineDocumentSource' failed to satisfy constraint: Member must not be null", i+1)
		}
		if docs[i], err = s.Inline.text(i); err != nil {
			return err
		}
	}
	bc := in.Config.Bedrock
	n := 0
	if bc.NumberOfResults != nil {
		n = *bc.NumberOfResults
		if n < 1 || n > 1000 {
			return validationf("Value '%d' at 'rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults' failed to satisfy constraint: Member must have value between 1 and 1000", n)
		}
		if n > len(docs) {
			return fault.New(fault.Invalid, "Cannot provide numberOfResults value that exceeds the number of sources.")
		}
	}
	arn := bc.Model.ModelArn
	if !rerankARN.MatchString(arn) {
		return fault.New(fault.Invalid, msgBadRerankARN)
	}
	returnDocs := false
	if x := bc.Model.Extra; len(x) > 0 && string(x) != "null" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(x, &m); err != nil {
			return validationf("Value at 'rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration.additionalModelRequestFields' failed to satisfy constraint: Member must be a map")
		}
		_ = json.Unmarshal(m["return_documents"], &returnDocs) // anything but true leaves it false
	}
	if err := h.authorizeReranker(r, arn); err != nil {
		return err
	}
	res, err := h.opts.KB.Rerank(r.Context(), kb.RerankRequest{ModelARN: arn, Query: *q.TextQuery.Text, Documents: docs, N: n, Extra: bc.Model.Extra})
	if err != nil {
		return err
	}
	out := make([]rerankResult, len(res))
	for i, x := range res {
		out[i] = rerankResult{Index: x.Index, RelevanceScore: float32(x.Score)}
		if returnDocs {
			out[i].Document = in.Sources[x.Index].Inline
		}
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"results": out})
}

// rerankingConfig is VectorSearchRerankingConfiguration.
type rerankingConfig struct {
	Type    string `json:"type"`
	Bedrock *struct {
		Model *struct {
			ModelArn string          `json:"modelArn"`
			Extra    json.RawMessage `json:"additionalModelRequestFields"`
		} `json:"modelConfiguration"`
		NumberOfRerankedResults *int `json:"numberOfRerankedResults"`
		Metadata                *struct {
			SelectionMode string `json:"selectionMode"`
			Selective     *struct {
				Include []field `json:"fieldsToInclude"`
				Exclude []field `json:"fieldsToExclude"`
			} `json:"selectiveModeConfiguration"`
		} `json:"metadataConfiguration"`
	} `json:"bedrockRerankingConfiguration"`
}

type field struct {
	FieldName string `json:"fieldName"`
}

const rerankAt = "retrievalConfiguration.vectorSearchConfiguration.rerankingConfiguration"

// reranking checks c and returns it as the knowledge base's reranking.
func (c *rerankingConfig) reranking() (*kb.Reranking, error) {
	if c.Type != "BEDROCK_RERANKING_MODEL" {
		return nil, validationf("Value '%s' at '"+rerankAt+".type' failed to satisfy constraint: Member must satisfy enum value set: [BEDROCK_RERANKING_MODEL]", c.Type)
	}
	b := c.Bedrock
	if b == nil {
		return nil, validationf("Value null at '" + rerankAt + ".bedrockRerankingConfiguration' failed to satisfy constraint: Member must not be null")
	}
	if b.Model == nil || b.Model.ModelArn == "" {
		return nil, validationf("Value null at '" + rerankAt + ".bedrockRerankingConfiguration.modelConfiguration.modelArn' failed to satisfy constraint: Member must not be null")
	}
	if !vectorRerankARN.MatchString(b.Model.ModelArn) {
		return nil, validationf("Value '%s' at '"+rerankAt+".bedrockRerankingConfiguration.modelConfiguration.modelArn' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", b.Model.ModelArn, vectorRerankARN.String())
	}
	rk := &kb.Reranking{ModelARN: b.Model.ModelArn, Extra: b.Model.Extra}
	if n := b.NumberOfRerankedResults; n != nil {
		if *n < 1 || *n > 100 {
			return nil, validationf("Value '%d' at '"+rerankAt+".bedrockRerankingConfiguration.numberOfRerankedResults' failed to satisfy constraint: Member must have value between 1 and 100", *n)
		}
		rk.N = *n
	}
	if m := b.Metadata; m != nil {
		const at = rerankAt + ".bedrockRerankingConfiguration.metadataConfiguration"
		switch m.SelectionMode {
		case kb.RerankMetadataAll:
			if m.Selective != nil {
				return nil, fault.New(fault.Invalid, "selectiveModeConfiguration can only be given with selectionMode SELECTIVE.")
			}
		case kb.RerankMetadataSelective:
			if m.Selective == nil || (m.Selective.Include == nil) == (m.Selective.Exclude == nil) {
				return nil, fault.New(fault.Invalid, "selectionMode SELECTIVE needs selectiveModeConfiguration with exactly one of fieldsToInclude and fieldsToExclude.")
			}
			for _, fs := range [][]field{m.Selective.Include, m.Selective.Exclude} {
				if fs != nil && (len(fs) < 1 || len(fs) > 100) {
					return nil, validationf("Value at '" + at + ".selectiveModeConfiguration' failed to satisfy constraint: Member must have length between 1 and 100")
				}
				for _, f := range fs {
					if f.FieldName == "" {
						return nil, validationf("Value null at '" + at + ".selectiveModeConfiguration.member.fieldName' failed to satisfy constraint: Member must not be null")
					}
				}
			}
			for _, f := range m.Selective.Include {
				rk.Include = append(rk.Include, f.FieldName)
			}
			for _, f := range m.Selective.Exclude {
				rk.Exclude = append(rk.Exclude, f.FieldName)
			}
		default:
			return nil, validationf("Value '%s' at '"+at+".selectionMode' failed to satisfy constraint: Member must satisfy enum value set: [SELECTIVE, ALL]", m.SelectionMode)
		}
		rk.Metadata = m.SelectionMode
	}
	return rk, nil
}
