package agentapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// kbRoutes are the knowledge-base operations.
func (h *Handler) kbRoutes(m map[string]func(http.ResponseWriter, *http.Request) error) {
	m["CreateKnowledgeBase"] = h.createKB
	m["GetKnowledgeBase"] = h.getKB
	m["ListKnowledgeBases"] = h.listKBs
	m["UpdateKnowledgeBase"] = h.updateKB
	m["DeleteKnowledgeBase"] = h.deleteKB
	m["CreateDataSource"] = h.createDS
	m["GetDataSource"] = h.getDS
	m["ListDataSources"] = h.listDSs
	m["UpdateDataSource"] = h.updateDS
	m["DeleteDataSource"] = h.deleteDS
	m["StartIngestionJob"] = h.startJob
	m["GetIngestionJob"] = h.getJob
	m["ListIngestionJobs"] = h.listJobs
	m["StopIngestionJob"] = h.stopJob
	m["IngestKnowledgeBaseDocuments"] = h.ingestDocs
	m["DeleteKnowledgeBaseDocuments"] = h.deleteDocs
	m["GetKnowledgeBaseDocuments"] = h.getDocs
	m["ListKnowledgeBaseDocuments"] = h.listDocs
}

// authorize checks the operation's action on a knowledge base ("" for
// operations on no particular one).
func (h *Handler) authorize(r *http.Request, op, kbID string) error {
	res := "*"
	if kbID != "" {
		res = h.opts.KB.KnowledgeBaseARN(kbID)
	}
	return h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:"+op, res, nil)
}

// decode authorizes op on the path's knowledge base and decodes the body.
func (h *Handler) decode(r *http.Request, op string, v any) (kbID string, err error) {
	kbID = r.PathValue("knowledgeBaseId")
	if kbID != "" && !validID(kbID) {
		return "", validationf("Value '%s' at 'knowledgeBaseId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z]{10}", kbID)
	}
	for _, p := range []string{"dataSourceId", "ingestionJobId"} {
		if id := r.PathValue(p); id != "" && !validID(id) {
			return "", validationf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z]{10}", id, p)
		}
	}
	if err := h.authorize(r, op, kbID); err != nil {
		return "", err
	}
	if v == nil {
		return kbID, nil
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return "", err
	}
	return kbID, restjson.Decode(body, v)
}

func validID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func required(name string, ok bool) error {
	if !ok {
		return validationf("Value null at '%s' failed to satisfy constraint: Member must not be null", name)
	}
	return nil
}

// page cuts items by maxResults and an opaque nextToken (an offset).
func page[T any](items []T, maxResults int, token string) ([]T, *string, error) {
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, nil, validationf("The nextToken is not valid.")
		}
		start = n
	}
	if maxResults <= 0 {
		maxResults = 1000
	}
	end := min(start+maxResults, len(items))
	var next *string
	if end < len(items) {
		t := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		next = &t
	}
	return items[start:end], next, nil
}

// Wire shapes.

type kbConfig struct {
	Type   string `json:"type"`
	Vector *struct {
		EmbeddingModelArn           string `json:"embeddingModelArn"`
		EmbeddingModelConfiguration *struct {
			Bedrock *struct {
				Dimensions int `json:"dimensions,omitempty"`
			} `json:"bedrockEmbeddingModelConfiguration,omitempty"`
		} `json:"embeddingModelConfiguration,omitempty"`
	} `json:"vectorKnowledgeBaseConfiguration,omitempty"`
}

type kbInput struct {
	ClientToken   string            `json:"clientToken"`
	Name          *string           `json:"name"`
	Description   string            `json:"description"`
	RoleArn       *string           `json:"roleArn"`
	Config        json.RawMessage   `json:"knowledgeBaseConfiguration"`
	Storage       json.RawMessage   `json:"storageConfiguration"`
	Tags          map[string]string `json:"tags"`
	MaxResults    int               `json:"maxResults"`
	NextToken     string            `json:"nextToken"`
	DataSourceCfg json.RawMessage   `json:"dataSourceConfiguration"`
}

func (in *kbInput) toKB() (kb.KnowledgeBase, error) {
	if err := required("name", in.Name != nil); err != nil {
		return kb.KnowledgeBase{}, err
	}
	if err := required("roleArn", in.RoleArn != nil); err != nil {
		return kb.KnowledgeBase{}, err
	}
	if err := required("knowledgeBaseConfiguration", len(in.Config) > 0 && string(in.Config) != "null"); err != nil {
		return kb.KnowledgeBase{}, err
	}
	if len(in.Description) > 200 {
		return kb.KnowledgeBase{}, validationf("Value '%s' at 'description' failed to satisfy constraint: Member must have length less than or equal to 200", in.Description)
	}
	var c kbConfig
	if err := json.Unmarshal(in.Config, &c); err != nil {
		return kb.KnowledgeBase{}, validationf("knowledgeBaseConfiguration is not valid: %v", err)
	}
	if c.Type != "VECTOR" {
		return kb.KnowledgeBase{}, fault.Newf(fault.Invalid, "Outcrop supports knowledge bases of type VECTOR, not %q.", c.Type)
	}
	if c.Vector == nil || c.Vector.EmbeddingModelArn == "" {
		return kb.KnowledgeBase{}, validationf("Value null at 'knowledgeBaseConfiguration.vectorKnowledgeBaseConfiguration.embeddingModelArn' failed to satisfy constraint: Member must not be null")
	}
	k := kb.KnowledgeBase{Name: *in.Name, Description: in.Description, RoleARN: *in.RoleArn,
		EmbeddingModelARN: c.Vector.EmbeddingModelArn, Config: in.Config, Storage: in.Storage}
	if e := c.Vector.EmbeddingModelConfiguration; e != nil && e.Bedrock != nil {
		k.Dimensions = e.Bedrock.Dimensions
	}
	return k, nil
}

type kbOut struct {
	KnowledgeBaseID  string          `json:"knowledgeBaseId"`
	Name             string          `json:"name"`
	KnowledgeBaseArn string          `json:"knowledgeBaseArn"`
	Description      string          `json:"description,omitempty"`
	RoleArn          string          `json:"roleArn"`
	Config           json.RawMessage `json:"knowledgeBaseConfiguration"`
	Storage          json.RawMessage `json:"storageConfiguration,omitempty"`
	Status           string          `json:"status"`
	CreatedAt        time.Time       `json:"createdAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
	FailureReasons   []string        `json:"failureReasons,omitempty"`
}

func (h *Handler) kbOut(k kb.KnowledgeBase) kbOut {
	return kbOut{k.ID, k.Name, h.opts.KB.KnowledgeBaseARN(k.ID), k.Description, k.RoleARN, k.Config, k.Storage,
		k.Status, k.Created, k.Updated, k.FailureReasons}
}

func (h *Handler) createKB(w http.ResponseWriter, r *http.Request) error {
	var in kbInput
	if _, err := h.decode(r, "CreateKnowledgeBase", &in); err != nil {
		return err
	}
	k, err := in.toKB()
	if err != nil {
		return err
	}
	k, err = h.opts.KB.CreateKnowledgeBase(r.Context(), k)
	if err != nil {
		return err
	}
	if len(in.Tags) > 0 {
		if err := h.opts.Tags.TagResource(r.Context(), h.opts.KB.KnowledgeBaseARN(k.ID), in.Tags, nil); err != nil {
			return err
		}
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBase": h.kbOut(k)})
}

func (h *Handler) getKB(w http.ResponseWriter, r *http.Request) error {
	id, err := h.decode(r, "GetKnowledgeBase", nil)
	if err != nil {
		return err
	}
	k, err := h.opts.KB.KnowledgeBase(r.Context(), id)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"knowledgeBase": h.kbOut(k)})
}

type kbSummary struct {
	KnowledgeBaseID string    `json:"knowledgeBaseId"`
	Name            string    `json:"name"`
	Description     string    `json:"description,omitempty"`
	Status          string    `json:"status"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

func (h *Handler) listKBs(w http.ResponseWriter, r *http.Request) error {
	var in kbInput
	if _, err := h.decode(r, "ListKnowledgeBases", &in); err != nil {
		return err
	}
	all, err := h.opts.KB.KnowledgeBases(r.Context())
	if err != nil {
		return err
	}
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	out := make([]kbSummary, 0, len(items))
	for _, k := range items {
		out = append(out, kbSummary{k.ID, k.Name, k.Description, k.Status, k.Updated})
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"knowledgeBaseSummaries": out, "nextToken": next})
}

func (h *Handler) updateKB(w http.ResponseWriter, r *http.Request) error {
	var in kbInput
	id, err := h.decode(r, "UpdateKnowledgeBase", &in)
	if err != nil {
		return err
	}
	k, err := in.toKB()
	if err != nil {
		return err
	}
	k.ID = id
	if k, err = h.opts.KB.UpdateKnowledgeBase(r.Context(), k); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBase": h.kbOut(k)})
}

func (h *Handler) deleteKB(w http.ResponseWriter, r *http.Request) error {
	id, err := h.decode(r, "DeleteKnowledgeBase", nil)
	if err != nil {
		return err
	}
	k, err := h.opts.KB.DeleteKnowledgeBase(r.Context(), id)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBaseId": k.ID, "status": k.Status})
}

// Ingestion jobs.

type jobOut struct {
	KnowledgeBaseID string    `json:"knowledgeBaseId"`
	DataSourceID    string    `json:"dataSourceId"`
	IngestionJobID  string    `json:"ingestionJobId"`
	Description     string    `json:"description,omitempty"`
	Status          string    `json:"status"`
	Statistics      kb.Stats  `json:"statistics"`
	FailureReasons  []string  `json:"failureReasons,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

func toJobOut(j kb.IngestionJob) jobOut {
	return jobOut{j.KBID, j.DSID, j.ID, j.Description, j.Status, j.Stats, j.FailureReasons, j.Started, j.Updated}
}

func (h *Handler) startJob(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ClientToken string `json:"clientToken"`
		Description string `json:"description"`
	}
	kbID, err := h.decode(r, "StartIngestionJob", &in)
	if err != nil {
		return err
	}
	j, err := h.opts.KB.StartIngestionJob(r.Context(), kbID, r.PathValue("dataSourceId"), in.Description)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"ingestionJob": toJobOut(j)})
}

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request) error {
	kbID, err := h.decode(r, "GetIngestionJob", nil)
	if err != nil {
		return err
	}
	j, err := h.opts.KB.IngestionJob(r.Context(), kbID, r.PathValue("dataSourceId"), r.PathValue("ingestionJobId"))
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"ingestionJob": toJobOut(j)})
}

func (h *Handler) stopJob(w http.ResponseWriter, r *http.Request) error {
	kbID, err := h.decode(r, "StopIngestionJob", nil)
	if err != nil {
		return err
	}
	j, err := h.opts.KB.StopIngestionJob(r.Context(), kbID, r.PathValue("dataSourceId"), r.PathValue("ingestionJobId"))
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"ingestionJob": toJobOut(j)})
}

func (h *Handler) listJobs(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Filters []struct {
			Attribute string   `json:"attribute"`
			Operator  string   `json:"operator"`
			Values    []string `json:"values"`
		} `json:"filters"`
		SortBy *struct {
			Attribute string `json:"attribute"`
			Order     string `json:"order"`
		} `json:"sortBy"`
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	kbID, err := h.decode(r, "ListIngestionJobs", &in)
	if err != nil {
		return err
	}
	all, err := h.opts.KB.IngestionJobs(r.Context(), kbID, r.PathValue("dataSourceId"))
	if err != nil {
		return err
	}
	for _, f := range in.Filters {
		kept := all[:0]
		for _, j := range all {
			for _, v := range f.Values {
				if j.Status == v {
					kept = append(kept, j)
					break
				}
			}
		}
		all = kept
	}
	if in.SortBy != nil {
		less := func(a, b kb.IngestionJob) bool { return a.Started.Before(b.Started) }
		if in.SortBy.Attribute == "STATUS" {
			less = func(a, b kb.IngestionJob) bool { return a.Status < b.Status }
		}
		sortJobs(all, less, in.SortBy.Order == "DESCENDING")
	}
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	out := make([]jobOut, 0, len(items))
	for _, j := range items {
		out = append(out, toJobOut(j))
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"ingestionJobSummaries": out, "nextToken": next})
}

func sortJobs(js []kb.IngestionJob, less func(a, b kb.IngestionJob) bool, desc bool) {
	for i := 1; i < len(js); i++ {
		for k := i; k > 0; k-- {
			a, b := js[k-1], js[k]
			if desc {
				a, b = b, a
			}
			if !less(b, a) {
				break
			}
			js[k-1], js[k] = js[k], js[k-1]
		}
	}
}

// Documents.

type docIdentifier struct {
	DataSourceType string `json:"dataSourceType"`
	S3             *struct {
		URI string `json:"uri"`
	} `json:"s3,omitempty"`
	Custom *struct {
		ID string `json:"id"`
	} `json:"custom,omitempty"`
}

func (d docIdentifier) id() (string, error) {
	switch {
	case d.DataSourceType == kb.TypeS3 && d.S3 != nil && d.S3.URI != "":
		return d.S3.URI, nil
	case d.DataSourceType == kb.TypeCustom && d.Custom != nil && d.Custom.ID != "":
		return d.Custom.ID, nil
	}
	return "", validationf("A document identifier needs dataSourceType with s3.uri (S3) or custom.id (CUSTOM).")
}

func identifierOf(d kb.Document) docIdentifier {
	var out docIdentifier
	out.DataSourceType = d.Type
	if d.Type == kb.TypeS3 || strings.HasPrefix(d.ID, "s3://") && d.Type == "" {
		out.DataSourceType = kb.TypeS3
		out.S3 = &struct {
			URI string `json:"uri"`
		}{d.ID}
	} else {
		out.DataSourceType = kb.TypeCustom
		out.Custom = &struct {
			ID string `json:"id"`
		}{d.ID}
	}
	return out
}

type docDetail struct {
	KnowledgeBaseID string        `json:"knowledgeBaseId"`
	DataSourceID    string        `json:"dataSourceId"`
	Status          string        `json:"status"`
	Identifier      docIdentifier `json:"identifier"`
	StatusReason    string        `json:"statusReason,omitempty"`
	UpdatedAt       *time.Time    `json:"updatedAt,omitempty"`
}

func toDetails(docs []kb.Document, dsType string) []docDetail {
	out := make([]docDetail, 0, len(docs))
	for _, d := range docs {
		if d.Type == "" {
			d.Type = dsType
		}
		dd := docDetail{KnowledgeBaseID: d.KBID, DataSourceID: d.DSID, Status: d.Status, Identifier: identifierOf(d), StatusReason: d.Reason}
		if !d.Updated.IsZero() {
			t := d.Updated
			dd.UpdatedAt = &t
		}
		out = append(out, dd)
	}
	return out
}

type s3Loc struct {
	URI string `json:"uri"`
}

func (h *Handler) ingestDocs(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ClientToken string `json:"clientToken"`
		Documents   []struct {
			Metadata *struct {
				Type             string `json:"type"`
				InlineAttributes []struct {
					Key   string        `json:"key"`
					Value kb.TypedValue `json:"value"`
				} `json:"inlineAttributes"`
				S3Location *s3Loc `json:"s3Location"`
			} `json:"metadata"`
			Content struct {
				DataSourceType string `json:"dataSourceType"`
				Custom         *struct {
					Identifier struct {
						ID string `json:"id"`
					} `json:"customDocumentIdentifier"`
					SourceType    string `json:"sourceType"`
					S3Location    *s3Loc `json:"s3Location"`
					InlineContent *struct {
						Type string `json:"type"`
						Byte *struct {
							MimeType string `json:"mimeType"`
							Data     []byte `json:"data"`
						} `json:"byteContent"`
						Text *struct {
							Data string `json:"data"`
						} `json:"textContent"`
					} `json:"inlineContent"`
				} `json:"custom"`
				S3 *struct {
					S3Location s3Loc `json:"s3Location"`
				} `json:"s3"`
			} `json:"content"`
		} `json:"documents"`
	}
	kbID, err := h.decode(r, "IngestKnowledgeBaseDocuments", &in)
	if err != nil {
		return err
	}
	if len(in.Documents) == 0 || len(in.Documents) > 25 {
		return validationf("Value at 'documents' failed to satisfy constraint: Member must have length between 1 and 25")
	}
	docs := make([]kb.DocumentInput, 0, len(in.Documents))
	for _, d := range in.Documents {
		var di kb.DocumentInput
		switch c := d.Content; {
		case c.DataSourceType == kb.TypeCustom && c.Custom != nil:
			di.Type, di.ID = kb.TypeCustom, c.Custom.Identifier.ID
			switch {
			case c.Custom.SourceType == "IN_LINE" && c.Custom.InlineContent != nil && c.Custom.InlineContent.Text != nil:
				di.Text = c.Custom.InlineContent.Text.Data
			case c.Custom.SourceType == "IN_LINE" && c.Custom.InlineContent != nil && c.Custom.InlineContent.Byte != nil:
				di.Bytes, di.MimeType = c.Custom.InlineContent.Byte.Data, c.Custom.InlineContent.Byte.MimeType
			case c.Custom.SourceType == "S3_LOCATION" && c.Custom.S3Location != nil:
				di.S3URI = c.Custom.S3Location.URI
			default:
				return validationf("Custom document %s needs inlineContent (IN_LINE) or s3Location (S3_LOCATION).", di.ID)
			}
			if di.ID == "" {
				return validationf("Value null at 'customDocumentIdentifier.id' failed to satisfy constraint: Member must not be null")
			}
		case c.DataSourceType == kb.TypeS3 && c.S3 != nil:
			di.Type, di.ID, di.S3URI = kb.TypeS3, c.S3.S3Location.URI, c.S3.S3Location.URI
		default:
			return validationf("Each document's content needs dataSourceType CUSTOM with custom, or S3 with s3.")
		}
		if m := d.Metadata; m != nil {
			switch {
			case m.Type == "IN_LINE_ATTRIBUTE":
				di.Attrs = map[string]any{}
				for _, a := range m.InlineAttributes {
					v, err := a.Value.Any()
					if err != nil {
						return validationf("Metadata attribute %s: %v", a.Key, err)
					}
					di.Attrs[a.Key] = v
				}
			case m.Type == "S3_LOCATION" && m.S3Location != nil:
				di.MetaS3URI = m.S3Location.URI
			}
		}
		docs = append(docs, di)
	}
	ds, err := h.opts.KB.DataSource(r.Context(), kbID, r.PathValue("dataSourceId"))
	if err != nil {
		return err
	}
	out, err := h.opts.KB.IngestDocuments(r.Context(), kbID, ds.ID, docs)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"documentDetails": toDetails(out, ds.Type)})
}

func (h *Handler) docIDs(r *http.Request, op string) (string, []string, error) {
	var in struct {
		ClientToken string          `json:"clientToken"`
		IDs         []docIdentifier `json:"documentIdentifiers"`
	}
	kbID, err := h.decode(r, op, &in)
	if err != nil {
		return "", nil, err
	}
	if len(in.IDs) == 0 {
		return "", nil, validationf("Value at 'documentIdentifiers' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	ids := make([]string, 0, len(in.IDs))
	for _, d := range in.IDs {
		id, err := d.id()
		if err != nil {
			return "", nil, err
		}
		ids = append(ids, id)
	}
	return kbID, ids, nil
}

func (h *Handler) deleteDocs(w http.ResponseWriter, r *http.Request) error {
	kbID, ids, err := h.docIDs(r, "DeleteKnowledgeBaseDocuments")
	if err != nil {
		return err
	}
	out, err := h.opts.KB.DeleteDocuments(r.Context(), kbID, r.PathValue("dataSourceId"), ids)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"documentDetails": toDetails(out, "")})
}

func (h *Handler) getDocs(w http.ResponseWriter, r *http.Request) error {
	kbID, ids, err := h.docIDs(r, "GetKnowledgeBaseDocuments")
	if err != nil {
		return err
	}
	out, err := h.opts.KB.GetDocuments(r.Context(), kbID, r.PathValue("dataSourceId"), ids)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"documentDetails": toDetails(out, "")})
}

func (h *Handler) listDocs(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	kbID, err := h.decode(r, "ListKnowledgeBaseDocuments", &in)
	if err != nil {
		return err
	}
	all, err := h.opts.KB.ListDocuments(r.Context(), kbID, r.PathValue("dataSourceId"))
	if err != nil {
		return err
	}
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"documentDetails": toDetails(items, ""), "nextToken": next})
}
