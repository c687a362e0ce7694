package bedrockapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Model access: Bedrock's agreement and availability operations over the
// account's model access (a model must be enabled before it is invoked).
// Outcrop sells nothing, so every model has one free offer whose token
// CreateFoundationModelAgreement accepts.

func (h *Handler) authorize(r *http.Request, action, resource string) error {
	return h.opts.Auth.Authorize(r.Context(), reqctx.PrincipalFrom(r.Context()), action, resource)
}

// model finds a catalog model for the agreement operations.
func (h *Handler) model(id string) (*catalog.Model, error) {
	if id == "" {
		return nil, fault.New(fault.Invalid, "1 validation error detected: Value null at 'modelId' failed to satisfy constraint: Member must not be null")
	}
	m, err := h.opts.Catalog.Lookup(id)
	if err != nil {
		if fault.KindOf(err) == fault.Invalid {
			return nil, fault.New(fault.NotFound, "The specified model could not be found.")
		}
		return nil, err
	}
	return m, nil
}

// offerToken is the deterministic token of a model's one offer.
func offerToken(modelID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("outcrop-offer:" + modelID))
}

func offerID(modelID string) string {
	sum := sha256.Sum256([]byte(modelID))
	return "offer-" + hex.EncodeToString(sum[:8])
}

func (h *Handler) getFoundationModelAvailability(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:GetFoundationModelAvailability", "*"); err != nil {
		return err
	}
	m, err := h.model(r.PathValue("modelId"))
	if err != nil {
		return err
	}
	on, err := h.opts.Access.ModelEnabled(r.Context(), m.ID)
	if err != nil {
		return err
	}
	agreement, entitled := "NOT_AVAILABLE", "NOT_AVAILABLE"
	if on {
		agreement, entitled = "AVAILABLE", "AVAILABLE"
	}
	type status struct {
		Status string `json:"status"`
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		ModelID                 string `json:"modelId"`
		AgreementAvailability   status `json:"agreementAvailability"`
		AuthorizationStatus     string `json:"authorizationStatus"`
		EntitlementAvailability string `json:"entitlementAvailability"`
		RegionAvailability      string `json:"regionAvailability"`
	}{m.ID, status{agreement}, "AUTHORIZED", entitled, "AVAILABLE"})
}

type offer struct {
	OfferID     string      `json:"offerId"`
	OfferToken  string      `json:"offerToken"`
	TermDetails termDetails `json:"termDetails"`
}

type termDetails struct {
	UsageBasedPricingTerm struct {
		RateCard []struct{} `json:"rateCard"`
	} `json:"usageBasedPricingTerm"`
	LegalTerm struct {
		URL string `json:"url,omitempty"`
	} `json:"legalTerm"`
	SupportTerm struct {
		RefundPolicyDescription string `json:"refundPolicyDescription"`
	} `json:"supportTerm"`
}

func (h *Handler) listAgreementOffers(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:ListFoundationModelAgreementOffers", "*"); err != nil {
		return err
	}
	if t := r.URL.Query().Get("offerType"); t != "" && t != "ALL" && t != "PUBLIC" {
		return fault.Newf(fault.Invalid, "1 validation error detected: Value '%s' at 'offerType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, PUBLIC]", t)
	}
	m, err := h.model(r.PathValue("modelId"))
	if err != nil {
		return err
	}
	o := offer{OfferID: offerID(m.ID), OfferToken: offerToken(m.ID)}
	o.TermDetails.UsageBasedPricingTerm.RateCard = []struct{}{}
	o.TermDetails.SupportTerm.RefundPolicyDescription = "Outcrop serves this model itself; there is nothing to pay or refund."
	return restjson.WriteJSON(w, http.StatusOK, struct {
		ModelID string  `json:"modelId"`
		Offers  []offer `json:"offers"`
	}{m.ID, []offer{o}})
}

func (h *Handler) createAgreement(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:CreateFoundationModelAgreement", "*"); err != nil {
		return err
	}
	var in struct {
		OfferToken string `json:"offerToken"`
		ModelID    string `json:"modelId"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.OfferToken == "" {
		return fault.New(fault.Invalid, "1 validation error detected: Value null at 'offerToken' failed to satisfy constraint: Member must not be null")
	}
	m, err := h.model(in.ModelID)
	if err != nil {
		return err
	}
	if in.OfferToken != offerToken(m.ID) {
		return fault.New(fault.Invalid, "The offer token is not valid for the specified model. Get one with ListFoundationModelAgreementOffers.")
	}
	if err := h.opts.Access.SetModelAccess(r.Context(), m.ID, true); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, struct {
		ModelID string `json:"modelId"`
	}{m.ID})
}

func (h *Handler) deleteAgreement(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:DeleteFoundationModelAgreement", "*"); err != nil {
		return err
	}
	var in struct {
		ModelID string `json:"modelId"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	m, err := h.model(in.ModelID)
	if err != nil {
		return err
	}
	if err := h.opts.Access.SetModelAccess(r.Context(), m.ID, false); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, struct{}{})
}

func (h *Handler) putUseCase(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:PutUseCaseForModelAccess", "*"); err != nil {
		return err
	}
	var in struct {
		FormData []byte `json:"formData"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if n := len(in.FormData); n < 10 || n > 16384 {
		return fault.Newf(fault.Invalid, "1 validation error detected: Value at 'formData' failed to satisfy constraint: Member must have length between 10 and 16384")
	}
	if err := h.opts.Access.PutUseCase(r.Context(), in.FormData); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusCreated, struct{}{})
}

func (h *Handler) getUseCase(w http.ResponseWriter, r *http.Request) error {
	if err := h.authorize(r, "bedrock:GetUseCaseForModelAccess", "*"); err != nil {
		return err
	}
	form, err := h.opts.Access.UseCase(r.Context())
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		FormData []byte `json:"formData"`
	}{form})
}

func decodeBody(r *http.Request, v any) error {
	body, err := restjson.ReadBody(r)
	if err != nil {
		return err
	}
	return restjson.Decode(body, v)
}
