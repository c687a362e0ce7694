package dialect

import (
	"testing"

	"github.com/outcrop/outcrop/internal/catalog"
)

func TestVendorModel(t *testing.T) {
	var models []catalog.Model
	for _, id := range []string{
		"anthropic.claude-3-haiku-20240307-v1:0",
		"anthropic.claude-3-5-sonnet-20240620-v1:0",
		"anthropic.claude-3-5-sonnet-20241022-v2:0",
		"anthropic.claude-haiku-4-5-20251001-v1:0",
		"openai.gpt-oss-20b-1:0",
		"meta.llama3-8b-instruct-v1:0",
		"amazon.titan-embed-text-v2:0",
		"outcrop.smollm2-135m-instruct",
	} {
		models = append(models, catalog.Model{ID: id})
	}
	for _, tc := range []struct{ name, want string }{
		{"claude-3-haiku-20240307", "anthropic.claude-3-haiku-20240307-v1:0"},
		{"claude-3-5-sonnet-20241022", "anthropic.claude-3-5-sonnet-20241022-v2:0"},
		{"claude-haiku-4-5-20251001", "anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0"}, // the alias without its date
		{"claude-3-5-sonnet", ""},                                        // two dated models: ambiguous
		{"claude-3-haiku", "anthropic.claude-3-haiku-20240307-v1:0"},
		{"gpt-oss-20b", "openai.gpt-oss-20b-1:0"},
		{"llama3-8b-instruct", "meta.llama3-8b-instruct-v1:0"},
		{"titan-embed-text", "amazon.titan-embed-text-v2:0"},
		{"smollm2-135m-instruct", "outcrop.smollm2-135m-instruct"},
		{"claude-sonnet-5", ""},
		{"claude", ""},
		{"anthropic.claude-3-haiku", ""}, // a Bedrock-style ID is looked up as such, never guessed
		{"", ""},
	} {
		got := ""
		if m := vendorModel(models, tc.name); m != nil {
			got = m.ID
		}
		if got != tc.want {
			t.Errorf("vendorModel(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
