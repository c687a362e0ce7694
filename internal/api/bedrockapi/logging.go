package bedrockapi

import (
	"context"
	"net/http"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/invlog"
)

// InvocationLogging keeps the account's model invocation logging
// configuration (invlog.Logger).
type InvocationLogging interface {
	Config(ctx context.Context) (*invlog.Config, error) // nil when off
	PutConfig(ctx context.Context, c *invlog.Config) error
	DeleteConfig(ctx context.Context) error
}

func (h *Handler) putLoggingConfig(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:PutModelInvocationLoggingConfiguration", "*"); err != nil {
		return err
	}
	var in struct {
		LoggingConfig *invlog.Config `json:"loggingConfig"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.LoggingConfig == nil {
		return fault.New(fault.Invalid, "1 validation error detected: Value null at 'loggingConfig' failed to satisfy constraint: Member must not be null")
	}
	if err := h.opts.Logging.PutConfig(r.Context(), in.LoggingConfig); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) getLoggingConfig(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:GetModelInvocationLoggingConfiguration", "*"); err != nil {
		return err
	}
	c, err := h.opts.Logging.Config(r.Context())
	if err != nil {
		return err
	}
	// With logging off Bedrock answers 200 with no loggingConfig.
	return restjson.WriteJSON(w, http.StatusOK, struct {
		LoggingConfig *invlog.Config `json:"loggingConfig,omitempty"`
	}{c})
}

func (h *Handler) deleteLoggingConfig(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:DeleteModelInvocationLoggingConfiguration", "*"); err != nil {
		return err
	}
	if err := h.opts.Logging.DeleteConfig(r.Context()); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}
