package iam

import (
	"context"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
)

// ModelAccess records that a foundation model was enabled (an agreement was
// created) or disabled (the agreement was deleted) for the account.
type ModelAccess struct {
	ModelID string
	Enabled bool
	Updated time.Time
}

// ModelAccessStore persists model access and the account's model-access
// use case form.
type ModelAccessStore interface {
	PutModelAccess(ctx context.Context, a ModelAccess) error
	ModelAccessList(ctx context.Context) ([]ModelAccess, error)
	PutSetting(ctx context.Context, name string, value []byte) error
	Setting(ctx context.Context, name string) ([]byte, error) // fault.NotFound if absent
}

// MsgNoModelAccess is Bedrock's message when the account has not been
// granted access to a model.
const MsgNoModelAccess = "You don't have access to the model with the specified model ID."

// needsModelAccess reports whether action invokes a model, which needs
// model access besides IAM permission. Operations pass their action in its
// canonical spelling.
func needsModelAccess(action string) bool {
	switch action {
	case "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:InvokeModelWithBidirectionalStream":
		return true
	}
	return false
}

// foundationModelID returns the model ID of a foundation-model ARN, or "".
func foundationModelID(resource string) string {
	if !strings.HasPrefix(resource, "arn:") {
		return ""
	}
	i := strings.Index(resource, ":foundation-model/")
	if i < 0 {
		return ""
	}
	return resource[i+len(":foundation-model/"):]
}

// ModelEnabled reports whether the account may invoke the model: an
// explicit grant or revocation decides, else the configured default.
func (s *Service) ModelEnabled(ctx context.Context, modelID string) (bool, error) {
	st, err := s.state(ctx)
	if err != nil {
		return false, err
	}
	return st.modelEnabled(modelID, s.opts.ModelAccessDefault), nil
}

// SetModelAccess enables or disables a model for the account
// (CreateFoundationModelAgreement and DeleteFoundationModelAgreement).
func (s *Service) SetModelAccess(ctx context.Context, modelID string, enabled bool) error {
	err := s.opts.Directory.PutModelAccess(ctx, ModelAccess{ModelID: modelID, Enabled: enabled, Updated: s.opts.Now().UTC().Truncate(time.Second)})
	s.invalidate()
	return err
}

const useCaseSetting = "model-access-use-case"

// PutUseCase stores the account's use case form for model access.
func (s *Service) PutUseCase(ctx context.Context, form []byte) error {
	return s.opts.Directory.PutSetting(ctx, useCaseSetting, form)
}

// UseCase returns the stored use case form, fault.NotFound if none.
func (s *Service) UseCase(ctx context.Context) ([]byte, error) {
	b, err := s.opts.Directory.Setting(ctx, useCaseSetting)
	if fault.KindOf(err) == fault.NotFound {
		return nil, fault.New(fault.NotFound, "The use case form for model access has not been submitted.")
	}
	return b, err
}
