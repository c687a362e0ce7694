// Package bedrockapi serves the bedrock control plane over HTTP. Today it
// covers the model catalog (ListFoundationModels, GetFoundationModel),
// model access (the foundation-model agreement and availability operations
// and the model-access use case), resource tags, and the model invocation
// logging configuration.
package bedrockapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorizer decides whether a principal may perform an action on a
// resource; AuthorizeRequest adds request-specific condition keys.
type Authorizer interface {
	Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error
	AuthorizeRequest(ctx context.Context, p *reqctx.Principal, action, resource string, extra map[string][]string) error
}

// ModelAccess enables and disables models for the account.
type ModelAccess interface {
	ModelEnabled(ctx context.Context, modelID string) (bool, error)
	SetModelAccess(ctx context.Context, modelID string, enabled bool) error
	PutUseCase(ctx context.Context, form []byte) error
	UseCase(ctx context.Context) ([]byte, error) // fault.NotFound if none
}

// Tagger keeps tags by resource ARN.
type Tagger interface {
	ResourceTags(ctx context.Context, arn string) (map[string]string, error)
	// TagResource adds add and removes remove; fault.QuotaExceeded when
	// the resource would have too many tags.
	TagResource(ctx context.Context, arn string, add map[string]string, remove []string) error
}

// Options configures the handler.
type Options struct {
	Catalog   *catalog.Catalog
	Auth      Authorizer
	Access    ModelAccess
	Tags      Tagger
	Logging   InvocationLogging
	AccountID string
}

// Handler serves control-plane operations.
type Handler struct{ opts Options }

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// Routes maps operation names to handlers.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"ListFoundationModels": h.listFoundationModels,
		"GetFoundationModel":   h.getFoundationModel,

		"GetFoundationModelAvailability":     h.getFoundationModelAvailability,
		"ListFoundationModelAgreementOffers": h.listAgreementOffers,
		"CreateFoundationModelAgreement":     h.createAgreement,
		"DeleteFoundationModelAgreement":     h.deleteAgreement,
		"PutUseCaseForModelAccess":           h.putUseCase,
		"GetUseCaseForModelAccess":           h.getUseCase,

		"TagResource":         h.tagResource,
		"UntagResource":       h.untagResource,
		"ListTagsForResource": h.listTags,

		"PutModelInvocationLoggingConfiguration":    h.putLoggingConfig,
		"GetModelInvocationLoggingConfiguration":    h.getLoggingConfig,
		"DeleteModelInvocationLoggingConfiguration": h.deleteLoggingConfig,
	}
}

// WriteError renders err for the bedrock service.
func WriteError(w http.ResponseWriter, err error) { restjson.WriteError(w, awsapi.Bedrock, err) }

// ModelSummary is FoundationModelSummary plus Outcrop's own member, which
// the SDKs ignore.
type ModelSummary struct {
	ModelARN                   string     `json:"modelArn"`
	ModelID                    string     `json:"modelId"`
	ModelName                  string     `json:"modelName"`
	ProviderName               string     `json:"providerName"`
	InputModalities            []string   `json:"inputModalities"`
	OutputModalities           []string   `json:"outputModalities"`
	ResponseStreamingSupported bool       `json:"responseStreamingSupported"`
	CustomizationsSupported    []string   `json:"customizationsSupported"`
	InferenceTypesSupported    []string   `json:"inferenceTypesSupported"`
	ModelLifecycle             Lifecycle  `json:"modelLifecycle"`
	Outcrop                    OutcropExt `json:"outcrop"`
}

// Lifecycle is the model's lifecycle status.
type Lifecycle struct {
	Status string `json:"status"`
}

// OutcropExt says how Outcrop really serves the model.
type OutcropExt struct {
	Family       string               `json:"family"`
	Backend      string               `json:"backend"`
	BackendModel string               `json:"backendModel"`
	Capabilities catalog.Capabilities `json:"capabilities"`
	Note         string               `json:"note,omitempty"`
}

func (h *Handler) summary(m *catalog.Model) ModelSummary {
	cz := m.Customize
	if cz == nil {
		cz = []string{}
	}
	note := m.Note
	if note == "" {
		note = "Served by Outcrop backend " + m.Backend + " (" + m.BackendModel + ")."
	}
	return ModelSummary{
		ModelARN: h.opts.Catalog.ARN(m), ModelID: m.ID, ModelName: m.Name, ProviderName: m.Provider,
		InputModalities: m.Input, OutputModalities: m.Output,
		ResponseStreamingSupported: m.Caps.Streaming,
		CustomizationsSupported:    cz,
		InferenceTypesSupported:    []string{"ON_DEMAND"},
		ModelLifecycle:             Lifecycle{Status: m.Lifecycle},
		Outcrop:                    OutcropExt{Family: m.Family, Backend: m.Backend, BackendModel: m.BackendModel, Capabilities: m.Caps, Note: note},
	}
}

var enums = map[string][]string{
	"byCustomizationType": {"FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"},
	"byOutputModality":    {"TEXT", "IMAGE", "EMBEDDING"},
	"byInferenceType":     {"ON_DEMAND", "PROVISIONED"},
}

func (h *Handler) listFoundationModels(w http.ResponseWriter, r *http.Request) error {
	if err := h.opts.Auth.Authorize(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:ListFoundationModels", "*"); err != nil {
		return err
	}
	q := r.URL.Query()
	for k, allowed := range enums {
		if v := q.Get(k); v != "" && !contains(allowed, v) {
			return fault.Newf(fault.Invalid, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, k, strings.Join(allowed, ", "))
		}
	}
	prov := q.Get("byProvider")
	out := []ModelSummary{}
	for i := range h.opts.Catalog.List() {
		m := &h.opts.Catalog.List()[i]
		if prov != "" && !strings.EqualFold(prov, m.Provider) && !strings.EqualFold(prov, providerPrefix(m.ID)) {
			continue
		}
		if v := q.Get("byOutputModality"); v != "" && !contains(m.Output, v) {
			continue
		}
		if v := q.Get("byCustomizationType"); v != "" && !contains(m.Customize, v) {
			continue
		}
		if v := q.Get("byInferenceType"); v != "" && v != "ON_DEMAND" {
			continue
		}
		out = append(out, h.summary(m))
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		ModelSummaries []ModelSummary `json:"modelSummaries"`
	}{out})
}

func providerPrefix(id string) string {
	p, _, _ := strings.Cut(id, ".")
	return p
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (h *Handler) getFoundationModel(w http.ResponseWriter, r *http.Request) error {
	m, err := h.opts.Catalog.Lookup(r.PathValue("modelIdentifier"))
	if err != nil {
		if fault.KindOf(err) == fault.Invalid {
			return fault.New(fault.NotFound, "The specified model could not be found.")
		}
		return err
	}
	if err := h.opts.Auth.Authorize(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:GetFoundationModel", h.opts.Catalog.ARN(m)); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		ModelDetails ModelSummary `json:"modelDetails"`
	}{h.summary(m)})
}
