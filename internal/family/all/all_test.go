package all

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family"
)

func TestFamilies(t *testing.T) {
	r, err := family.NewRegistry(Families...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	want := []string{
		"ai21-j2", "ai21-jamba", "anthropic-messages", "anthropic-text",
		"cohere-command", "cohere-command-r", "cohere-embed", "converse", "deepseek",
		"meta-llama", "mistral-chat", "mistral-text", "nova",
		"stability-image", "stability-sdxl",
		"titan-embed", "titan-embed-v2", "titan-image", "titan-image-v2", "titan-text",
	}
	if diff := cmp.Diff(want, r.Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
	for _, c := range Families {
		_, chat := c.(family.ChatCodec)
		_, embed := c.(family.EmbedCodec)
		_, image := c.(family.ImageCodec)
		if n := btoi(chat) + btoi(embed) + btoi(image); n != 1 {
			t.Errorf("%s: ChatCodec=%v EmbedCodec=%v ImageCodec=%v, want exactly one", c.Name(), chat, embed, image)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
