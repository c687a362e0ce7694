package server

import "testing"

func TestDialectSpanName(t *testing.T) {
	for _, tc := range []struct{ svc, pattern, want string }{
		{"openai", "POST /v1/chat/completions", "openai.ChatCompletions"},
		{"openai", "POST /v1/completions", "openai.Completions"},
		{"openai", "POST /v1/embeddings", "openai.Embeddings"},
		{"openai", "POST /v1/images/generations", "openai.ImagesGenerations"},
		{"openai", "POST /v1/responses", "openai.Responses"},
		{"openai", "GET /v1/models", "openai.ListModels"},
		{"anthropic", "GET /v1/models/{id...}", "anthropic.GetModel"},
		{"anthropic", "POST /v1/messages", "anthropic.Messages"},
		{"anthropic", "POST /v1/messages/count_tokens", "anthropic.MessagesCountTokens"},
		{"openai", "", ""},
	} {
		if got := dialectSpanName(tc.svc, tc.pattern); got != tc.want {
			t.Errorf("dialectSpanName(%q, %q) = %q, want %q", tc.svc, tc.pattern, got, tc.want)
		}
	}
}
