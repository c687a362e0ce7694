package invlog_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/secrets/localsecrets"

	"github.com/outcrop/outcrop/internal/invlog"
)

func TestDeliverySizeAndRotation(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	key, _ := localsecrets.NewRandomKey()
	keeper := localsecrets.NewKeeper(key)
	l, err := invlog.Open(invlog.Options{
		Dir: filepath.Join(root, "invlog"), Keeper: keeper, AccountID: "123456789012",
		OpenBucket: func(_ context.Context, name string) (*blob.Bucket, error) {
			return fileblob.OpenBucket(filepath.Join(root, "buckets", name), &fileblob.Options{CreateDir: true})
		},
		MaxInline: 200, RotateBytes: 1, // every record its own object
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	on, off := true, false
	if err := l.PutConfig(ctx, &invlog.Config{S3Config: &invlog.S3Config{BucketName: "logs", KeyPrefix: "p"},
		TextDataDeliveryEnabled: &on, ImageDataDeliveryEnabled: &off, EmbeddingDataDeliveryEnabled: &off}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	big := `{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("long-secret ", 40) + `"}]}]}`
	l.Record(&invlog.Entry{Time: now, RequestID: "r-image", Operation: "Converse", ModelID: "m", Region: "us-east-1",
		Input:  []byte(`{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo"}}},{"text":"what?"}]}]}`),
		Output: []byte(`{"output":{"message":{"content":[{"text":"a cat"}]}}}`), InputTokens: 3, OutputTokens: 2})
	l.Record(&invlog.Entry{Time: now, RequestID: "r-embed", Operation: "InvokeModel", ModelID: "e", Region: "us-east-1", Embedding: true,
		Input: []byte(`{"inputText":"hi"}`), Output: []byte(`{"embedding":[0.1,0.2]}`)})
	l.Record(&invlog.Entry{Time: now, RequestID: "r-big", Operation: "Converse", ModelID: "m", Region: "us-east-1",
		Input: []byte(big), Output: []byte(`{}`)})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs := map[string]invlog.Record{}
	objects, data := 0, 0
	filepath.WalkDir(filepath.Join(root, "buckets", "logs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".attrs") { // fileblob's attribute files
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("long-secret")) || bytes.Contains(b, []byte("a cat")) {
			t.Errorf("%s holds plaintext", p)
		}
		switch {
		case strings.Contains(p, "/data/"):
			data++
			plain, err := invlog.Unseal(ctx, keeper, b)
			if err != nil || string(plain) != big {
				t.Errorf("large body object: %v %q", err, plain)
			}
		case strings.HasSuffix(p, ".json.gz.enc"):
			objects++
			rs, err := invlog.ReadRecords(ctx, keeper, b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				recs[r.RequestID] = r
			}
			if !strings.Contains(filepath.ToSlash(p), "/p/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/") {
				t.Errorf("object key %s", p)
			}
		}
		return nil
	})
	if objects != 3 || data != 1 || len(recs) != 3 {
		t.Fatalf("objects %d, data %d, records %d", objects, data, len(recs))
	}
	img := recs["r-image"]
	if strings.Contains(string(img.Input.InputBodyJSON), "iVBORw0KGgo") || !strings.Contains(string(img.Input.InputBodyJSON), "what?") ||
		!strings.Contains(string(img.Output.OutputBodyJSON), "a cat") {
		t.Errorf("image off: %s / %s", img.Input.InputBodyJSON, img.Output.OutputBodyJSON)
	}
	if e := recs["r-embed"]; e.Output.OutputBodyJSON != nil || !strings.Contains(string(e.Input.InputBodyJSON), "hi") {
		t.Errorf("embedding off: %+v", e)
	}
	b := recs["r-big"]
	if b.Input.InputBodyJSON != nil || !strings.HasPrefix(b.Input.InputBodyS3Path, "s3://logs/p/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/data/2026/12/03/14/r-big_input.json") {
		t.Errorf("large body: %+v", b.Input)
	}

	// Text off: bodies are left out, token counts stay.
	if err := l.PutConfig(ctx, &invlog.Config{S3Config: &invlog.S3Config{BucketName: "logs2"}}); err != nil {
		t.Fatal(err)
	}
	l.Record(&invlog.Entry{Time: now, RequestID: "r-text", Operation: "Converse", Input: []byte(`{"a":1}`), Output: []byte(`{"b":2}`), InputTokens: 5})
	l.Flush(ctx)
	var got []invlog.Record
	filepath.WalkDir(filepath.Join(root, "buckets", "logs2"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".attrs") {
			b, _ := os.ReadFile(p)
			rs, _ := invlog.ReadRecords(ctx, keeper, b)
			got = append(got, rs...)
		}
		return err
	})
	if len(got) != 1 || got[0].Input.InputBodyJSON != nil || got[0].Output.OutputBodyJSON != nil || got[0].Input.InputTokenCount != 5 {
		t.Errorf("text off: %+v", got)
	}
	// Tampering is detected.
	sealed, _ := invlog.Seal(ctx, keeper, []byte("x"))
	sealed[len(sealed)-1] ^= 1
	if _, err := invlog.Unseal(ctx, keeper, sealed); err == nil {
		t.Error("a modified object opened")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []invlog.Config{
		{},
		{S3Config: &invlog.S3Config{BucketName: "UPPER"}},
		{CloudWatchConfig: &invlog.CloudWatchConfig{LogGroupName: "g", RoleArn: "not-a-role"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	ok := invlog.Config{CloudWatchConfig: &invlog.CloudWatchConfig{LogGroupName: "/outcrop/invocations", RoleArn: "arn:aws:iam::123456789012:role/logs"}}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}
