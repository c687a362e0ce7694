package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bt "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"gocloud.dev/secrets/localsecrets"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// readInvocationLogs decrypts every records object under dir.
func readInvocationLogs(t *testing.T, srv *outcroptest.Server, dir string) []invlog.Record {
	t.Helper()
	if err := srv.Srv.FlushInvocationLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	keeper, err := invlog.LocalKeeper(filepath.Join(srv.Config.DataDir, "invocation-logs.key"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []invlog.Record
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json.gz.enc") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rs, err := invlog.ReadRecords(context.Background(), keeper, b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		recs = append(recs, rs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Operation < recs[j].Operation })
	return recs
}

func TestInvocationLogging(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	bc := bedrockClient(srv, srv.Key.ID, srv.Key.Secret)
	bucket := filepath.Join(srv.Config.DataDir, "buckets", "model-logs")
	prompt := "invlog-canary-" + time.Now().Format("150405.000000000") + "-quokka-persimmon"

	// Disabled by default: Get has no configuration and nothing is written.
	got, err := bc.GetModelInvocationLoggingConfiguration(ctx, &bedrock.GetModelInvocationLoggingConfigurationInput{})
	if err != nil || got.LoggingConfig != nil {
		t.Fatalf("default config = %+v, %v; want none", got, err)
	}
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("off " + prompt)}); err != nil {
		t.Fatal(err)
	}
	if recs := readInvocationLogs(t, srv, bucket); len(recs) != 0 {
		t.Fatalf("logging off wrote %d records", len(recs))
	}

	// A bad configuration is refused with Bedrock's validation error.
	_, err = bc.PutModelInvocationLoggingConfiguration(ctx, &bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: &bt.LoggingConfig{}})
	if code, _ := apiError(t, err); code != "ValidationException" {
		t.Fatalf("empty config: %s", code)
	}
	cfg := &bt.LoggingConfig{
		S3Config:                &bt.S3Config{BucketName: aws.String("model-logs"), KeyPrefix: aws.String("outcrop")},
		TextDataDeliveryEnabled: aws.Bool(true), ImageDataDeliveryEnabled: aws.Bool(true), EmbeddingDataDeliveryEnabled: aws.Bool(false),
	}
	if _, err := bc.PutModelInvocationLoggingConfiguration(ctx, &bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	got, err = bc.GetModelInvocationLoggingConfiguration(ctx, &bedrock.GetModelInvocationLoggingConfigurationInput{})
	if err != nil || got.LoggingConfig == nil || aws.ToString(got.LoggingConfig.S3Config.BucketName) != "model-logs" ||
		!aws.ToBool(got.LoggingConfig.TextDataDeliveryEnabled) || aws.ToBool(got.LoggingConfig.EmbeddingDataDeliveryEnabled) {
		t.Fatalf("config = %+v, %v", got, err)
	}

	conv, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("converse " + prompt)})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(echoModel), Messages: userText("stream " + prompt)})
	if err != nil {
		t.Fatal(err)
	}
	for range stream.GetStream().Events() {
	}
	stream.GetStream().Close()
	body := `{"messages":[{"role":"user","content":[{"text":"invoke ` + prompt + `"}]}]}`
	inv, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(echoModel), ContentType: aws.String("application/json"), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	recs := readInvocationLogs(t, srv, bucket)
	byOp := map[string][]invlog.Record{}
	for _, r := range recs {
		byOp[r.Operation] = append(byOp[r.Operation], r)
	}
	if len(byOp["Converse"]) < 1 || len(byOp["ConverseStream"]) != 1 || len(byOp["InvokeModel"]) != 1 {
		t.Fatalf("records by operation: %v", byOp)
	}
	rootARN := "arn:aws:iam::" + account + ":root"
	for _, r := range recs {
		if r.SchemaType != "ModelInvocationLog" || r.SchemaVersion != "1.0" || r.AccountID != account || r.Identity.ARN != rootARN ||
			r.Region != srv.Config.Region || r.ModelID != echoModel || len(r.RequestID) != 36 {
			t.Errorf("record header: %+v", r)
		}
		if _, err := time.Parse(time.RFC3339, r.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", r.Timestamp, err)
		}
		if r.ErrorCode != "" {
			continue
		}
		if !strings.Contains(string(r.Input.InputBodyJSON), prompt) || !strings.Contains(string(r.Output.OutputBodyJSON), prompt) {
			t.Errorf("%s bodies do not hold the prompt: in %s out %s", r.Operation, r.Input.InputBodyJSON, r.Output.OutputBodyJSON)
		}
		if r.Input.InputTokenCount <= 0 || r.Output.OutputTokenCount <= 0 {
			t.Errorf("%s token counts %d/%d", r.Operation, r.Input.InputTokenCount, r.Output.OutputTokenCount)
		}
	}
	c := byOp["Converse"][0]
	if c.Input.InputTokenCount != int(*conv.Usage.InputTokens) || c.Output.OutputTokenCount != int(*conv.Usage.OutputTokens) {
		t.Errorf("Converse tokens %d/%d, response says %d/%d", c.Input.InputTokenCount, c.Output.OutputTokenCount, *conv.Usage.InputTokens, *conv.Usage.OutputTokens)
	}
	var in any
	if err := json.Unmarshal(byOp["InvokeModel"][0].Input.InputBodyJSON, &in); err != nil {
		t.Fatal(err)
	}
	if want := mustJSON(t, body); !jsonEqual(in, want) {
		t.Errorf("InvokeModel input body %v, want %v", in, want)
	}
	var out any
	if err := json.Unmarshal(byOp["InvokeModel"][0].Output.OutputBodyJSON, &out); err != nil || !jsonEqual(out, mustJSON(t, string(inv.Body))) {
		t.Errorf("InvokeModel output body %s, want %s (%v)", byOp["InvokeModel"][0].Output.OutputBodyJSON, inv.Body, err)
	}
	var events []map[string]json.RawMessage
	if err := json.Unmarshal(byOp["ConverseStream"][0].Output.OutputBodyJSON, &events); err != nil || len(events) < 3 {
		t.Errorf("ConverseStream output: %s (%v)", byOp["ConverseStream"][0].Output.OutputBodyJSON, err)
	}

	// Encrypted at rest: the prompt is nowhere in the data directory.
	grepDataDir(t, srv.Config.DataDir, "prompt", prompt)

	// Deleting the configuration stops logging.
	if _, err := bc.DeleteModelInvocationLoggingConfiguration(ctx, &bedrock.DeleteModelInvocationLoggingConfigurationInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("after " + prompt)}); err != nil {
		t.Fatal(err)
	}
	if n := len(readInvocationLogs(t, srv, bucket)); n != len(recs) {
		t.Fatalf("after delete: %d records, want %d", n, len(recs))
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A keeper URL from the configuration wraps the data keys instead of the
// local key file.
func TestInvocationLogKeeperURL(t *testing.T) {
	key, err := localsecrets.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	url := "base64key://" + base64.URLEncoding.EncodeToString(key[:])
	srv := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) { c.InvocationLogging.Keeper = url }})
	ctx := context.Background()
	cfg := &bt.LoggingConfig{S3Config: &bt.S3Config{BucketName: aws.String("kms-logs")}, TextDataDeliveryEnabled: aws.Bool(true)}
	if _, err := bedrockClient(srv, srv.Key.ID, srv.Key.Secret).PutModelInvocationLoggingConfiguration(ctx,
		&bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	if _, err := runtimeClient(srv, srv.Key.ID, srv.Key.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("keeper")}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Srv.FlushInvocationLog(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(srv.Config.DataDir, "invocation-logs.key")); !os.IsNotExist(err) {
		t.Errorf("a local key was made although a keeper is configured: %v", err)
	}
	keeper := localsecrets.NewKeeper(key)
	n := 0
	filepath.WalkDir(filepath.Join(srv.Config.DataDir, "buckets", "kms-logs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json.gz.enc") {
			return err
		}
		b, _ := os.ReadFile(p)
		recs, err := invlog.ReadRecords(ctx, keeper, b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		n += len(recs)
		return nil
	})
	if n != 1 {
		t.Fatalf("records = %d, want 1", n)
	}
}
