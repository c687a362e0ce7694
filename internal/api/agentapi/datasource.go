package agentapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/kb"
)

// Data sources: Create/Get/List/Update/DeleteDataSource and their
// vectorIngestionConfiguration.

type dsInput struct {
	ClientToken     string          `json:"clientToken"`
	Name            *string         `json:"name"`
	Description     string          `json:"description"`
	Config          json.RawMessage `json:"dataSourceConfiguration"`
	DeletionPolicy  string          `json:"dataDeletionPolicy"`
	Encryption      json.RawMessage `json:"serverSideEncryptionConfiguration"`
	VectorIngestion json.RawMessage `json:"vectorIngestionConfiguration"`
	MaxResults      int             `json:"maxResults"`
	NextToken       string          `json:"nextToken"`
}

func (in *dsInput) toDS(kbID string) (kb.DataSource, error) {
	if err := required("name", in.Name != nil); err != nil {
		return kb.DataSource{}, err
	}
	if err := required("dataSourceConfiguration", len(in.Config) > 0 && string(in.Config) != "null"); err != nil {
		return kb.DataSource{}, err
	}
	var c struct {
		Type string `json:"type"`
		S3   *struct {
			BucketArn         string   `json:"bucketArn"`
			InclusionPrefixes []string `json:"inclusionPrefixes"`
		} `json:"s3Configuration"`
	}
	if err := json.Unmarshal(in.Config, &c); err != nil {
		return kb.DataSource{}, validationf("dataSourceConfiguration is not valid: %v", err)
	}
	ds := kb.DataSource{KBID: kbID, Name: *in.Name, Description: in.Description, Type: c.Type, DeletionPolicy: in.DeletionPolicy,
		Config: in.Config, VectorIngestion: in.VectorIngestion, Encryption: in.Encryption}
	if c.Type == kb.TypeS3 {
		if c.S3 == nil {
			return ds, validationf("Value null at 'dataSourceConfiguration.s3Configuration' failed to satisfy constraint: Member must not be null")
		}
		bucket, ok := strings.CutPrefix(c.S3.BucketArn, "arn:aws:s3:::")
		if !ok || bucket == "" || strings.Contains(bucket, "/") {
			return ds, validationf("Value '%s' at 'dataSourceConfiguration.s3Configuration.bucketArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws(|-cn|-us-gov):s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", c.S3.BucketArn)
		}
		ds.Bucket, ds.Prefixes = bucket, c.S3.InclusionPrefixes
	}
	if len(in.VectorIngestion) > 0 {
		var v struct {
			Chunking *chunkingConfig `json:"chunkingConfiguration"`
		}
		if err := json.Unmarshal(in.VectorIngestion, &v); err != nil {
			return ds, validationf("vectorIngestionConfiguration is not valid: %v", err)
		}
		if v.Chunking != nil {
			c, err := v.Chunking.toChunking()
			if err != nil {
				return ds, err
			}
			ds.Chunking = c
		}
	}
	return ds, nil
}

// chunkingConfig is ChunkingConfiguration.
type chunkingConfig struct {
	Strategy string `json:"chunkingStrategy"`
	Fixed    *struct {
		MaxTokens *int `json:"maxTokens"`
		Overlap   *int `json:"overlapPercentage"`
	} `json:"fixedSizeChunkingConfiguration"`
	Hierarchical *struct {
		Levels []struct {
			MaxTokens *int `json:"maxTokens"`
		} `json:"levelConfigurations"`
		OverlapTokens *int `json:"overlapTokens"`
	} `json:"hierarchicalChunkingConfiguration"`
	Semantic *struct {
		MaxTokens  *int `json:"maxTokens"`
		BufferSize *int `json:"bufferSize"`
		Breakpoint *int `json:"breakpointPercentileThreshold"`
	} `json:"semanticChunkingConfiguration"`
}

const chunkingPath = "vectorIngestionConfiguration.chunkingConfiguration"

// toChunking checks that the strategy comes with its configuration, and
// only its own, with every required member; kb checks the values.
func (c *chunkingConfig) toChunking() (kb.Chunking, error) {
	out := kb.Chunking{Strategy: c.Strategy}
	given := map[string]bool{kb.ChunkFixedSize: c.Fixed != nil, kb.ChunkHierarchical: c.Hierarchical != nil, kb.ChunkSemantic: c.Semantic != nil}
	member := map[string]string{kb.ChunkFixedSize: "fixedSizeChunkingConfiguration", kb.ChunkHierarchical: "hierarchicalChunkingConfiguration", kb.ChunkSemantic: "semanticChunkingConfiguration"}
	if c.Strategy == "" {
		return out, validationf("Value null at '%s.chunkingStrategy' failed to satisfy constraint: Member must not be null", chunkingPath)
	}
	for s, ok := range given {
		if ok && s != c.Strategy {
			return out, validationf("Chunking strategy %s does not take %s.", c.Strategy, member[s])
		}
	}
	if m, ok := member[c.Strategy]; ok && !given[c.Strategy] {
		return out, validationf("Chunking strategy %s needs %s.", c.Strategy, m)
	}
	need := func(name string, v *int) (int, error) {
		if v == nil {
			return 0, validationf("Value null at '%s.%s' failed to satisfy constraint: Member must not be null", chunkingPath, name)
		}
		return *v, nil
	}
	var err error
	switch c.Strategy {
	case kb.ChunkFixedSize:
		if out.MaxTokens, err = need("fixedSizeChunkingConfiguration.maxTokens", c.Fixed.MaxTokens); err != nil {
			return out, err
		}
		out.Overlap, err = need("fixedSizeChunkingConfiguration.overlapPercentage", c.Fixed.Overlap)
	case kb.ChunkHierarchical:
		h := c.Hierarchical
		if len(h.Levels) != 2 {
			return out, validationf("Value at '%s.hierarchicalChunkingConfiguration.levelConfigurations' failed to satisfy constraint: Member must have length less than or equal to 2 and greater than or equal to 2", chunkingPath)
		}
		if out.ParentMaxTokens, err = need("hierarchicalChunkingConfiguration.levelConfigurations.1.member.maxTokens", h.Levels[0].MaxTokens); err != nil {
			return out, err
		}
		if out.ChildMaxTokens, err = need("hierarchicalChunkingConfiguration.levelConfigurations.2.member.maxTokens", h.Levels[1].MaxTokens); err != nil {
			return out, err
		}
		out.OverlapTokens, err = need("hierarchicalChunkingConfiguration.overlapTokens", h.OverlapTokens)
	case kb.ChunkSemantic:
		sc := c.Semantic
		if out.MaxTokens, err = need("semanticChunkingConfiguration.maxTokens", sc.MaxTokens); err != nil {
			return out, err
		}
		if out.BufferSize, err = need("semanticChunkingConfiguration.bufferSize", sc.BufferSize); err != nil {
			return out, err
		}
		out.BreakpointPercentile, err = need("semanticChunkingConfiguration.breakpointPercentileThreshold", sc.Breakpoint)
	}
	return out, err
}

type dsOut struct {
	KnowledgeBaseID string          `json:"knowledgeBaseId"`
	DataSourceID    string          `json:"dataSourceId"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	Description     string          `json:"description,omitempty"`
	Config          json.RawMessage `json:"dataSourceConfiguration"`
	Encryption      json.RawMessage `json:"serverSideEncryptionConfiguration,omitempty"`
	VectorIngestion json.RawMessage `json:"vectorIngestionConfiguration,omitempty"`
	DeletionPolicy  string          `json:"dataDeletionPolicy,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	FailureReasons  []string        `json:"failureReasons,omitempty"`
}

func toDSOut(d kb.DataSource) dsOut {
	return dsOut{d.KBID, d.ID, d.Name, d.Status, d.Description, d.Config, d.Encryption, d.VectorIngestion, d.DeletionPolicy, d.Created, d.Updated, d.FailureReasons}
}

func (h *Handler) createDS(w http.ResponseWriter, r *http.Request) error {
	var in dsInput
	kbID, err := h.decode(r, "CreateDataSource", &in)
	if err != nil {
		return err
	}
	ds, err := in.toDS(kbID)
	if err != nil {
		return err
	}
	if ds, err = h.opts.KB.CreateDataSource(r.Context(), ds); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"dataSource": toDSOut(ds)})
}

func (h *Handler) getDS(w http.ResponseWriter, r *http.Request) error {
	kbID, err := h.decode(r, "GetDataSource", nil)
	if err != nil {
		return err
	}
	ds, err := h.opts.KB.DataSource(r.Context(), kbID, r.PathValue("dataSourceId"))
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"dataSource": toDSOut(ds)})
}

func (h *Handler) listDSs(w http.ResponseWriter, r *http.Request) error {
	var in dsInput
	kbID, err := h.decode(r, "ListDataSources", &in)
	if err != nil {
		return err
	}
	all, err := h.opts.KB.DataSources(r.Context(), kbID)
	if err != nil {
		return err
	}
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	type summary struct {
		KnowledgeBaseID string    `json:"knowledgeBaseId"`
		DataSourceID    string    `json:"dataSourceId"`
		Name            string    `json:"name"`
		Status          string    `json:"status"`
		Description     string    `json:"description,omitempty"`
		UpdatedAt       time.Time `json:"updatedAt"`
	}
	out := make([]summary, 0, len(items))
	for _, d := range items {
		out = append(out, summary{d.KBID, d.ID, d.Name, d.Status, d.Description, d.Updated})
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"dataSourceSummaries": out, "nextToken": next})
}

func (h *Handler) updateDS(w http.ResponseWriter, r *http.Request) error {
	var in dsInput
	kbID, err := h.decode(r, "UpdateDataSource", &in)
	if err != nil {
		return err
	}
	ds, err := in.toDS(kbID)
	if err != nil {
		return err
	}
	ds.ID = r.PathValue("dataSourceId")
	if ds, err = h.opts.KB.UpdateDataSource(r.Context(), ds); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, map[string]any{"dataSource": toDSOut(ds)})
}

func (h *Handler) deleteDS(w http.ResponseWriter, r *http.Request) error {
	kbID, err := h.decode(r, "DeleteDataSource", nil)
	if err != nil {
		return err
	}
	ds, err := h.opts.KB.DeleteDataSource(r.Context(), kbID, r.PathValue("dataSourceId"))
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusAccepted, map[string]any{"knowledgeBaseId": ds.KBID, "dataSourceId": ds.ID, "status": ds.Status})
}
