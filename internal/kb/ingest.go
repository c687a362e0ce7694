package kb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/provider"
)

// Chunk metadata keys that Bedrock adds to every chunk.
const (
	MetaSourceURI    = "x-amz-bedrock-kb-source-uri"
	MetaChunkID      = "x-amz-bedrock-kb-chunk-id"
	MetaDataSourceID = "x-amz-bedrock-kb-data-source-id"
	MetaDocumentID   = "x-amz-bedrock-kb-document-id" // custom documents
)

// Chunk metadata keys Outcrop keeps for itself, which Retrieve removes:
// a HIERARCHICAL child chunk's parent text and the parent's number in
// its document.
const (
	metaParentText = "x-outcrop-kb-parent-text"
	metaParentSeq  = "x-outcrop-kb-parent-seq"
)

// maxFailureReasons bounds the reasons a job keeps.
const maxFailureReasons = 20

func dsKey(kbID, dsID string) string { return kbID + "/" + dsID }

// StartIngestionJob starts syncing a data source. Only one job per data
// source runs at a time (fault.Conflict otherwise).
func (s *Service) StartIngestionJob(ctx context.Context, kbID, dsID, description string) (IngestionJob, error) {
	ds, err := s.DataSource(ctx, kbID, dsID)
	if err != nil {
		return IngestionJob{}, err
	}
	if ds.Type != TypeS3 && ds.Type != TypeWeb {
		return IngestionJob{}, invalidf("Ingestion jobs sync S3 and WEB data sources; add documents to a %s data source with IngestKnowledgeBaseDocuments.", ds.Type)
	}
	s.mu.Lock()
	_, busy := s.running[dsKey(kbID, dsID)]
	s.mu.Unlock()
	if busy {
		return IngestionJob{}, fault.Newf(fault.Conflict, "An ingestion job is already running for data source %s of knowledge base %s.", dsID, kbID)
	}
	now := s.opts.Now().UTC()
	j := IngestionJob{KBID: kbID, DSID: dsID, ID: NewID(), Description: description, Status: JobStarting, Started: now, Updated: now}
	if err := s.opts.Store.PutIngestionJob(ctx, j); err != nil {
		return j, err
	}
	if !s.launch(j) {
		return j, fault.Newf(fault.Conflict, "An ingestion job is already running for data source %s of knowledge base %s.", dsID, kbID)
	}
	return j, nil
}

// runningJob is a job's entry in Service.running.
type runningJob struct{ stop context.CancelFunc }

// launch runs j in the background unless a job of its data source runs.
func (s *Service) launch(j IngestionJob) bool {
	key := dsKey(j.KBID, j.DSID)
	s.mu.Lock()
	if _, busy := s.running[key]; busy {
		s.mu.Unlock()
		return false
	}
	ctx, stop := context.WithCancel(s.ctx)
	rj := &runningJob{stop: stop}
	s.running[key] = rj
	s.wg.Add(1)
	s.mu.Unlock()
	// release frees the data source for its next job. The job calls it
	// before it records its final status, so a caller that sees the job
	// finished can start the next one at once.
	release := func() {
		s.mu.Lock()
		if s.running[key] == rj {
			delete(s.running, key)
		}
		s.mu.Unlock()
	}
	go func() {
		defer s.wg.Done()
		defer stop()
		defer release()
		s.run(ctx, j, release)
	}()
	return true
}

func (s *Service) stopRunning(kbID, dsID string) {
	s.mu.Lock()
	rj := s.running[dsKey(kbID, dsID)]
	s.mu.Unlock()
	if rj != nil {
		rj.stop()
	}
}

// IngestionJob returns one job.
func (s *Service) IngestionJob(ctx context.Context, kbID, dsID, id string) (IngestionJob, error) {
	if _, err := s.DataSource(ctx, kbID, dsID); err != nil {
		return IngestionJob{}, err
	}
	return s.opts.Store.IngestionJob(ctx, kbID, dsID, id)
}

// IngestionJobs lists a data source's jobs by start time.
func (s *Service) IngestionJobs(ctx context.Context, kbID, dsID string) ([]IngestionJob, error) {
	if _, err := s.DataSource(ctx, kbID, dsID); err != nil {
		return nil, err
	}
	return s.opts.Store.IngestionJobs(ctx, kbID, dsID)
}

// StopIngestionJob asks a running job to stop; it reports STOPPING until
// the document in hand is done, then STOPPED.
func (s *Service) StopIngestionJob(ctx context.Context, kbID, dsID, id string) (IngestionJob, error) {
	j, err := s.IngestionJob(ctx, kbID, dsID, id)
	if err != nil {
		return j, err
	}
	if j.Finished() {
		return j, fault.Newf(fault.Conflict, "The ingestion job %s is %s and cannot be stopped.", id, j.Status)
	}
	j.Status = JobStopping
	j.Updated = s.opts.Now().UTC()
	if err := s.opts.Store.PutIngestionJob(ctx, j); err != nil {
		return j, err
	}
	return j, nil
}

// stopRequested reports whether StopIngestionJob was called for j.
func (s *Service) stopRequested(ctx context.Context, j *IngestionJob) bool {
	cur, err := s.opts.Store.IngestionJob(ctx, j.KBID, j.DSID, j.ID)
	return err == nil && cur.Status == JobStopping
}

type object struct {
	key  string
	meta string // key of the .metadata.json sidecar, if any
}

// run executes (or resumes) an ingestion job. Every document it visits is
// written together with the job's statistics and the job's ID (SeenJob), so
// a resumed job skips what it already did and counts nothing twice.
func (s *Service) run(ctx context.Context, j IngestionJob, release func()) {
	log := s.opts.Logger.With("knowledgeBase", j.KBID, "dataSource", j.DSID, "job", j.ID)
	fail := func(err error) {
		if ctx.Err() != nil {
			return // shutting down: resume on next start
		}
		log.Warn("ingestion job failed", "err", err)
		j.Status = JobFailed
		j.FailureReasons = append(j.FailureReasons, err.Error())
		j.Updated = s.opts.Now().UTC()
		release()
		_ = s.opts.Store.PutIngestionJob(context.WithoutCancel(ctx), j)
	}
	if j.Status == JobStopping {
		j.Status, j.Updated = JobStopped, s.opts.Now().UTC()
		release()
		_ = s.opts.Store.PutIngestionJob(ctx, j)
		return
	}
	kb, err := s.opts.Store.KnowledgeBase(ctx, j.KBID)
	if err != nil {
		fail(err)
		return
	}
	ds, err := s.opts.Store.DataSource(ctx, j.KBID, j.DSID)
	if err != nil {
		fail(err)
		return
	}
	j.Status, j.Updated = JobInProgress, s.opts.Now().UTC()
	if err := s.opts.Store.PutIngestionJob(ctx, j); err != nil {
		fail(err)
		return
	}
	var bucket *blob.Bucket
	uriOf := func(key string) string { return "s3://" + ds.Bucket + "/" + key }
	if ds.Type == TypeWeb {
		// The crawl's pages go into an in-memory bucket and are synced
		// like objects, each under its URL.
		cfg, err := ParseWebConfig(ds.Config)
		if err == nil {
			var pages []Page
			if s.opts.Crawler == nil {
				err = errors.New("this server has no web crawler")
			} else if pages, err = s.opts.Crawler.Crawl(ctx, cfg); err == nil {
				bucket, uriOf, err = pageBucket(ctx, pages)
			}
		}
		if err != nil {
			fail(fmt.Errorf("crawl: %w", err))
			return
		}
	} else if bucket, err = s.opts.OpenBucket(ctx, ds.Bucket); err != nil {
		fail(fmt.Errorf("open bucket %s: %w", ds.Bucket, err))
		return
	}
	defer bucket.Close()
	objs, err := listObjects(ctx, bucket, ds.Prefixes)
	if err != nil {
		fail(fmt.Errorf("list bucket %s: %w", ds.Bucket, err))
		return
	}
	docs, err := s.opts.Store.Documents(ctx, j.KBID, j.DSID)
	if err != nil {
		fail(err)
		return
	}
	known := map[string]Document{}
	for _, d := range docs {
		known[d.ID] = d
	}
	present := map[string]bool{}
	for _, o := range objs {
		uri := uriOf(o.key)
		present[uri] = true
		if ctx.Err() != nil {
			return
		}
		if s.stopRequested(ctx, &j) {
			j.Status, j.Updated = JobStopped, s.opts.Now().UTC()
			release()
			_ = s.opts.Store.PutIngestionJob(ctx, j)
			return
		}
		old, exists := known[uri]
		if exists && old.SeenJob == j.ID {
			continue // done before a restart
		}
		if err := s.syncObject(ctx, &kb, &ds, &j, bucket, o, uri, old, exists); err != nil {
			if ctx.Err() != nil {
				return
			}
			fail(err)
			return
		}
	}
	for _, d := range docs {
		if present[d.ID] || d.Type != ds.Type {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		j.Stats.Deleted++
		j.Updated = s.opts.Now().UTC()
		if err := s.opts.Store.DeleteDocument(ctx, j.KBID, j.DSID, d.ID, &j); err != nil {
			fail(err)
			return
		}
		s.refreshDoc(ctx, j.KBID, j.DSID, d.ID)
	}
	if ctx.Err() != nil {
		return
	}
	j.Status, j.Updated = JobComplete, s.opts.Now().UTC()
	release()
	if err := s.opts.Store.PutIngestionJob(ctx, j); err != nil {
		fail(err)
	}
	log.Info("ingestion job complete", "scanned", j.Stats.Scanned, "new", j.Stats.NewIndexed,
		"modified", j.Stats.ModifiedIndexed, "deleted", j.Stats.Deleted, "failed", j.Stats.Failed)
}

// pageBucket puts crawled pages into an in-memory bucket, one object per
// page named by its position and parser extension, and maps the keys back
// to the pages' URLs.
func pageBucket(ctx context.Context, pages []Page) (*blob.Bucket, func(string) string, error) {
	b := memblob.OpenBucket(nil)
	urls := make(map[string]string, len(pages))
	for i, p := range pages {
		key := fmt.Sprintf("page-%06d%s", i, p.Ext)
		if err := b.WriteAll(ctx, key, p.Body, nil); err != nil {
			b.Close()
			return nil, nil, err
		}
		urls[key] = p.URL
	}
	return b, func(key string) string { return urls[key] }, nil
}

// listObjects lists the documents under the prefixes (all when none),
// pairing each with its metadata sidecar.
func listObjects(ctx context.Context, b *blob.Bucket, prefixes []string) ([]object, error) {
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	keys := map[string]bool{}
	for _, p := range prefixes {
		it := b.List(&blob.ListOptions{Prefix: p})
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if !o.IsDir {
				keys[o.Key] = true
			}
		}
	}
	var out []object
	for k := range keys {
		if strings.HasSuffix(k, MetadataSuffix) {
			continue
		}
		o := object{key: k}
		if keys[k+MetadataSuffix] {
			o.meta = k + MetadataSuffix
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// syncObject indexes one bucket object if it is new or changed.
func (s *Service) syncObject(ctx context.Context, kb *KnowledgeBase, ds *DataSource, j *IngestionJob, b *blob.Bucket, o object, uri string, old Document, exists bool) error {
	doc := Document{KBID: kb.ID, DSID: ds.ID, ID: uri, Type: ds.Type, SeenJob: j.ID}
	j.Stats.Scanned++
	var attrs map[string]any
	var docErr error
	data, err := b.ReadAll(ctx, o.key)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		docErr = err
	}
	var metaRaw []byte
	if o.meta != "" && docErr == nil {
		j.Stats.MetadataScanned++
		metaRaw, err = b.ReadAll(ctx, o.meta)
		if err == nil {
			attrs, err = ParseMetadata(metaRaw)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			docErr = err
		}
	}
	doc.Hash, doc.MetaHash = hashOf(data), hashOf(metaRaw)
	now := s.opts.Now().UTC()
	doc.Updated, j.Updated = now, now
	if docErr == nil && exists && old.Status == DocIndexed && old.Hash == doc.Hash {
		doc.Status = DocIndexed
		if old.MetaHash == doc.MetaHash {
			return s.opts.Store.ReplaceDocument(ctx, doc, nil, false, j) // unchanged
		}
		// Only the attributes changed: keep the vectors, rewrite metadata.
		chunks, err := s.opts.Store.DocumentChunks(ctx, kb.ID, ds.ID, uri)
		if err != nil {
			return err
		}
		for i := range chunks {
			m := chunkMeta(attrs, ds, uri, chunks[i].Seq, doc.Hash)
			for _, k := range []string{metaParentText, metaParentSeq} {
				if v, ok := chunks[i].Meta[k]; ok {
					m[k] = v
				}
			}
			chunks[i].Meta = m
		}
		j.Stats.MetadataModified++
		if err := s.opts.Store.ReplaceDocument(ctx, doc, chunks, true, j); err != nil {
			return err
		}
		s.refreshDoc(ctx, kb.ID, ds.ID, uri)
		return nil
	}
	var chunks []Chunk
	if docErr == nil {
		chunks, docErr = s.chunkDocument(ctx, kb, ds, uri, path.Base(o.key), "", data, attrs, doc.Hash)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if docErr != nil {
		j.Stats.Failed++
		if len(j.FailureReasons) < maxFailureReasons {
			j.FailureReasons = append(j.FailureReasons, fmt.Sprintf("%s: %v", uri, docErr))
		}
		doc.Status, doc.Reason = DocFailed, docErr.Error()
		if exists {
			doc.Hash, doc.MetaHash = old.Hash, old.MetaHash // retry next time
		}
		return s.opts.Store.ReplaceDocument(ctx, doc, nil, false, j)
	}
	if exists {
		j.Stats.ModifiedIndexed++
	} else {
		j.Stats.NewIndexed++
	}
	doc.Status = DocIndexed
	if err := s.opts.Store.ReplaceDocument(ctx, doc, chunks, true, j); err != nil {
		return err
	}
	s.refreshDoc(ctx, kb.ID, ds.ID, uri)
	return nil
}

func chunkMeta(attrs map[string]any, ds *DataSource, docID string, seq int, hash string) map[string]any {
	m := make(map[string]any, len(attrs)+3)
	for k, v := range attrs {
		m[k] = v
	}
	if ds.Type == TypeS3 {
		m[MetaSourceURI] = docID
	} else {
		m[MetaDocumentID] = docID
	}
	m[MetaDataSourceID] = ds.ID
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", ds.ID, docID, hash, seq)))
	id := hex.EncodeToString(h[:16])
	m[MetaChunkID] = id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
	return m
}

// chunkDocument parses, chunks and embeds one document.
func (s *Service) chunkDocument(ctx context.Context, kb *KnowledgeBase, ds *DataSource, docID, name, mimeType string, data []byte, attrs map[string]any, hash string) ([]Chunk, error) {
	text, err := Parse(name, mimeType, data)
	if err != nil {
		return nil, err
	}
	pieces, err := Split(ctx, text, ds.Chunking, func(ctx context.Context, texts []string) ([][]float32, error) {
		return s.embed(ctx, kb, texts, "search_document")
	})
	if err != nil {
		return nil, err
	}
	if len(pieces) == 0 {
		return nil, errors.New("the document has no text")
	}
	texts := make([]string, len(pieces))
	for i, p := range pieces {
		texts[i] = p.Text
	}
	vecs, err := s.embed(ctx, kb, texts, "search_document")
	if err != nil {
		return nil, err
	}
	chunks := make([]Chunk, len(pieces))
	for i, p := range pieces {
		meta := chunkMeta(attrs, ds, docID, i, hash)
		if p.Parent != "" {
			meta[metaParentText], meta[metaParentSeq] = p.Parent, float64(p.ParentSeq)
		}
		chunks[i] = Chunk{KBID: kb.ID, DSID: ds.ID, DocID: docID, Seq: i, Text: p.Text, Vector: vecs[i], Meta: meta}
	}
	return chunks, nil
}

// embed embeds texts in batches with the knowledge base's model,
// returning unit vectors.
func (s *Service) embed(ctx context.Context, kb *KnowledgeBase, texts []string, inputType string) ([][]float32, error) {
	e, model, _, err := s.opts.Models.Embedder(kb.EmbeddingModelARN)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += s.opts.EmbedBatch {
		batch := texts[start:min(start+s.opts.EmbedBatch, len(texts))]
		resp, err := e.Embed(ctx, &provider.EmbedRequest{Model: model, Texts: batch, Dimensions: kb.Dimensions, Normalize: true, InputType: inputType})
		if err != nil {
			return nil, fmt.Errorf("embedding: %w", err)
		}
		if len(resp.Vectors) != len(batch) {
			return nil, fmt.Errorf("embedding: %d vectors for %d texts", len(resp.Vectors), len(batch))
		}
		for _, v := range resp.Vectors {
			if kb.Dimensions != 0 && len(v) != kb.Dimensions {
				return nil, fmt.Errorf("embedding: %d dimensions, want %d", len(v), kb.Dimensions)
			}
			vector.Normalize(v)
			out = append(out, v)
		}
	}
	return out, nil
}
