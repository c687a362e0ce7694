package kb

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
)

// DocumentInput is one document given to IngestDocuments: inline text or
// bytes, or an object in a bucket (S3URI). Attrs are inline attributes;
// MetaS3URI names a metadata file in a bucket instead.
type DocumentInput struct {
	ID        string // custom identifier, or the S3 URI for S3 documents
	Type      string // CUSTOM or S3
	Text      string
	Bytes     []byte
	MimeType  string
	S3URI     string
	Attrs     map[string]any
	MetaS3URI string
}

// ParseS3URI splits s3://bucket/key.
func ParseS3URI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	bucket, key, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || bucket == "" || key == "" {
		return "", "", invalidf("%s is not an S3 object URI (s3://bucket/key).", uri)
	}
	return bucket, key, nil
}

func (s *Service) readS3(ctx context.Context, uri string) ([]byte, error) {
	bucket, key, err := ParseS3URI(uri)
	if err != nil {
		return nil, err
	}
	b, err := s.opts.OpenBucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.ReadAll(ctx, key)
}

// IngestDocuments indexes documents directly into a data source, at once:
// each comes back INDEXED or FAILED with a reason.
func (s *Service) IngestDocuments(ctx context.Context, kbID, dsID string, in []DocumentInput) ([]Document, error) {
	kb, err := s.opts.Store.KnowledgeBase(ctx, kbID)
	if err != nil {
		return nil, err
	}
	ds, err := s.opts.Store.DataSource(ctx, kbID, dsID)
	if err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(in))
	for _, d := range in {
		if d.Type != ds.Type {
			return nil, invalidf("The data source %s is of type %s; its documents must be %s documents, not %s.", dsID, ds.Type, ds.Type, d.Type)
		}
	}
	for _, d := range in {
		doc := Document{KBID: kbID, DSID: dsID, ID: d.ID, Type: d.Type, Updated: s.opts.Now().UTC()}
		chunks, err := s.ingestOne(ctx, &kb, &ds, d, &doc)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if fault.KindOf(err) == fault.Invalid && strings.Contains(err.Error(), "not an S3") {
				return nil, err
			}
			doc.Status, doc.Reason = DocFailed, err.Error()
			if err := s.opts.Store.ReplaceDocument(ctx, doc, nil, false, nil); err != nil {
				return nil, err
			}
		} else {
			doc.Status = DocIndexed
			if err := s.opts.Store.ReplaceDocument(ctx, doc, chunks, true, nil); err != nil {
				return nil, err
			}
			s.refreshDoc(ctx, kbID, dsID, d.ID)
		}
		out = append(out, doc)
	}
	return out, nil
}

func (s *Service) ingestOne(ctx context.Context, kb *KnowledgeBase, ds *DataSource, d DocumentInput, doc *Document) ([]Chunk, error) {
	data, name := []byte(d.Text), d.ID
	if d.Text != "" {
		name = ".txt"
	}
	switch {
	case d.S3URI != "":
		var err error
		if data, err = s.readS3(ctx, d.S3URI); err != nil {
			return nil, fmt.Errorf("read %s: %w", d.S3URI, err)
		}
		name = path.Base(d.S3URI)
	case d.Bytes != nil:
		data, name = d.Bytes, ""
	}
	attrs := d.Attrs
	var metaRaw []byte
	if d.MetaS3URI != "" {
		var err error
		if metaRaw, err = s.readS3(ctx, d.MetaS3URI); err != nil {
			return nil, fmt.Errorf("read %s: %w", d.MetaS3URI, err)
		}
		if attrs, err = ParseMetadata(metaRaw); err != nil {
			return nil, err
		}
	} else if attrs != nil {
		metaRaw = MarshalMeta(attrs)
	}
	doc.Hash, doc.MetaHash = hashOf(data), hashOf(metaRaw)
	return s.chunkDocument(ctx, kb, ds, d.ID, name, d.MimeType, data, attrs, doc.Hash)
}

// DeleteDocuments removes documents from the index. Unknown ones are
// reported NOT_FOUND.
func (s *Service) DeleteDocuments(ctx context.Context, kbID, dsID string, ids []string) ([]Document, error) {
	if _, err := s.DataSource(ctx, kbID, dsID); err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(ids))
	for _, id := range ids {
		d, err := s.opts.Store.Document(ctx, kbID, dsID, id)
		if fault.KindOf(err) == fault.NotFound {
			out = append(out, Document{KBID: kbID, DSID: dsID, ID: id, Status: DocNotFound})
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.opts.Store.DeleteDocument(ctx, kbID, dsID, id, nil); err != nil {
			return nil, err
		}
		s.refreshDoc(ctx, kbID, dsID, id)
		d.Status, d.Updated = DocDeleting, s.opts.Now().UTC()
		out = append(out, d)
	}
	return out, nil
}

// GetDocuments returns the status of documents; unknown ones NOT_FOUND.
func (s *Service) GetDocuments(ctx context.Context, kbID, dsID string, ids []string) ([]Document, error) {
	if _, err := s.DataSource(ctx, kbID, dsID); err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(ids))
	for _, id := range ids {
		d, err := s.opts.Store.Document(ctx, kbID, dsID, id)
		if fault.KindOf(err) == fault.NotFound {
			d, err = Document{KBID: kbID, DSID: dsID, ID: id, Status: DocNotFound}, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ListDocuments lists a data source's documents by identifier.
func (s *Service) ListDocuments(ctx context.Context, kbID, dsID string) ([]Document, error) {
	if _, err := s.DataSource(ctx, kbID, dsID); err != nil {
		return nil, err
	}
	return s.opts.Store.Documents(ctx, kbID, dsID)
}
