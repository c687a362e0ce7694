package server_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bt "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestS3Buckets configures a bucket on an S3-compatible store (an
// in-process S3 server speaking the S3 REST protocol, reached through
// gocloud.dev's s3blob and the AWS SDK) and has invocation logging write
// there: the sealed records are objects in that store, not files in the
// data directory, and read back whole.
func TestS3Buckets(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDS3TEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3-test-secret")
	mem := s3mem.New()
	if err := mem.CreateBucket("audit-logs"); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(mem).Server())
	defer fake.Close()
	url := "s3://audit-logs?endpoint=" + fake.URL + "&use_path_style=true&region=us-east-1&disable_https=true"
	srv := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) {
		c.Buckets = map[string]string{"audit-logs": url}
	}})
	ctx := context.Background()
	cfg := &bt.LoggingConfig{S3Config: &bt.S3Config{BucketName: aws.String("audit-logs"), KeyPrefix: aws.String("bedrock")},
		TextDataDeliveryEnabled: aws.Bool(true)}
	if _, err := bedrockClient(srv, srv.Key.ID, srv.Key.Secret).PutModelInvocationLoggingConfiguration(ctx,
		&bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	if _, err := runtimeClient(srv, srv.Key.ID, srv.Key.Secret).Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(echoModel), Messages: userText("to the object store")}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Srv.FlushInvocationLog(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keeper, err := invlog.LocalKeeper(srv.Config.DataDir + "/invocation-logs.key")
	if err != nil {
		t.Fatal(err)
	}
	it := b.List(&blob.ListOptions{Prefix: "bedrock/"})
	n := 0
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			break
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := invlog.ReadRecords(ctx, keeper, data)
		if err != nil {
			t.Fatalf("%s: %v", obj.Key, err)
		}
		for _, r := range recs {
			if strings.Contains(string(r.Input.InputBodyJSON), "to the object store") {
				n++
			}
		}
	}
	if n != 1 {
		t.Fatalf("records in the S3 bucket with the prompt = %d, want 1", n)
	}
}
