package openaiapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

func intp(v int) *int { return &v }

func TestImageCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   ImageRequest
		want *provider.ImageRequest
	}{
		{"defaults", ImageRequest{Model: "m", Prompt: "a cat"},
			&provider.ImageRequest{Prompt: "a cat", Count: 1, Format: "png"}},
		{"dall-e-3 style", ImageRequest{Model: "m", Prompt: "a cat", N: intp(3), Size: "1792x1024", Quality: "hd", Style: "vivid", ResponseFormat: "url"},
			&provider.ImageRequest{Prompt: "a cat", Count: 3, Width: 1792, Height: 1024, Quality: "high", Style: "vivid", Format: "png"}},
		{"gpt-image style", ImageRequest{Model: "m", Prompt: "a cat", Size: "auto", Quality: "medium", OutputFormat: "jpeg", Background: "opaque"},
			&provider.ImageRequest{Prompt: "a cat", Count: 1, Quality: "standard", Format: "jpeg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Canonical() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImageCanonicalErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    ImageRequest
		param string
	}{
		{"no model", ImageRequest{Prompt: "x"}, "model"},
		{"no prompt", ImageRequest{Model: "m", Prompt: " "}, "prompt"},
		{"n zero", ImageRequest{Model: "m", Prompt: "x", N: intp(0)}, "n"},
		{"n eleven", ImageRequest{Model: "m", Prompt: "x", N: intp(11)}, "n"},
		{"size words", ImageRequest{Model: "m", Prompt: "x", Size: "large"}, "size"},
		{"size zero", ImageRequest{Model: "m", Prompt: "x", Size: "0x512"}, "size"},
		{"quality", ImageRequest{Model: "m", Prompt: "x", Quality: "ultra"}, "quality"},
		{"style", ImageRequest{Model: "m", Prompt: "x", Style: "anime"}, "style"},
		{"response_format", ImageRequest{Model: "m", Prompt: "x", ResponseFormat: "file"}, "response_format"},
		{"webp", ImageRequest{Model: "m", Prompt: "x", OutputFormat: "webp"}, "output_format"},
		{"transparent", ImageRequest{Model: "m", Prompt: "x", Background: "transparent"}, "background"},
		{"stream", ImageRequest{Model: "m", Prompt: "x", Stream: true}, "stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Canonical()
			if fault.KindOf(err) != fault.Invalid || dialect.FieldOf(err) != tt.param {
				t.Errorf("Canonical() = %v (param %q), want Invalid about %q", err, dialect.FieldOf(err), tt.param)
			}
		})
	}
}

// FuzzImageRequest checks that any body either maps to a canonical image
// request or fails as a client error.
func FuzzImageRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","prompt":"a cat"}`,
		`{"model":"m","prompt":"a cat","n":3,"size":"1792x1024","quality":"hd","style":"vivid","response_format":"url"}`,
		`{"model":"m","prompt":"x","size":"0x-1","output_format":"webp","background":"transparent"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ir ImageRequest
		if err := dialect.DecodeJSON(b, &ir); err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("DecodeJSON(%q): %v", b, err)
			}
			return
		}
		req, err := ir.Canonical()
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("Canonical(%q) error kind %v: %v", b, fault.KindOf(err), err)
			}
			return
		}
		if req.Count < 1 || req.Count > maxImages || req.Width < 0 || req.Height < 0 || (req.Format != "png" && req.Format != "jpeg") {
			t.Fatalf("Canonical(%q) = %+v", b, req)
		}
	})
}
