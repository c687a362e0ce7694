package invlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/secrets"
)

// Record is one line of a log object: Bedrock's invocation-log record.
type Record struct {
	SchemaType    string   `json:"schemaType"`    // "ModelInvocationLog"
	SchemaVersion string   `json:"schemaVersion"` // "1.0"
	Timestamp     string   `json:"timestamp"`     // RFC 3339, UTC
	AccountID     string   `json:"accountId"`
	Identity      Identity `json:"identity"`
	Region        string   `json:"region"`
	RequestID     string   `json:"requestId"`
	Operation     string   `json:"operation"`
	ModelID       string   `json:"modelId"`
	ErrorCode     string   `json:"errorCode,omitempty"`
	Input         Input    `json:"input"`
	Output        Output   `json:"output"`
}

// Identity is the caller.
type Identity struct {
	ARN string `json:"arn"`
}

// Input is the request half of a record.
type Input struct {
	InputContentType string          `json:"inputContentType,omitempty"`
	InputBodyJSON    json.RawMessage `json:"inputBodyJson,omitempty"`
	InputBodyS3Path  string          `json:"inputBodyS3Path,omitempty"`
	InputTokenCount  int             `json:"inputTokenCount"`
}

// Output is the response half of a record.
type Output struct {
	OutputContentType string          `json:"outputContentType,omitempty"`
	OutputBodyJSON    json.RawMessage `json:"outputBodyJson,omitempty"`
	OutputBodyS3Path  string          `json:"outputBodyS3Path,omitempty"`
	OutputTokenCount  int             `json:"outputTokenCount"`
}

// dest is where records go: a bucket and key prefix, and where large
// bodies go ("" bucket: dropped).
type dest struct {
	kind      string // "s3" or "cloudwatch"
	name      string // bucket name or log group
	prefix    string
	large     *S3Config // large-body destination
	recordsIn string    // "s3" or local directory for log groups
}

func (d dest) id() string { return d.kind + ":" + d.name + ":" + d.prefix }

type batch struct {
	d      dest
	region string
	buf    bytes.Buffer
	opened time.Time
}

func (l *Logger) run() {
	defer l.wg.Done()
	w := &writer{l: l, batches: map[string]*batch{}, buckets: map[string]*blob.Bucket{}}
	defer w.closeBuckets()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e := <-l.queue:
			w.add(e)
		case <-tick.C:
			w.rotate(false)
		case ch := <-l.flush:
			for n := len(l.queue); n > 0; n-- {
				w.add(<-l.queue)
			}
			ch <- w.rotate(true)
		case <-l.done:
			for n := len(l.queue); n > 0; n-- {
				w.add(<-l.queue)
			}
			w.rotate(true)
			return
		}
	}
}

type writer struct {
	l       *Logger
	batches map[string]*batch
	buckets map[string]*blob.Bucket
}

func (w *writer) closeBuckets() {
	for _, b := range w.buckets {
		b.Close()
	}
}

func (w *writer) dests() []dest {
	w.l.mu.Lock()
	c := w.l.cfg
	w.l.mu.Unlock()
	if c == nil {
		return nil
	}
	var ds []dest
	if s := c.S3Config; s != nil {
		ds = append(ds, dest{kind: "s3", name: s.BucketName, prefix: s.KeyPrefix, large: s})
	}
	if cw := c.CloudWatchConfig; cw != nil {
		ds = append(ds, dest{kind: "cloudwatch", name: cw.LogGroupName, large: cw.LargeDataDeliveryS3Config})
	}
	return ds
}

func (w *writer) config() Config {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.cfg == nil {
		return Config{}
	}
	return *w.l.cfg
}

func (w *writer) add(e *Entry) {
	ctx := context.Background()
	cfg := w.config()
	for _, d := range w.dests() {
		rec := w.record(ctx, e, &cfg, d)
		line, err := json.Marshal(rec)
		if err != nil {
			w.l.opts.Logger.Error("invocation log record", "request_id", e.RequestID, "err", err)
			continue
		}
		b := w.batches[d.id()]
		if b == nil {
			b = &batch{d: d, region: e.Region, opened: w.l.opts.Now()}
			w.batches[d.id()] = b
		}
		b.buf.Write(line)
		b.buf.WriteByte('\n')
		if b.buf.Len() >= w.l.opts.RotateBytes {
			w.seal(ctx, b)
		}
	}
}

// rotate writes the batches that are old enough, or all of them.
func (w *writer) rotate(all bool) error {
	var errs []error
	now := w.l.opts.Now()
	for _, b := range w.batches {
		if all || now.Sub(b.opened) >= w.l.opts.RotateEvery {
			errs = append(errs, w.seal(context.Background(), b))
		}
	}
	return errors.Join(errs...)
}

func (w *writer) seal(ctx context.Context, b *batch) error {
	delete(w.batches, b.d.id())
	if b.buf.Len() == 0 {
		return nil
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b.buf.Bytes())
	zw.Close()
	t := b.opened.UTC()
	key := path.Join(b.d.prefix, "AWSLogs", w.l.opts.AccountID, "BedrockModelInvocationLogs", b.region,
		t.Format("2006/01/02/15"), fmt.Sprintf("%s_%s.json.gz.enc", t.Format("20060102T150405Z"), randHex(8)))
	err := w.put(ctx, b.d, key, gz.Bytes())
	if err != nil {
		w.l.opts.Logger.Error("invocation log write failed", "destination", b.d.id(), "err", err)
	}
	return err
}

// put seals data and writes it under key in d's bucket or log group.
func (w *writer) put(ctx context.Context, d dest, key string, data []byte) error {
	bk, err := w.bucket(ctx, d.kind, d.name)
	if err != nil {
		return err
	}
	sealed, err := Seal(ctx, w.l.opts.Keeper, data)
	if err != nil {
		return err
	}
	return bk.WriteAll(ctx, key, sealed, nil)
}

func (w *writer) bucket(ctx context.Context, kind, name string) (*blob.Bucket, error) {
	id := kind + ":" + name
	if b := w.buckets[id]; b != nil {
		return b, nil
	}
	var b *blob.Bucket
	var err error
	if kind == "s3" {
		b, err = w.l.opts.OpenBucket(ctx, name)
	} else {
		dir := filepath.Join(w.l.opts.Dir, "cloudwatch", url.PathEscape(name))
		b, err = fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true})
	}
	if err != nil {
		return nil, err
	}
	w.buckets[id] = b
	return b, nil
}

// record builds e's record for d, applying the delivery settings: text,
// image and embedding data are kept only when enabled; bodies larger than
// MaxInline go to their own object in the large-data bucket and the record
// carries its s3:// path; bodies larger than MaxBody, or large bodies with
// nowhere to go, are left out.
func (w *writer) record(ctx context.Context, e *Entry, c *Config, d dest) *Record {
	r := &Record{
		SchemaType: "ModelInvocationLog", SchemaVersion: "1.0",
		Timestamp: e.Time.UTC().Format(time.RFC3339),
		AccountID: w.l.opts.AccountID, Identity: Identity{ARN: e.IdentityARN}, Region: e.Region,
		RequestID: e.RequestID, Operation: e.Operation, ModelID: e.ModelID, ErrorCode: e.ErrorCode,
		Input:  Input{InputContentType: e.InputType, InputTokenCount: e.InputTokens},
		Output: Output{OutputContentType: e.OutputType, OutputTokenCount: e.OutputTokens},
	}
	out := e.Output
	if e.Chunks != nil {
		out = joinArray(e.Chunks)
	}
	text, image := on(c.TextDataDeliveryEnabled), on(c.ImageDataDeliveryEnabled)
	in := filterBody(e.Input, text, image)
	if e.Embedding {
		if on(c.EmbeddingDataDeliveryEnabled) {
			out = filterBody(out, true, image)
		} else {
			out = nil
		}
	} else {
		out = filterBody(out, text, image)
	}
	r.Input.InputBodyJSON, r.Input.InputBodyS3Path = w.body(ctx, e, d, "input", in)
	r.Output.OutputBodyJSON, r.Output.OutputBodyS3Path = w.body(ctx, e, d, "output", out)
	return r
}

func (w *writer) body(ctx context.Context, e *Entry, d dest, half string, b []byte) (json.RawMessage, string) {
	if len(b) == 0 || len(b) > w.l.opts.MaxBody {
		return nil, ""
	}
	if len(b) <= w.l.opts.MaxInline {
		return json.RawMessage(b), ""
	}
	if d.large == nil {
		return nil, ""
	}
	t := e.Time.UTC()
	key := path.Join(d.large.KeyPrefix, "AWSLogs", w.l.opts.AccountID, "BedrockModelInvocationLogs", e.Region,
		"data", t.Format("2006/01/02/15"), e.RequestID+"_"+half+".json.enc")
	if err := w.put(ctx, dest{kind: "s3", name: d.large.BucketName}, key, b); err != nil {
		w.l.opts.Logger.Error("invocation log large body", "request_id", e.RequestID, "err", err)
		return nil, ""
	}
	return nil, "s3://" + d.large.BucketName + "/" + key
}

func joinArray(items [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// filterBody applies the text and image settings to a JSON body: with
// text off the body is left out; with images off, image data (Converse
// image blocks, and the images, inputImage and SDXL artifacts' base64
// members of InvokeModel bodies) is replaced by a placeholder.
func filterBody(b []byte, text, image bool) []byte {
	if len(b) == 0 || !text || !json.Valid(b) {
		return nil
	}
	if image {
		return b
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil
	}
	if !scrubImages(v) {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

const imageOmitted = "<image data not delivered: imageDataDeliveryEnabled is false>"

func scrubImages(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			switch k {
			case "image", "images", "inputImage", "maskImage", "conditionImage", "base64":
				x[k] = imageOmitted
				changed = true
			default:
				changed = scrubImages(c) || changed
			}
		}
	case []any:
		for _, c := range x {
			changed = scrubImages(c) || changed
		}
	}
	return changed
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// magic starts every sealed object.
const magic = "OUTCROP-ENVELOPE-1\n"

// Seal encrypts data with a fresh AES-256-GCM data key and stores the key
// wrapped by keeper: magic, the wrapped key's length (4 bytes, big
// endian), the wrapped key, the 12-byte nonce, the ciphertext.
func Seal(ctx context.Context, keeper *secrets.Keeper, data []byte) ([]byte, error) {
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	wrapped, err := keeper.Encrypt(ctx, dek)
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(magic)+4+len(wrapped)+len(nonce)+len(data)+gcm.Overhead())
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(wrapped)))
	out = append(out, wrapped...)
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, data, []byte(magic)), nil
}

// Unseal reverses Seal.
func Unseal(ctx context.Context, keeper *secrets.Keeper, sealed []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, []byte(magic)) || len(sealed) < len(magic)+4 {
		return nil, errors.New("not a sealed invocation log object")
	}
	p := sealed[len(magic):]
	n := int(binary.BigEndian.Uint32(p))
	p = p[4:]
	if n > len(p) {
		return nil, errors.New("truncated sealed object")
	}
	dek, err := keeper.Decrypt(ctx, p[:n])
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	p = p[n:]
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(p) < gcm.NonceSize() {
		return nil, errors.New("truncated sealed object")
	}
	return gcm.Open(nil, p[:gcm.NonceSize()], p[gcm.NonceSize():], []byte(magic))
}

// ReadRecords decrypts and decodes one records object.
func ReadRecords(ctx context.Context, keeper *secrets.Keeper, sealed []byte) ([]Record, error) {
	gz, err := Unseal(ctx, keeper, sealed)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	var out []Record
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	return out, nil
}
