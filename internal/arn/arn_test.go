package arn

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outcrop/outcrop/internal/fault"
)

func TestParseModelID(t *testing.T) {
	tests := []struct {
		in   string
		want ModelRef
		bad  bool
	}{
		{in: "amazon.titan-text-express-v1", want: ModelRef{Kind: FoundationModel, ID: "amazon.titan-text-express-v1"}},
		{in: "anthropic.claude-3-haiku-20240307-v1:0", want: ModelRef{Kind: FoundationModel, ID: "anthropic.claude-3-haiku-20240307-v1:0"}},
		{in: "us.anthropic.claude-3-5-sonnet-20241022-v2:0", want: ModelRef{Kind: InferenceProfile, ID: "us.anthropic.claude-3-5-sonnet-20241022-v2:0"}},
		{in: "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
			want: ModelRef{Kind: FoundationModel, ID: "amazon.titan-embed-text-v2:0", Region: "us-east-1", IsARN: true}},
		{in: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0",
			want: ModelRef{Kind: InferenceProfile, ID: "us.meta.llama3-1-8b-instruct-v1:0", Region: "us-east-1", AccountID: "123456789012", IsARN: true}},
		{in: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
			want: ModelRef{Kind: ApplicationInferenceProfile, ID: "abc123", Region: "us-east-1", AccountID: "123456789012", IsARN: true}},
		{in: "", bad: true},
		{in: "model with space", bad: true},
		{in: "arn:aws:s3:::bucket/key", bad: true},
		{in: "arn:aws:bedrock:us-east-1::foundation-model", bad: true},
		{in: "arn:aws:bedrock:us-east-1::knowledge-base/x", bad: true},
		{in: strings.Repeat("a", MaxModelIDLen+1), bad: true},
	}
	for _, tt := range tests {
		got, err := ParseModelID(tt.in)
		if tt.bad {
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("ParseModelID(%q) error = %v, want Invalid", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseModelID(%q) error = %v", tt.in, err)
			continue
		}
		tt.want.Raw = tt.in
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseModelID(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseModelID(f *testing.F) {
	f.Add("amazon.titan-text-express-v1")
	f.Add("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x:0")
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseModelID(s)
		if err == nil && ref.ID == "" {
			t.Fatalf("ParseModelID(%q) returned empty ID without error", s)
		}
	})
}
